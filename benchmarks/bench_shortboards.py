"""Short-board detection on simulated outlets: FDR, recall and speed.

Run: PYTHONPATH=. python benchmarks/bench_shortboards.py [--runs 50]

Part 1 plants short boards (1,500 outlets, top-2-box near 85%, 5% planted 15 points worse,
Poisson answers per outlet with mean 40, 60, 120), with and without natural spread between
outlets (logit-normal), and compares our report with a naive per-outlet p < 0.05 test and with
an "ideal" test that is told the true spread (the ceiling any method estimating it can reach).
Part 2 times a full report over 1,000,000 answers x 5,000 outlets against a per-group Python loop.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats as sps
from scipy.special import expit, logit

from analysis.frame import REASON_CODES, AnswerFrame, Factor
from analysis.shortboard import shortboard_report
from analysis.spread import spread_lower
from analysis.stats import benjamini_hochberg, hypergeom_lower

OUTLETS = 1500
BASE = 0.85
PLANTED_SHARE = 0.05
DROP = 0.15
# Natural spread between outlets: sd of the logit of their true rates. Near 85%, 0.1 is about
# 1.3 points (a little), 0.25 about 3 points (outlets genuinely differ by a few points).
SPREADS = (0.0, 0.1, 0.25)


def true_tau2(spread: float) -> float:
    """Variance of the true rates of ordinary outlets (what an ideal test would know)."""
    draws = np.random.default_rng(0).normal(0.0, spread, 1_000_000)
    return float(np.var(expit(logit(BASE) + draws))) if spread else 0.0


def simulate(rng: np.random.Generator, mean_n: float, spread: float, planted: bool):
    """Per-outlet answers (n) and satisfied counts (x), and which outlets were planted."""
    true = expit(logit(BASE) + rng.normal(0.0, spread, OUTLETS)) if spread else np.full(OUTLETS, BASE)
    is_planted = np.zeros(OUTLETS, bool)
    if planted:
        is_planted[rng.choice(OUTLETS, int(OUTLETS * PLANTED_SHARE), replace=False)] = True
        true = np.where(is_planted, true - DROP, true)
    n = rng.poisson(mean_n, OUTLETS)
    x = rng.binomial(n, true)
    return n, x, is_planted


def counts_frame(n: np.ndarray, x: np.ndarray) -> AnswerFrame:
    """Two weighted rows per outlet: its satisfied (score 1) and other (score 4) answers."""
    g = len(n)
    codes = np.repeat(np.arange(g, dtype=np.int32), 2)
    value = np.tile(np.array([1, 4], np.int16), g)
    count = np.column_stack([x, n - x]).ravel().astype(np.int64)
    levels = np.array([f"o{i:05d}" for i in range(g)], dtype=object)
    return AnswerFrame({"outlet": Factor(codes, levels)}, value,
                       np.zeros((2 * g, len(REASON_CODES)), bool), count)


def naive_flags(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per outlet one-vs-rest exact test at p < 0.05 with no multiplicity or spread allowance."""
    ok = n > 0
    out = np.zeros(len(n), bool)
    p = hypergeom_lower(x[ok], n[ok], np.full(ok.sum(), x.sum()), np.full(ok.sum(), n.sum()), mid_p=False)
    out[ok] = (p.p_value < 0.05) & (x[ok] / n[ok] < (x.sum() - x[ok]) / (n.sum() - n[ok]))
    return out


def ideal_flags(n: np.ndarray, x: np.ndarray, tau2: float) -> np.ndarray:
    """The same test given the true between-outlet spread instead of estimating it: the ceiling."""
    ok = n >= 30
    rest = (x.sum() - x[ok]) / (n.sum() - n[ok])
    p = spread_lower(x[ok], n[ok], rest, tau2)
    out = np.zeros(len(n), bool)
    out[ok] = benjamini_hochberg(p) < 0.05
    return out


