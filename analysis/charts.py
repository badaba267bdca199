"""Offline SVG charts (no CDN, no JavaScript): funnel plot, trend lines, reason Pareto.

Each function renders result dataclasses to an SVG string; nothing here computes statistics.
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from analysis.shortboard import ShortBoardReport
from analysis.trends import TrendSeries

WIDTH, HEIGHT, PAD = 640, 360, 48
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")


def _svg(body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
            f'font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title><rect width="100%" height="100%" fill="white"/>'
            + "".join(body) + "</svg>")


class _Scale:
    """Linear data -> pixel mapping for one axis."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        self.lo, self.hi, self.p0, self.p1 = lo, (hi if hi > lo else lo + 1), p0, p1

    def __call__(self, v: float) -> float:
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


def _axes(x: _Scale, y: _Scale, xlabel: str, ylabel: str, yticks: Sequence[float], yfmt) -> list[str]:
    out = [f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD / 2}" y2="{HEIGHT - PAD}" stroke="#333"/>',
           f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>',
           f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle">{escape(xlabel)}</text>',
           f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" '
           f'text-anchor="middle">{escape(ylabel)}</text>']
    for t in yticks:
        py = y(t)
        out.append(f'<line x1="{PAD - 4}" y1="{py:.1f}" x2="{WIDTH - PAD / 2}" y2="{py:.1f}" stroke="#eee"/>'
                   f'<text x="{PAD - 6}" y="{py + 4:.1f}" text-anchor="end">{yfmt(t)}</text>')
    return out


def _polyline(xs, ys, colour: str, dash: str = "") -> str:
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"{extra}/>'


def funnel_svg(report: ShortBoardReport, *, title: str | None = None) -> str:
    """Funnel plot: each group's rate against its answers, with 95% and 99.8% limits (overdispersed)."""
    boards = report.boards
    f = report.funnel
    title = title or f"Funnel plot: top-2-box by {' x '.join(report.by)}"
    if not boards:
        return _svg([f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no groups</text>'], title)
    n_max = max(b.n for b in boards)
    rates = [b.rate for b in boards]
    lo = max(0.0, min(min(rates), float(np.nanmin(f.low998))) - 0.02)
    x = _Scale(0, n_max * 1.05, PAD, WIDTH - PAD / 2)
    y = _Scale(lo, 1.0, HEIGHT - PAD, PAD / 2)
    ticks = np.linspace(lo, 1.0, 5)
    body = _axes(x, y, "answers (n)", "top-2-box rate", ticks, lambda t: f"{100 * t:.0f}%")
    grid = np.linspace(max(1.0, float(f.n.min()) if len(f.n) else 1.0), n_max * 1.05, 120)
    sd = np.sqrt(f.target * (1 - f.target) / grid + f.tau2)
    for z, dash in ((1.959964, "4 3"), (3.090232, "")):
        for sign in (-1, 1):
            body.append(_polyline([x(v) for v in grid], [y(min(max(f.target + sign * z * s, lo), 1.0)) for s in sd],
                                  "#888", dash))
    body.append(f'<line x1="{PAD}" y1="{y(f.target):.1f}" x2="{WIDTH - PAD / 2}" y2="{y(f.target):.1f}" '
                f'stroke="#333" stroke-dasharray="1 2"/>')
    for b in boards:
        colour = PALETTE[1] if b.flagged else PALETTE[0]
        body.append(f'<circle cx="{x(b.n):.1f}" cy="{y(max(b.rate, lo)):.1f}" r="{3.5 if b.flagged else 2.5}" '
                    f'fill="{colour}" fill-opacity="0.7"><title>{escape(b.group)}: {100 * b.rate:.1f}% '
                    f'of {b.n}</title></circle>')
    return _svg(body, title)


def trend_svg(series: Sequence[TrendSeries], *, title: str = "Top-2-box by period") -> str:
    """Trend lines of several groups' rates over periods (periods are ISO date strings)."""
    periods = sorted({p for s in series for p in s.periods})
    if not periods:
        return _svg([f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'], title)
    pos = {p: i for i, p in enumerate(periods)}
    lo = max(0.0, min(min(s.rate) for s in series if s.rate) - 0.05)
    x = _Scale(0, max(len(periods) - 1, 1), PAD + 10, WIDTH - PAD)
    y = _Scale(lo, 1.0, HEIGHT - PAD, PAD / 2)
    body = _axes(x, y, "period", "top-2-box rate", np.linspace(lo, 1.0, 5), lambda t: f"{100 * t:.0f}%")
    step = max(1, len(periods) // 8)
    for i, p in enumerate(periods[::step]):
        body.append(f'<text x="{x(i * step):.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">{escape(p[:7])}</text>')
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        xs = [x(pos[p]) for p in s.periods]
        body.append(_polyline(xs, [y(r) for r in s.rate], colour))
        body.extend(f'<circle cx="{a:.1f}" cy="{y(r):.1f}" r="2.5" fill="{colour}"><title>{escape(s.group)} '
                    f'{escape(p)}: {100 * r:.1f}% (n={n})</title></circle>'
                    for a, r, p, n in zip(xs, s.rate, s.periods, s.n))
        body.append(f'<text x="{WIDTH - PAD + 4}" y="{PAD + 14 * k}" fill="{colour}">{escape(s.group)}</text>')
    return _svg(body, title)


def pareto_svg(reason_counts: Sequence[tuple[str, int]], *, title: str = "Reasons (Pareto)") -> str:
    """Reason Pareto: bars by count, largest first, with the cumulative share line."""
    items = sorted(((r, c) for r, c in reason_counts if c > 0), key=lambda rc: -rc[1])
    if not items:
        return _svg([f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no reasons</text>'], title)
    total = sum(c for _, c in items)
    top = max(c for _, c in items)
    x = _Scale(0, len(items), PAD, WIDTH - PAD)
    y = _Scale(0, top, HEIGHT - PAD, PAD / 2)
    share = _Scale(0, 1, HEIGHT - PAD, PAD / 2)
    body = _axes(x, y, "reason", "answers", np.linspace(0, top, 5), lambda t: f"{t:.0f}")
    bar = (x(1) - x(0)) * 0.7
    cum, xs, ys = 0, [], []
    for i, (reason, count) in enumerate(items):
        left = x(i) + (x(1) - x(0)) * 0.15
        body.append(f'<rect x="{left:.1f}" y="{y(count):.1f}" width="{bar:.1f}" height="{y(0) - y(count):.1f}" '
                    f'fill="{PALETTE[0]}"><title>{escape(reason)}: {count}</title></rect>'
                    f'<text x="{left + bar / 2:.1f}" y="{HEIGHT - PAD + 14}" '
                    f'text-anchor="middle">{escape(reason)}</text>')
        cum += count
        xs.append(left + bar / 2)
        ys.append(share(cum / total))
    body.append(_polyline(xs, ys, PALETTE[1]))
    body.append(f'<text x="{WIDTH - PAD + 4}" y="{share(1.0) + 4:.1f}" fill="{PALETTE[1]}">100%</text>')
    return _svg(body, title)
