"""Trend alerts under ordinary month-to-month swings: FDR and recall against an oracle and a naive test.

Run: PYTHONPATH=. python benchmarks/bench_trends.py [--runs 200] [--seed 11]

Each run simulates GROUPS groups (cities, say) over nine months (six baseline months, then the
long window of three; the last month is the short window). Every group has its own level (85%
give or take 3 points) and swings around it month to month with a standard deviation of SWING
(1.5 points); about 400 answers a month each. Planted among them:
- ONE_MONTH groups drop 8 points in the last month only;
- THREE_MONTH groups drop THREE_DROP points in each of the last three months;
- RISING groups rise 8 points over the last three months (they must never be called worse).
Three detectors see the same data: ours (swing estimated from the data), an oracle told the true
swing, and the naive test with sampling error alone (tau = 0, as a plain two-proportion test).
A discovery is a group alerted as deteriorating in either window; a false one is a group that did
not drop. It prints FDR and recall per kind of drop, each as a ratio to the oracle's, and exits
non-zero when a goal is missed.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

import numpy as np

from analysis.frame import REASON_CODES, AnswerFrame, Factor
from analysis.trends import trend_alerts

GROUPS = 60
BASELINE, LONG = 6, 3
MONTHS = BASELINE + LONG
LEVEL, LEVEL_SD = 0.85, 0.03
SWING = 0.015
PER_MONTH = 400
ONE_MONTH, THREE_MONTH, RISING = 6, 6, 6
ONE_DROP, THREE_DROP, RISE = 0.08, 0.06, 0.08
ZONE = timezone.utc
END = datetime(2026, 10, 1, tzinfo=timezone.utc)  # the nine months are January to September 2026


def simulate(rng: np.random.Generator):
    """Answers (n) and satisfied (x) per group and month, and which groups were planted how."""
    kind = np.zeros(GROUPS, np.int8)  # 0 ordinary, 1 one-month drop, 2 three-month drop, 3 rising
    order = rng.permutation(GROUPS)
    kind[order[:ONE_MONTH]] = 1
    kind[order[ONE_MONTH:ONE_MONTH + THREE_MONTH]] = 2
    kind[order[ONE_MONTH + THREE_MONTH:ONE_MONTH + THREE_MONTH + RISING]] = 3
    true = rng.normal(LEVEL, LEVEL_SD, GROUPS)[:, None] + rng.normal(0.0, SWING, (GROUPS, MONTHS))
    true[kind == 1, -1] -= ONE_DROP
    true[kind == 2, -LONG:] -= THREE_DROP
    true[kind == 3, -LONG:] += RISE
    n = rng.poisson(PER_MONTH, (GROUPS, MONTHS))
    x = rng.binomial(n, np.clip(true, 0.0, 1.0))
    return n, x, kind


def frame_of(n: np.ndarray, x: np.ndarray) -> AnswerFrame:
    """Two weighted rows per group and month (satisfied: score 1, the rest: score 4), dated mid-month."""
    groups, months = n.shape
    g = np.repeat(np.arange(groups, dtype=np.int32), months * 2)
    m = np.tile(np.repeat(np.arange(months), 2), groups)
    value = np.tile(np.array([1, 4], np.int16), groups * months)
    count = np.stack([x, n - x], axis=-1).ravel().astype(np.int64)
    at = (np.datetime64("2026-01-15T00:00:00") .astype("datetime64[M]") + m).astype("datetime64[s]") \
        + np.timedelta64(14, "D")
    levels = np.array([f"g{i:03d}" for i in range(groups)], dtype=object)
    return AnswerFrame({"city": Factor(g, levels)}, value, np.zeros((len(value), len(REASON_CODES)), bool),
                       count, answered_at=at)


def score(alerts, kind: np.ndarray) -> dict:
    """Discoveries by kind of group: deteriorations and improvements."""
    worse = np.zeros(GROUPS, bool)
    better = np.zeros(GROUPS, bool)
    for a in alerts.alerts:
        g = int(a.key[0][1:])
        worse[g] |= a.alert
        better[g] |= a.improved
    dropped = (kind == 1) | (kind == 2)
    return {"discoveries": int(worse.sum()), "false": int((worse & ~dropped).sum()),
            "one": int((worse & (kind == 1)).sum()), "three": int((worse & (kind == 2)).sum()),
            "rising_worse": int((worse & (kind == 3)).sum()), "rising_found": int((better & (kind == 3)).sum())}


def run(runs: int, seed: int) -> bool:
    rng = np.random.default_rng(seed)
    detectors = {"ours": None, "oracle": SWING, "naive": 0.0}
    totals = {name: {"fdp": [], "one": 0, "three": 0, "rising_worse": 0, "rising_found": 0} for name in detectors}
    taus = []
    for _ in range(runs):
        n, x, kind = simulate(rng)
        frame = frame_of(n, x)
        for name, tau in detectors.items():
            found = trend_alerts(frame, ["city"], zone=ZONE, end=END, baseline_months=BASELINE,
                                 long_months=LONG, tau=tau)
            if name == "ours":
                taus.append(found.allowance.tau)
            s = score(found, kind)
            t = totals[name]
            t["fdp"].append(s["false"] / s["discoveries"] if s["discoveries"] else 0.0)
            for k in ("one", "three", "rising_worse", "rising_found"):
                t[k] += s[k]
    print(f"{runs} runs x {GROUPS} groups x {MONTHS} months, ~{PER_MONTH} answers a month, true swing sd "
          f"{SWING * 100:.1f} points; planted {ONE_MONTH} one-month drops of {ONE_DROP * 100:.0f} points, "
          f"{THREE_MONTH} three-month drops of {THREE_DROP * 100:.0f}, {RISING} rising by {RISE * 100:.0f}")
    print(f"estimated swing sd: median {np.median(taus) * 100:.2f} points "
          f"(10th-90th percentile {np.percentile(taus, 10) * 100:.2f}-{np.percentile(taus, 90) * 100:.2f})")
    print(f"{'detector':<8} {'FDR':>6} {'recall 1-month':>15} {'recall 3-month':>15} {'rising as worse':>16} "
          f"{'rising found':>13}")
    figures = {}
    for name, t in totals.items():
        fdr = float(np.mean(t["fdp"]))
        one, three = t["one"] / (runs * ONE_MONTH), t["three"] / (runs * THREE_MONTH)
        figures[name] = (fdr, one, three, t["rising_worse"])
        print(f"{name:<8} {fdr:6.3f} {one:15.3f} {three:15.3f} {t['rising_worse']:16d} "
              f"{t['rising_found'] / (runs * RISING):13.3f}")
    fdr, one, three, rising = figures["ours"]
    oracle_one = figures["oracle"][1]
    ratio = one / oracle_one if oracle_one else float("nan")
    print(f"ours / oracle: one-month recall {ratio:.3f}, three-month recall "
          f"{three / figures['oracle'][2]:.3f}; naive FDR / ours {figures['naive'][0] / max(fdr, 1e-9):.1f}x")
    goals = {"FDR <= 0.10": fdr <= 0.10, "one-month recall >= 0.9 x oracle": ratio >= 0.9,
             "three-month recall >= 0.80": three >= 0.80, "no rising group called worse": rising == 0}
    for goal, met in goals.items():
        print(f"{'met   ' if met else 'MISSED'} {goal}")
    return all(goals.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    sys.exit(0 if run(args.runs, args.seed) else 1)


if __name__ == "__main__":
    main()
