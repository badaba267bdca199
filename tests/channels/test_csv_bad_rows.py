"""CSV import of broken files: each bad row reported alone with its line, every good row stored."""
from __future__ import annotations

import csv
import pickle

import pytest
from sqlalchemy import func, select

from channels import csv_import, csv_reading
from channels.csv_import import import_interactions
from channels.csv_reading import ReaderFailed, iter_rows, sniff_encoding
from channels.models import Interaction

HEADER = ["source", "external_id", "msisdn", "outlet", "business_type", "ended_at", "tier"]
BOTH = pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "child-process"])


def row(i: int, **cells) -> list[str]:
    values = {"source": "crm", "external_id": f"c-{i}", "msisdn": f"138000{i:05d}", "outlet": "S001",
              "business_type": "开户", "ended_at": "2026-11-20 09:00:00", "tier": "金卡", **cells}
    return [values[h] for h in HEADER]


def line(values: list[str], *, delimiter: str = ",") -> str:
    return delimiter.join(values) + "\r\n"


def write_lines(path, lines: list[str | bytes], *, encoding: str = "utf-8"):
    """The file as given, line by line: str lines encoded, bytes lines written as they are."""
    path.write_bytes(b"".join(x if isinstance(x, bytes) else x.encode(encoding) for x in lines))
    return path


def run(runtime, path, **kwargs):
    return import_interactions(runtime.session_factory, path, now=runtime.clock.now,
                               tz=runtime.settings.tz, **kwargs)


def report(summary) -> list[list[str]]:
    if summary.report is None:
        return []
    with open(summary.report, encoding="utf-8-sig") as f:
        return list(csv.reader(f))[1:]


def stored(db) -> set[str]:
    return set(db.scalars(select(Interaction.external_id)))


def good(*numbers: int) -> set[str]:
    return {f"c-{i}" for i in numbers}


@BOTH
def test_a_badly_encoded_row_is_reported_alone_and_its_chunk_is_stored(runtime, db, outlets, tmp_path, parallel):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 30)]
    lines[7] = line(row(7, tier="金卡")).encode("utf-8").replace("金卡".encode(), b"\xff\xfe")  # file line 8
    path = write_lines(tmp_path / "enc.csv", lines)
    summary = run(runtime, path, parallel=parallel)
    assert (summary.rows, summary.created, summary.rejected, summary.encoding) == (29, 28, 1, "utf-8-sig")
    assert report(summary) == [["8", "tier", "not UTF-8 text (bytes ff fe); save the file as UTF-8, GB18030 "
                                             "or UTF-16"]]
    assert stored(db) == good(*range(1, 30)) - good(7)


def test_a_gb18030_row_in_a_utf8_file_does_not_turn_the_file_into_gb18030(runtime, db, outlets, tmp_path):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 10)]
    lines[3] = line(row(3)).encode("gb18030")
    path = write_lines(tmp_path / "mixed.csv", lines)
    summary = run(runtime, path)
    assert summary.encoding == "utf-8-sig"
    assert [r[:2] for r in report(summary)] == [["4", "business_type"], ["4", "tier"]]
    assert stored(db) == good(*range(1, 10)) - good(3)
    assert all(a == {"tier": "金卡"} for a in db.scalars(select(Interaction.attributes)))  # read as UTF-8


def test_a_bad_byte_in_a_gb18030_file_is_reported_by_line(runtime, db, outlets, tmp_path):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 6)]
    lines[2] = line(row(2)).encode("gb18030").replace("金卡".encode("gb18030"), b"\x80\xff")
    path = write_lines(tmp_path / "gb.csv", lines, encoding="gb18030")
    summary = run(runtime, path)
    assert summary.encoding == "gb18030"
    assert report(summary) == [["3", "tier", "not GB18030 text (bytes 80 ff); save the file as UTF-8, GB18030 "
                                             "or UTF-16"]]
    assert stored(db) == good(1, 3, 4, 5)


@BOTH
def test_a_cell_over_the_csv_field_limit_is_reported_and_the_import_goes_on(runtime, db, outlets, tmp_path, parallel):
    limit = csv.field_size_limit()
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 8)]
    lines[3] = line(row(3, tier="x" * (limit + 1)))
    path = write_lines(tmp_path / "huge.csv", lines)
    summary = run(runtime, path, parallel=parallel)
    assert report(summary) == [["4", "tier", f"a cell longer than {limit} characters"]]
    assert stored(db) == good(1, 2, 4, 5, 6, 7)


