"""Reading answers from CSV: columns, extra attributes, and per-row errors naming line and field."""
from __future__ import annotations

import numpy as np
import pytest

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
