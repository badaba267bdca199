"""Short-board reports as a text table or JSON; the function the `touchpoint shortboards` command calls.

Text, JSON and the pages show one table: per group its observed rate, the expected rate (the
rest's, or in the case-mix view the rest's in each of its business type x tier cells), the
adjusted rate, gap, q, impact and shrunken estimate of the headline view, with the other view's
gap and q beside them.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence

from analysis.frame import AnswerFrame
from analysis.shortboard import BoardView, ShortBoard, ShortBoardReport, shortboard_report

FIELDS = ("group", "n", "rate", "scope_rate", "gap", "p", "q", "impact", "shrunken_rate", "top_reasons")
VIEW_LABELS = {"raw": "raw", "adjusted": "case-mix adjusted"}


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def view_dict(view: BoardView) -> dict:
    """One view's columns (observed, expected, adjusted rate, gap, p, q, impact, shrunken with interval)."""
    return {"view": view.view, "observed_rate": _num(view.observed), "expected_rate": _num(view.expected),
            "adjusted_rate": _num(view.adjusted), "gap": _num(view.gap), "p": _num(view.p), "q": _num(view.q),
            "impact": _num(view.impact), "shrunken_rate": _num(view.shrunken),
            "shrunken_low": _num(view.shrunken_low), "shrunken_high": _num(view.shrunken_high),
            "flagged": view.flagged}


def board_dict(board: ShortBoard, headline: str = "raw") -> dict:
    """One group as a JSON-ready dict: the documented names (the raw view, as always), the
    adjusted view, and `headline`, the view the report leads with, in the coherent columns."""
    out = {
        "group": board.group, "n": board.n, "rate": _num(board.rate), "scope_rate": _num(board.scope_rate),
        "gap": _num(board.gap), "p": _num(board.p), "q": _num(board.q), "impact": _num(board.impact),
        "shrunken_rate": _num(board.shrunken_rate), "top_reasons": list(board.top_reasons),
        "scope": board.scope, "rest_rate": _num(board.rest_rate), "p_exact": _num(board.p_exact),
        "p_mann_whitney": _num(board.p_mann_whitney), "pooled_groups": board.pooled_groups,
        "flagged": board.flagged, "flagged_adjusted": bool(board.adjusted and board.adjusted.flagged),
        "headline": view_dict(board.view(headline)),
    }
    if board.adjusted is not None:
        a = board.adjusted
        out["adjusted"] = {"expected": a.expected, "observed": a.observed, "ratio": _num(a.ratio),
                           "rate": _num(a.rate), "impact": a.impact, "p": _num(a.p), "q": _num(a.q),
                           "flagged": a.flagged, "expected_rate": _num(a.expected_rate), "gap": _num(a.gap),
                           "shrunken_rate": _num(a.shrunken_rate), "shrunken_low": _num(a.shrunken_low),
                           "shrunken_high": _num(a.shrunken_high)}
    return out


def report_dict(report: ShortBoardReport) -> dict:
    """A whole report (raw and adjusted short boards, watch list, groups with too few answers) as a dict."""
    return {
        "by": list(report.by), "within": list(report.within), "adjustment": report.adjustment,
        "alpha": report.alpha, "min_n": report.min_n, "headline": report.headline,
        "case_mix": list(report.case_mix), "case_mix_p": _num(report.case_mix_p),
        "phi": report.dispersion.phi, "tau2": report.dispersion.tau2,
        "shortboards": [board_dict(b, report.headline) for b in report.flagged],
        "shortboards_adjusted": [board_dict(b, report.headline) for b in report.flagged_adjusted],
        "watch_list": [board_dict(b, report.headline) for b in report.watch_list],
        "not_enough_answers": [{"group": g.group, "n": g.n, "rolled_up_to": g.rolled_up_to}
                               for g in report.not_enough],
    }