def test_an_unclosed_quote_is_reported_on_its_line_and_the_rows_it_swallowed_are_stored(runtime, db, outlets,
                                                                                        tmp_path):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 12)]
    lines[4] = line(row(4, msisdn='"13800000004'))  # file line 5: the quote never closes
    path = write_lines(tmp_path / "quote.csv", lines)
    summary = run(runtime, path)
    assert report(summary) == [["5", "msisdn", "a quote not closed on its line (it takes in lines 5-12)"]]
    assert stored(db) == good(*range(1, 12)) - good(4)


def test_a_quote_closed_lines_later_is_still_caught(runtime, db, outlets, tmp_path):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 12)]
    lines[2] = line(row(2, tier='"金卡'))  # line 3 opens a quote…
    lines[6] = line(row(6, tier='金卡"'))  # …that line 7 closes, with the rows between inside it
    path = write_lines(tmp_path / "quote2.csv", lines)
    summary = run(runtime, path)
    assert [r[:2] for r in report(summary)] == [["3", "tier"]]
    # Line 7 read on its own: a quote in the middle of a cell is just a character.
    assert stored(db) == good(*range(1, 12)) - good(2)


def test_an_unclosed_quote_longer_than_a_record_may_be_is_cut_short(runtime, db, outlets, tmp_path):
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 200)]
    lines[10] = line(row(10, tier='"金卡'))
    path = write_lines(tmp_path / "quote3.csv", lines)
    summary = run(runtime, path)
    assert [r[:2] for r in report(summary)] == [["11", "tier"]]
    assert stored(db) == good(*range(1, 200)) - good(10)


def test_a_quoted_cell_with_line_breaks_is_one_row(runtime, db, outlets, tmp_path):
    header = HEADER + ["note"]
    lines = [line(header), line(row(1) + ['"排队太久,\r\n服务一般"']), line(row(2) + ["ok"])]
    path = write_lines(tmp_path / "note.csv", lines)
    summary = run(runtime, path)
    assert (summary.created, summary.rejected) == (2, 0)
    notes = dict(db.execute(select(Interaction.external_id, Interaction.attributes)).all())
    assert notes["c-1"]["note"] == "排队太久,\r\n服务一般"


def test_rows_with_the_wrong_number_of_cells_are_reported(runtime, db, outlets, tmp_path):
    lines = [line(HEADER), line(row(1)), line(row(2) + ["extra", "more"]), line(row(3)[:5]),
             line(row(4) + ["", ""]), line(row(5))]
    path = write_lines(tmp_path / "width.csv", lines)
    summary = run(runtime, path)
    assert report(summary) == [["3", "row", "9 cells where the header has 7"],
                               ["4", "row", "5 cells where the header has 7"]]
    assert stored(db) == good(1, 4, 5)  # empty cells past the header lose nothing


