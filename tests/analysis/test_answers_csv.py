"""Reading answers from CSV: columns, extra attributes, and per-row errors naming line and field."""
from __future__ import annotations

import io

import numpy as np
import pytest

from analysis import answers_csv
from analysis.answers_csv import AnswersCsvError, read_answers_csv, read_answers_text
from analysis.frame import REASON_CODES

HEADER = "answered_at,channel,region,city,outlet,business_type,value,reasons,tier\n"


def test_reads_rows_into_columns():
    text = HEADER + (
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,1,,gold\n"
        "2026-01-05 09:30:00,营业厅,east,hz,0231,broadband,4,wait_time;attitude,\n"
        "2026-01-06T10:00:00+08:00,hotline,east,nb,H01,complaint,5,billing；other,silver\n"
    )
    res = read_answers_text(text)
    assert res.errors == () and res.rows == 3
    f = res.frame
    assert list(f.columns["channel"].values()) == ["store", "store", "hotline"]
    assert list(f.columns["tier"].values()) == ["gold", "(none)", "silver"]
    assert list(f.value) == [1, 4, 5]
    assert f.reasons[1, REASON_CODES.index("wait_time")] and f.reasons[1, REASON_CODES.index("attitude")]
    assert f.reasons[2].sum() == 2
    assert str(f.answered_at[2]) == "2026-01-06T02:00:00"  # converted to UTC
    assert f.total == 3


def test_bad_rows_are_reported_with_line_and_field_and_good_rows_kept():
    text = HEADER + (
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,1,,gold\n"
        "yesterday,store,east,hz,0231,payment,1,,\n"
        "2026-01-05T08:00:00Z,fax,east,hz,0231,payment,1,,\n"
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,6,,\n"
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,2,slow,\n"
        "2026-01-05T08:00:00Z,store,east,hz,,payment,2,,\n"
        "\n"
        "2026-01-05T08:00:00Z,web,east,hz,W1,payment,2,network,\n"
    )
    res = read_answers_text(text)
    assert [(e.line, e.field) for e in res.errors] == [
        (3, "answered_at"), (4, "channel"), (5, "value"), (6, "reasons"), (7, "outlet")]
    assert "unknown reason 'slow'" in str(res.errors[3])
    assert str(res.errors[2]).startswith("line 5, field 'value'")
    assert len(res.frame) == 2 and res.rows == 7


def test_missing_columns_stop_with_a_clear_message():
    with pytest.raises(AnswersCsvError, match="missing column.*reasons"):
        read_answers_text("answered_at,channel,region,city,outlet,business_type,value\n")
    with pytest.raises(AnswersCsvError, match="empty"):
        read_answers_text("")


def test_reads_a_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + "2026-01-05T08:00:00Z,store,east,hz,0231,payment,2,,\n", encoding="utf-8-sig")
    res = read_answers_csv(path)
    assert res.errors == () and np.array_equal(res.frame.value, [2])


def _both_readers(text: str, **options):
    """The columnar and the row-by-row parse of the same text (the columnar one must apply)."""
    data = text.encode("utf-8")
    header = answers_csv._header(data)
    assert answers_csv._columnar_keeps_lines(data)
    return (answers_csv._read_columns(data, header, options.get("low", 1), options.get("high", 5)),
            answers_csv._read_rows(io.StringIO(text, newline=""), header, options.get("low", 1),
                                   options.get("high", 5)))


def _same(a, b) -> None:
    assert a.errors == b.errors and a.rows == b.rows
    assert set(a.frame.columns) == set(b.frame.columns)
    for name in a.frame.columns:
        assert list(a.frame.columns[name].values()) == list(b.frame.columns[name].values()), name
    assert np.array_equal(a.frame.value, b.frame.value)
    assert np.array_equal(a.frame.reasons, b.frame.reasons)
    assert np.array_equal(a.frame.answered_at, b.frame.answered_at)