def our_flags(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Outlets flagged by the report (raw view)."""
    rep = shortboard_report(counts_frame(n, x), ["outlet"], case_mix=())
    idx = [int(b.group[1:]) for b in rep.flagged]
    out = np.zeros(len(n), bool)
    out[idx] = True
    return out


def accuracy(runs: int, null_runs: int, seed: int) -> None:
    """Print FDR and recall by answers-per-outlet size, with and without natural spread."""
    rng = np.random.default_rng(seed)
    bands = [(0, 40), (40, 80), (80, 140), (140, 10 ** 9)]
    print(f"Part 1: {OUTLETS} outlets, top-2-box {BASE:.0%}, {PLANTED_SHARE:.0%} planted {DROP * 100:.0f} points "
          f"worse, {runs} runs each (FDR = flagged but not planted / flagged, pooled over runs)")
    print(f"{'spread':>7} {'mean n':>6} | {'ours FDR':>8} {'recall':>6} | {'naive FDR':>9} {'recall':>6} | "
          f"{'ideal FDR':>9} {'recall':>6} | "
          f"ours recall by n band " + " ".join(f"[{a},{b if b < 10 ** 9 else 'inf'})" for a, b in bands))
    for spread in SPREADS:
        for mean_n in (40, 60, 120):
            tot = {"of": 0, "ofp": 0, "nf": 0, "nfp": 0, "if": 0, "ifp": 0, "pl": 0}
            tau2 = true_tau2(spread)
            band_hit = np.zeros(len(bands))
            band_all = np.zeros(len(bands))
            for _ in range(runs):
                n, x, planted = simulate(rng, mean_n, spread, True)
                ours, naive, ideal = our_flags(n, x), naive_flags(n, x), ideal_flags(n, x, tau2)
                tot["if"] += ideal.sum()
                tot["ifp"] += (ideal & ~planted).sum()
                tot["of"] += ours.sum()
                tot["ofp"] += (ours & ~planted).sum()
                tot["nf"] += naive.sum()
                tot["nfp"] += (naive & ~planted).sum()
                tot["pl"] += planted.sum()
                for b, (lo, hi) in enumerate(bands):
                    sel = planted & (n >= lo) & (n < hi)
                    band_all[b] += sel.sum()
                    band_hit[b] += (ours & sel).sum()
            fdr = tot["ofp"] / max(tot["of"], 1)
            nfdr = tot["nfp"] / max(tot["nf"], 1)
            rec = (tot["of"] - tot["ofp"]) / tot["pl"]
            nrec = (tot["nf"] - tot["nfp"]) / tot["pl"]
            ifdr = tot["ifp"] / max(tot["if"], 1)
            irec = (tot["if"] - tot["ifp"]) / tot["pl"]
            by_band = " ".join(f"{h / a:8.0%}" if a else "       -" for h, a in zip(band_hit, band_all))
            print(f"{spread:7.2f} {mean_n:6d} | {fdr:8.1%} {rec:6.1%} | {nfdr:9.1%} {nrec:6.1%} | "
                  f"{ifdr:9.1%} {irec:6.1%} | {by_band}")
    print(f"Null runs (nothing planted, {null_runs} runs each): share of runs where nothing is flagged")
    for spread in SPREADS:
        for mean_n in (40, 60, 120):
            clean = naive_clean = 0
            for _ in range(null_runs):
                n, x, _ = simulate(rng, mean_n, spread, False)
                clean += not our_flags(n, x).any()
                naive_clean += not naive_flags(n, x).any()
            print(f"  spread {spread:.2f}, mean n {mean_n:3d}: ours {clean / null_runs:6.1%}   "
                  f"naive {naive_clean / null_runs:6.1%}")


def big_frame(rng: np.random.Generator, rows: int = 1_000_000, outlets: int = 5000) -> AnswerFrame:
    """One row per answer: outlet, city, channel, business type, tier, score and reasons."""
    outlet = rng.integers(0, outlets, rows).astype(np.int32)
    city_of = rng.integers(0, 100, outlets)
    quality = expit(logit(BASE) + rng.normal(0, 0.1, outlets))
    quality[rng.choice(outlets, outlets // 20, replace=False)] -= DROP
    bt = rng.integers(0, 10, rows).astype(np.int32)
    tier = rng.integers(0, 3, rows).astype(np.int32)
    p_sat = np.clip(quality[outlet] - 0.05 * (bt == 5), 0.01, 0.99)
    sat = rng.random(rows) < p_sat
    value = np.where(sat, rng.integers(1, 3, rows), rng.integers(3, 6, rows)).astype(np.int16)
    reasons = (rng.random((rows, len(REASON_CODES))) < 0.08) & ~sat[:, None]
    names = lambda prefix, k: np.array([f"{prefix}{i:04d}" for i in range(k)], dtype=object)  # noqa: E731
    return AnswerFrame(
        {
            "outlet": Factor(outlet, names("o", outlets)),
            "city": Factor(city_of[outlet].astype(np.int32), names("c", 100)),
            "channel": Factor((outlet % 5).astype(np.int32), names("ch", 5)),
            "business_type": Factor(bt, names("bt", 10)),
            "tier": Factor(tier, np.array(["gold", "silver", "standard"], dtype=object)),
        },
        value, reasons, np.ones(rows, np.int64),
    )


def python_loop(frame: AnswerFrame) -> int:
    """The same per-outlet statistics, one group at a time (mask, counts, scalar scipy tests)."""
    codes = frame.columns["outlet"].codes
    sat = frame.satisfied()
    big_n, big_x = len(frame), int(sat.sum())
    all_scores = np.bincount(frame.value, minlength=6)[1:6]
    all_reasons = frame.reasons.sum(axis=0)
    any_reason = frame.reasons.any(axis=1)
    all_w = int(any_reason.sum())
    flagged = 0
    for g in range(len(frame.columns["outlet"].levels)):
        mask = codes == g
        n, x = int(mask.sum()), int(sat[mask].sum())
        p = sps.hypergeom.cdf(x, big_n, big_x, n) - 0.5 * sps.hypergeom.pmf(x, big_n, big_x, n)
        scores = np.bincount(frame.value[mask], minlength=6)[1:6]
        rest = all_scores - scores
        below = np.cumsum(rest) - rest
        u = float((scores * (below + 0.5 * rest)).sum())
        t = scores + rest
        var = n * (big_n - n) / 12 * ((big_n + 1) - (t ** 3 - t).sum() / (big_n * (big_n - 1)))
        sps.norm.sf((u - n * (big_n - n) / 2 - 0.5) / np.sqrt(var))
        if p < 0.05 / 5000:  # reason drivers only for the short boards, as the report does
            flagged += 1
            w = int(any_reason[mask].sum())
            k = frame.reasons[mask].sum(axis=0)
            for j in range(len(k)):
                sps.hypergeom.sf(k[j] - 1, all_w, all_reasons[j], w)
    return flagged


def timing(seed: int) -> None:
    """Time the vectorised full report and the per-group loop on the same data."""
    rng = np.random.default_rng(seed)
    frame = big_frame(rng)
    shortboard_report(frame, ["outlet"])  # warm-up (imports, first-call costs)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        rep = shortboard_report(frame, ["outlet"])
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    python_loop(frame)
    loop = time.perf_counter() - t0
    print(f"Part 2: full report over {len(frame):,} answers x {len(frame.columns['outlet'].levels):,} outlets "
          f"(raw + case-mix views, Mann-Whitney, shrinkage, funnel, reason drivers): {best:.2f} s "
          f"(best of 3; {len(rep.flagged)} flagged)")
    print(f"        per-group Python loop (mask, counts, scalar scipy tests): {loop:.2f} s; "
          f"speed-up {loop / best:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--null-runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    accuracy(args.runs, args.null_runs, args.seed)
    if not args.skip_timing:
        timing(args.seed)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
