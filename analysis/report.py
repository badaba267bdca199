"""Short-board reports as a text table or JSON; the function the `touchpoint shortboards` command calls."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence

from analysis.frame import AnswerFrame
from analysis.shortboard import ShortBoard, ShortBoardReport, shortboard_report

FIELDS = ("group", "n", "rate", "scope_rate", "gap", "p", "q", "impact", "shrunken_rate", "top_reasons")


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def board_dict(board: ShortBoard) -> dict:
    """One short board as a JSON-ready dict with the documented names (plus the adjusted view)."""
    out = {
        "group": board.group, "n": board.n, "rate": _num(board.rate), "scope_rate": _num(board.scope_rate),
        "gap": _num(board.gap), "p": _num(board.p), "q": _num(board.q), "impact": _num(board.impact),
        "shrunken_rate": _num(board.shrunken_rate), "top_reasons": list(board.top_reasons),
        "scope": board.scope, "rest_rate": _num(board.rest_rate), "p_exact": _num(board.p_exact),
        "p_mann_whitney": _num(board.p_mann_whitney), "pooled_groups": board.pooled_groups,
    }
    if board.adjusted is not None:
        a = board.adjusted
        out["adjusted"] = {"expected": a.expected, "observed": a.observed, "ratio": _num(a.ratio),
                           "rate": _num(a.rate), "impact": a.impact, "p": _num(a.p), "q": _num(a.q),
                           "flagged": a.flagged}
    return out


def report_dict(report: ShortBoardReport) -> dict:
    """A whole report (raw and adjusted short boards, groups with too few answers) as a dict."""
    return {
        "by": list(report.by), "within": list(report.within), "adjustment": report.adjustment,
        "alpha": report.alpha, "min_n": report.min_n,
        "phi": report.dispersion.phi, "tau2": report.dispersion.tau2,
        "shortboards": [board_dict(b) for b in report.flagged],
        "shortboards_adjusted": [board_dict(b) for b in report.flagged_adjusted],
        "not_enough_answers": [{"group": g.group, "n": g.n, "rolled_up_to": g.rolled_up_to}
                               for g in report.not_enough],
    }


def _pct(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _p(v: float) -> str:
    return "-" if v is None or math.isnan(v) else (f"{v:.1e}" if v < 0.001 else f"{v:.3f}")


def format_table(boards: Sequence[ShortBoard], *, adjusted: bool = False) -> str:
    """A fixed-width text table of short boards (raw or case-mix adjusted columns)."""
    head = ("group", "n", "rate", "scope", "gap", "p", "q", "impact", "shrunk", "top reasons")
    rows = [head]
    for b in boards:
        if adjusted and b.adjusted is not None:
            a = b.adjusted
            rows.append((b.group, str(b.n), _pct(a.rate), _pct(b.scope_rate), _pct(a.gap), _p(a.p), _p(a.q),
                         f"{a.impact:.0f}", _pct(b.shrunken_rate), ", ".join(b.top_reasons) or "-"))
        else:
            rows.append((b.group, str(b.n), _pct(b.rate), _pct(b.scope_rate), _pct(b.gap), _p(b.p), _p(b.q),
                         f"{b.impact:.0f}", _pct(b.shrunken_rate), ", ".join(b.top_reasons) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i in (0, 9) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    return "\n".join(lines)


def format_report(report: ShortBoardReport) -> str:
    """The raw and adjusted short boards and the groups with too few answers, as text."""
    title = " x ".join(report.by) + (f" (within {' x '.join(report.within)})" if report.within else "")
    parts = [f"Short boards by {title}: {len(report.flagged)} of {len(report.boards)} groups "
             f"({report.adjustment.upper()} at {report.alpha:g}; between-group spread tau2="
             f"{report.dispersion.tau2:.2g}, phi={report.dispersion.phi:.2f})"]
    parts.append(format_table(report.flagged) if report.flagged else "none")
    if report.case_mix:
        parts.append(f"\nAdjusted for {' x '.join(report.case_mix)} (observed vs expected satisfied): "
                     f"{len(report.flagged_adjusted)} short boards")
        parts.append(format_table(report.flagged_adjusted, adjusted=True) if report.flagged_adjusted else "none")
    if report.not_enough:
        parts.append(f"\nNot enough answers (< {report.min_n}): {len(report.not_enough)} groups")
        for g in report.not_enough[:50]:
            parts.append(f"  {g.group} (n={g.n})" + (f" -> {g.rolled_up_to}" if g.rolled_up_to else ""))
        if len(report.not_enough) > 50:
            parts.append(f"  ... and {len(report.not_enough) - 50} more")
    return "\n".join(parts)


def run_shortboards(frame: AnswerFrame, by: list[list[str]], as_json: bool, **options) -> str:
    """Run one report per grouping in `by` and render them as text or as JSON.

    JSON is one flat list of short-board objects (group, n, rate, scope_rate, gap, p, q, impact,
    shrunken_rate, top_reasons, plus by, scope, adjusted, ...), raw view, ranked per grouping.
    """
    reports = [shortboard_report(frame, cols, **options) for cols in by]
    if as_json:
        items = [{**board_dict(b), "by": ",".join(r.by)} for r in reports for b in r.flagged]
        return json.dumps(items, ensure_ascii=False, indent=2)
    return "\n\n".join(format_report(r) for r in reports)