def test_columnar_parse_names_the_line_and_field_of_each_bad_row():
    text = HEADER + (
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,1,,gold\n"
        "yesterday,store,east,hz,0231,payment,1,,\n"
        ",,,,,,,,\n"  # every cell blank: skipped, not counted, but still a line
        "2026-01-05T08:00:00Z,fax,east,hz,0231,payment,1,,\n"
        "2026-01-05T08:00:00+08:00,store,east,hz,0231,payment,6,,\n"
        "2026-01-05T08:00:00Z,store,east,hz,0231,payment,2,slow,\n"
        " ,store,east,hz,0232,payment,2,,\n"
        "2026-01-05 08:00,  web ,east,hz, W1 ,payment,2,network；billing,\n"
    )
    columnar, rows = _both_readers(text)
    _same(columnar, rows)
    assert [(e.line, e.field) for e in columnar.errors] == [
        (3, "answered_at"), (5, "channel"), (6, "value"), (7, "reasons"), (8, "answered_at")]
    assert str(columnar.errors[0]) == "line 3, field 'answered_at': 'yesterday' is not an ISO 8601 time"
    assert str(columnar.errors[4]).endswith("is empty")
    assert columnar.rows == 7 and len(columnar.frame) == 2
    assert list(columnar.frame.columns["outlet"].values()) == ["0231", "W1"]


def test_columnar_and_row_readers_agree_on_random_files():
    rng = np.random.default_rng(4)
    cells = {
        "answered_at": ["2026-03-01T10:00:00", "2026-03-01 11:30", "2026-03-02T01:00:00Z", "2026-03-02T09:00:00+08:00",
                        "2026-03-03", "2026-03-03T10:00:00.250", "soon", ""],
        "channel": ["store", "hotline", "营业厅", "web", "fax", ""],
        "outlet": ["A1", "A2", " B7", "", "C9"],
        "value": ["1", "2", "3", "5", "0", "x", ""],
        "reasons": ["", "wait_time", "billing;attitude", "other|network", "slowness"],
        "tier": ["VIP", "普通", ""],
    }
    lines = []
    for _ in range(400):
        pick = {k: v[rng.integers(len(v))] for k, v in cells.items()}
        lines.append(f"{pick['answered_at']},{pick['channel']},east,hz,{pick['outlet']},payment,"
                     f"{pick['value']},{pick['reasons']},{pick['tier']}")
    columnar, rows = _both_readers(HEADER + "\n".join(lines) + "\n")
    _same(columnar, rows)
    assert 0 < len(columnar.errors) < 400 and len(columnar.frame) > 0


def test_files_whose_lines_only_the_row_reader_keeps_are_read_row_by_row(tmp_path):
    quoted = HEADER + (
        '2026-01-05T08:00:00Z,store,east,hz,"A\n1",payment,1,,\n'
        "2026-01-05T08:00:00Z,store,east,hz,A2,payment,9,,\n"
    )
    assert not answers_csv._columnar_keeps_lines(quoted.encode())
    res = read_answers_text(quoted)
    assert [(e.line, e.field) for e in res.errors] == [(3, "value")]
    short = HEADER + ("2026-01-05T08:00:00Z,store,east,hz,A1,payment,1\n"
                      "2026-01-05T08:00:00Z,store,east,hz,A1,payment,x\n")
    res = read_answers_text(short)  # rows with cells missing: padded, as the row reader does
    assert len(res.frame) == 1 and [(e.line, e.field) for e in res.errors] == [(3, "value")]


def test_times_the_csv_parser_reads_itself_equal_the_row_readers():
    # Every time plain ISO without an offset: the columnar parse reads them as timestamps directly.
    plain = HEADER + (
        "2026-03-01T10:00:00,store,east,hz,A1,payment,1,,\n"
        "2026-03-01 11:30,store,east,hz,A1,payment,2,,\n"
        "2026-03-03,hotline,east,hz,A2,payment,4,billing,\n"
    )
    columnar, rows = _both_readers(plain)
    _same(columnar, rows)
    assert list(columnar.frame.answered_at.astype(str)) == [
        "2026-03-01T10:00:00", "2026-03-01T11:30:00", "2026-03-03T00:00:00"]
    # With offsets the parser refuses them as plain times: they are read as text and converted to UTC.
    offsets = plain.replace("2026-03-01 11:30,", "2026-03-01T11:30:00+08:00,").replace("T10:00:00,", "T10:00:00Z,")
    columnar, rows = _both_readers(offsets)
    _same(columnar, rows)
    assert str(columnar.frame.answered_at[1]) == "2026-03-01T03:30:00"