def _pct(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _p(v: float) -> str:
    return "-" if v is None or math.isnan(v) else (f"{v:.1e}" if v < 0.001 else f"{v:.3f}")


def _found_by(board: ShortBoard) -> str:
    adjusted = board.adjusted is not None and board.adjusted.flagged
    return {(True, True): "both", (True, False): "raw only", (False, True): "adjusted only"}.get(
        (board.flagged, adjusted), "-")


def format_table(boards: Sequence[ShortBoard], headline: str = "raw") -> str:
    """The one table: the headline view's columns, the other view's gap and q beside them."""
    other = "raw" if headline == "adjusted" else "adjusted"
    head = ("group", "n", "rate", "expected", "adj rate", "gap", "q", "impact", "shrunk [95%]",
            f"{other} gap", f"{other} q", "found by", "top reasons")
    rows = [head]
    for b in boards:
        v, o = b.view(headline), b.view(other)
        beside = (_pct(o.gap), _p(o.q)) if o.view == other else ("-", "-")
        rows.append((b.group, str(b.n), _pct(v.observed), _pct(v.expected), _pct(v.adjusted), _pct(v.gap),
                     _p(v.q), f"{v.impact:.0f}",
                     f"{_pct(v.shrunken)} [{_pct(v.shrunken_low)}, {_pct(v.shrunken_high)}]",
                     *beside, _found_by(b), ", ".join(b.top_reasons) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    left = (0, len(head) - 2, len(head) - 1)
    lines = ["  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    return "\n".join(lines)


def format_report(report: ShortBoardReport) -> str:
    """The short boards of both views in one table, or the watch list, and the groups with too few answers."""
    title = " x ".join(report.by) + (f" (within {' x '.join(report.within)})" if report.within else "")
    view = VIEW_LABELS[report.headline]
    if report.headline == "adjusted":
        view += f" for {' x '.join(report.case_mix)}"
    boards = report.flagged_any
    parts = [f"Short boards by {title}: {len(report.headline_flagged)} of {len(report.boards)} groups "
             f"({view}; {len(report.flagged)} raw, {len(report.flagged_adjusted)} adjusted; "
             f"{report.adjustment.upper()} at {report.alpha:g}; natural spread between groups tau2="
             f"{report.dispersion.tau2:.2g}, phi={report.dispersion.phi:.2f})"]
    if boards:
        parts.append(format_table(boards, report.headline))
    if report.watch_list:
        parts.append(f"\nWatch list: nothing is significant in the {VIEW_LABELS[report.headline]} view; "
                     f"the {len(report.watch_list)} groups with the lowest shrunken estimate against their "
                     "expected rate (not short boards):")
        parts.append(format_table(report.watch_list, report.headline))
    elif not boards:
        parts.append("none")
    if report.not_enough:
        parts.append(f"\nNot enough answers (< {report.min_n}): {len(report.not_enough)} groups")
        for g in report.not_enough[:50]:
            parts.append(f"  {g.group} (n={g.n})" + (f" -> {g.rolled_up_to}" if g.rolled_up_to else ""))
        if len(report.not_enough) > 50:
            parts.append(f"  ... and {len(report.not_enough) - 50} more")
    return "\n".join(parts)


def json_items(report: ShortBoardReport) -> list[dict]:
    """The JSON list's items of one report: short boards of either view (the headline's first),
    then, when the headline view has none, the watch list."""
    by = ",".join(report.by)
    items = [{**board_dict(b, report.headline), "by": by, "status": "short_board"} for b in report.flagged_any]
    items += [{**board_dict(b, report.headline), "by": by, "status": "watch"} for b in report.watch_list]
    return items


def run_shortboards(frame: AnswerFrame, by: list[list[str]], as_json: bool, **options) -> str:
    """Run one report per grouping in `by` and render them as text or as JSON.

    JSON is one flat list of objects (group, n, rate, scope_rate, gap, p, q, impact,
    shrunken_rate, top_reasons: the raw view, as always; plus by, scope, adjusted, headline,
    flagged, flagged_adjusted and status): the short boards of the raw or the adjusted view,
    ranked per grouping, and where a grouping has none in its headline view its watch list
    (status "watch").
    """
    reports = [shortboard_report(frame, cols, **options) for cols in by]
    if as_json:
        return json.dumps([item for r in reports for item in json_items(r)], ensure_ascii=False, indent=2)
    return "\n\n".join(format_report(r) for r in reports)