def test_nul_and_controls_in_cells_are_field_errors(runtime, db, outlets, tmp_path):
    lines = [line(HEADER), line(row(1, external_id="c-1\x00")), line(row(2, tier="金\x00卡")), line(row(3))]
    path = write_lines(tmp_path / "nul.csv", lines)
    summary = run(runtime, path)
    assert report(summary) == [["2", "external_id", "contains a control character (U+0000)"],
                               ["3", "attributes.tier", "contains a control character (U+0000)"]]
    assert stored(db) == good(3)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_excel_unicode_text_is_read(runtime, db, outlets, tmp_path, encoding):
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated, CRLF."""
    header = ["来源", "流水号", "手机号码", "网点编码", "业务类型", "结束时间", "tier"]
    lines = [line(header, delimiter="\t")] + [line(row(i, tier="金卡, 钻石"), delimiter="\t") for i in range(1, 4)]
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # Python's utf-16 writes its own
    path = tmp_path / "unicode.txt"
    path.write_bytes((bom + "".join(lines)).encode(encoding))
    summary = run(runtime, path)
    assert (summary.created, summary.rejected, summary.encoding) == (3, 0, "utf-16")
    assert {a["tier"] for a in db.scalars(select(Interaction.attributes))} == {"金卡, 钻石"}


def test_a_lone_surrogate_in_a_utf16_file_is_reported_by_line(runtime, db, outlets, tmp_path):
    lines = [line(HEADER, delimiter="\t")] + [line(row(i), delimiter="\t") for i in range(1, 5)]
    data = [("\ufeff" + lines[0]).encode("utf-16-le")] + [x.encode("utf-16-le") for x in lines[1:]]
    data[2] = data[2].replace("金卡".encode("utf-16-le"), b"\x00\xd8")  # a high surrogate alone
    path = tmp_path / "lone.txt"
    path.write_bytes(b"".join(data))
    summary = run(runtime, path)
    assert [r[:2] for r in report(summary)] == [["3", "tier"]]
    assert stored(db) == good(1, 3, 4)


def test_a_tab_separated_utf8_file_is_read(runtime, db, outlets, tmp_path):
    lines = [line(HEADER, delimiter="\t")] + [line(row(i, tier="金卡,钻石"), delimiter="\t") for i in range(1, 4)]
    summary = run(runtime, write_lines(tmp_path / "tabs.tsv", lines))
    assert (summary.created, summary.rejected) == (3, 0)


def test_sniffing_reads_excel_boms_and_mostly_utf8_as_utf8():
    assert sniff_encoding(b"\xff\xfea\x00") == "utf-16"
    assert sniff_encoding(b"\xfe\xff\x00a") == "utf-16"
    assert sniff_encoding("满意,很好\n".encode() * 20 + b"\xff\n") == "utf-8-sig"
    assert sniff_encoding("满意,很好\n".encode("gb18030") * 20) == "gb18030"


def test_reader_errors_pickle_by_their_importable_name():
    error = pickle.loads(pickle.dumps(ReaderFailed("the reader stopped")))
    assert type(error) is ReaderFailed and str(error) == "the reader stopped"
    assert ReaderFailed.__module__ == "channels.csv_reading"


def test_a_crashed_child_reader_is_a_clear_error(runtime, db, outlets, tmp_path, monkeypatch):
    path = write_lines(tmp_path / "c.csv", [line(HEADER)] + [line(row(i)) for i in range(1, 4)])
    monkeypatch.setattr(csv_import, "_child_command", lambda *args: [
        csv_import.sys.executable, "-c", "import sys; sys.stderr.write('MemoryError\\n'); sys.exit(3)"])
    with pytest.raises(ReaderFailed) as failed:
        run(runtime, path, parallel=True)
    assert str(failed.value) == (f"the CSV reader process for {path.name} stopped (exit code 3: MemoryError) "
                                 "before the end of the file; the rows stored so far are kept, import the "
                                 "file again to store the rest")


def test_an_error_inside_the_child_reader_reaches_the_parent(runtime, db, outlets, tmp_path):
    missing = tmp_path / "gone.csv"
    with pytest.raises(ReaderFailed, match="gone.csv"):
        list(csv_import._chunks_in_child(missing, now=runtime.clock.now(), tz=runtime.settings.tz,
                                         region="CN", chunk_rows=10))


def test_iter_rows_numbers_rows_by_their_first_line(tmp_path):
    path = write_lines(tmp_path / "n.csv", ["a,b\n", "\n", '1,"x\n', 'y"\n', "2,z\n"])
    assert list(iter_rows(path)) == [(3, {"a": "1", "b": "x\ny"}), (5, {"a": "2", "b": "z"})]


def test_a_line_longer_than_the_reader_holds_is_reported_and_skipped(runtime, db, outlets, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reading, "LINE_LIMIT", 200)
    lines = [line(HEADER)] + [line(row(i)) for i in range(1, 6)]
    lines[2] = line(row(2, tier="金" * 300))  # line 3
    lines[3] = line(row(3, tier='"金卡'))  # line 4 opens a quote…
    lines[4] = line(row(4, tier="x" * 300))  # …into a line too long to hold
    summary = run(runtime, write_lines(tmp_path / "long.csv", lines))
    assert sorted(report(summary)) == [["3", "row", "a line longer than 200 characters"],
                                       ["4", "tier", "a quote not closed on its line (it takes in lines 4-6)"],
                                       ["5", "row", "a line longer than 200 characters"]]
    assert stored(db) == good(1, 5)


def test_a_header_with_an_open_quote_stops_the_import_with_one_report_line(runtime, db, outlets, tmp_path):
    lines = [line(['"source'] + HEADER[1:])] + [line(row(i)) for i in range(1, 4)]
    summary = run(runtime, write_lines(tmp_path / "head.csv", lines))
    assert report(summary) == [["1", "header", "a quote not closed on its line (it takes in lines 1-4)"]]
    assert summary.nothing_read and stored(db) == set()


def test_a_file_with_a_good_row_is_not_a_failed_import(runtime, db, outlets, tmp_path):
    lines = [line(HEADER), line(row(1)), line(row(2, msisdn="12"))]
    summary = run(runtime, write_lines(tmp_path / "ok.csv", lines))
    assert (summary.created, summary.rejected, summary.nothing_read) == (1, 1, False)