def test_blank_lines_send_a_file_to_the_row_reader_and_later_lines_keep_their_numbers():
    text = HEADER + ("2026-01-05T08:00:00,store,east,hz,A1,payment,1,,\n"
                     "\n"
                     "\r\n"
                     "2026-01-05T08:00:00,store,east,hz,A1,payment,x,,\n"
                     ",,,,,,,,\n"
                     "2026-01-05T08:00:00,web,east,hz,A2,payment,2,,\n")
    data = text.encode()
    assert answers_csv._read_columns(data, answers_csv._header(data), 1, 5) is None
    res = read_answers_text(text)
    assert [(e.line, e.field) for e in res.errors] == [(5, "value")] and res.rows == 3 and len(res.frame) == 2
    # A blank last line, or rows of blank cells, keep the columnar parse.
    tail = text.replace("\n\r\n", "\n").replace("\n\n", "\n") + "\n"
    columnar, rows = _both_readers(tail)
    _same(columnar, rows)
    assert [(e.line, e.field) for e in columnar.errors] == [(3, "value")] and columnar.rows == 3


def _random_answers(rng: np.random.Generator, rows: int) -> tuple[list[list[str]], list[bool]]:
    """Rows of an answers CSV (a few of them bad) and whether each is good."""
    out, good = [], []
    for _ in range(rows):
        outlet = int(rng.integers(25))
        value = int(rng.choice([1, 2, 3, 4, 5], p=[0.45, 0.3, 0.1, 0.08, 0.07] if outlet else [0.2] * 5))
        reasons = ";".join(rng.choice(REASON_CODES, int(rng.integers(0, 3)), replace=False)) if value >= 3 else ""
        row = [f"2026-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}T10:00:00",
               str(rng.choice(["store", "hotline", "web"])), "east", f"c{outlet % 4}", f"O{outlet:02d}",
               str(rng.choice(["payment", "complaint", "broadband"])), str(value), reasons,
               str(rng.choice(["gold", "silver", ""]))]
        ok = rng.random() > 0.02
        if not ok:
            row[int(rng.choice([0, 1, 6, 7]))] = "??"
        out.append(row)
        good.append(ok)
    return out, good


def test_the_shortboards_command_over_a_csv_reports_what_the_same_answers_built_in_memory_give(tmp_path):
    """The CLI's text and JSON over a file equal the report of the file's good rows built directly."""
    from click.testing import CliRunner

    from analysis.frame import build_frame
    from analysis.report import run_shortboards
    from survey.cli import main

    rows, good = _random_answers(np.random.default_rng(8), 3000)
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    kept = [r for r, ok in zip(rows, good) if ok]
    names = HEADER.strip().split(",")
    frame = build_frame(
        {name: [r[names.index(name)] or "(none)" for r in kept]
         for name in ("channel", "region", "city", "outlet", "business_type", "tier")},
        [int(r[6]) for r in kept], reasons=[[c for c in r[7].split(";") if c] for r in kept],
        answered_at=[r[0] for r in kept])
    by = [["outlet"], ["channel", "business_type"]]
    for as_json in (False, True):
        args = ["shortboards", "--answers", str(path), "--by", "outlet", "--by", "channel,business_type"]
        result = CliRunner().invoke(main, args + (["--json"] if as_json else []))
        assert result.exit_code == 0, result.output
        assert result.stdout.rstrip("\n") == run_shortboards(frame, by, as_json, min_n=30)
        assert result.stderr.count("skipped line") == min(good.count(False), 20)


def test_the_shortboards_command_over_a_file_loads_no_database_code(tmp_path):
    # SQLAlchemy, the models and the web app take seconds to import; a file needs none of them.
    import subprocess
    import sys

    path = tmp_path / "answers.csv"
    path.write_text(HEADER + "".join(",".join(r) + "\n" for r in _random_answers(np.random.default_rng(2), 200)[0]),
                    encoding="utf-8")
    code = ("import sys; from survey.cli import main\n"
            f"main(['shortboards', '--answers', {str(path)!r}], standalone_mode=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
            " or m.startswith(('survey.web', 'survey.models', 'analysis.queries'))), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Short boards by outlet" in result.stdout and result.stderr.strip().endswith("[]")
