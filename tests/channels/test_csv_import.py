"""CSV import: encodings, reruns, broken rows, and an import killed midway."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from channels import csv_import
from channels.csv_import import import_interactions, import_outlets
from channels.csv_reading import sniff_encoding
from channels.models import Interaction, Outlet

HEADER = ["source", "external_id", "msisdn", "outlet", "business_type", "ended_at", "tier"]


def write(path, rows, *, encoding="utf-8", header=HEADER):
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def good_rows(n, start=0):
    return [["crm", f"c-{i}", f"138000{i:05d}", "S001", "开户", "2026-11-20 09:00:00", "金卡"]
            for i in range(start, start + n)]


def count(db):
    return db.scalar(select(func.count()).select_from(Interaction))


def run(runtime, path, **kwargs):
    return import_interactions(runtime.session_factory, path, now=runtime.clock.now,
                               tz=runtime.settings.tz, **kwargs)


def test_same_file_twice_stores_each_row_once(runtime, db, outlets, tmp_path):
    # Chunks of 7 and of 300: small batches go by executemany, large ones by COPY on PostgreSQL.
    path = write(tmp_path / "a.csv", good_rows(600))
    first = run(runtime, path, chunk_rows=300)
    second = run(runtime, path, chunk_rows=7)
    third = run(runtime, path, chunk_rows=300)
    assert (first.created, first.duplicates) == (600, 0)
    assert (second.created, second.duplicates) == (0, 600)
    assert (third.created, third.duplicates) == (0, 600)
    assert count(db) == 600


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_excel_encodings_import_with_chinese_intact(runtime, db, outlets, tmp_path, encoding):
    header = ["来源", "流水号", "手机号码", "网点编码", "业务类型", "结束时间", "tier"]
    path = write(tmp_path / "x.csv", good_rows(3), encoding=encoding, header=header)
    summary = run(runtime, path)
    assert summary.created == 3
    assert summary.encoding == ("gb18030" if encoding == "gb18030" else "utf-8-sig")
    stored = db.scalars(select(Interaction).order_by(Interaction.external_id)).first()
    assert stored.business_type.name == "开户"
    assert stored.attributes == {"tier": "金卡"}


def test_broken_rows_are_reported_and_the_rest_stored(runtime, db, outlets, tmp_path):
    rows = good_rows(4)
    rows.insert(1, ["crm", "bad-1", "12345", "S001", "开户", "2026-11-20 09:00:00", ""])
    rows.insert(3, ["crm", "bad-2", "13800001111", "ZZZ", "开户", "yesterday", ""])
    rows.insert(4, ["crm", "bad-3"])  # a short line
    path = write(tmp_path / "broken.csv", rows)
    summary = run(runtime, path)
    assert (summary.rows, summary.created, summary.rejected) == (7, 4, 3)
    with open(summary.report, encoding="utf-8-sig") as f:
        report = list(csv.reader(f))
    assert report[0] == ["row", "field", "problem"]
    assert ["3", "msisdn", "not a mainland mobile number: '12345'"] in report
    assert ["5", "ended_at", "not a date and time: 'yesterday'"] in report
    assert ["6", "row", "2 cells where the header has 7"] in report
    assert count(db) == 4


def test_a_killed_import_keeps_committed_chunks_and_a_rerun_completes_it(runtime, db, outlets, tmp_path, monkeypatch):
    path = write(tmp_path / "big.csv", good_rows(100))
    real = csv_import.store_parsed
    calls = {"n": 0}

    def dies_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "store_parsed", dies_on_third_chunk)
    with pytest.raises(RuntimeError):
        run(runtime, path, chunk_rows=30)
    assert count(db) == 60

    monkeypatch.setattr(csv_import, "store_parsed", real)
    rerun = run(runtime, path, chunk_rows=30)
    assert (rerun.created, rerun.duplicates) == (40, 60)
    assert count(db) == 100


def test_interactions_keep_utc_and_the_import_clock(runtime, db, outlets, tmp_path, clock):
    path = write(tmp_path / "t.csv", good_rows(1))
    run(runtime, path)
    stored = db.scalars(select(Interaction)).one()
    assert stored.ended_at.isoformat() == "2026-11-20T01:00:00+00:00"
    assert stored.received_at == clock.now()


def test_sniffing_tells_gb18030_from_utf8():
    assert sniff_encoding("满意".encode("gb18030")) == "gb18030"
    assert sniff_encoding("满意".encode("utf-8")) == "utf-8-sig"
    # A multi-byte character cut at the end of the sniffed bytes is still UTF-8.
    assert sniff_encoding("满意".encode("utf-8")[:-1]) == "utf-8-sig"


def test_outlets_import_creates_hierarchy_updates_in_place_and_reports_bad_rows(runtime, db, tmp_path):
    header = ["code", "name", "channel", "kind", "region", "city"]
    rows = [["S9", "静安店", "门店", "自营", "华东", "上海"],
            ["H9", "热线", "hotline", "", "华东", "上海"],
            ["S8", "坏店", "store", "virtual", "华东", "上海"],
            ["S7", "未知", "shop", "own", "华东", "上海"]]
    path = write(tmp_path / "o.csv", rows, header=header)
    summary = import_outlets(runtime.session_factory, path)
    assert (summary.created, summary.rejected) == (2, 2)
    renamed = write(tmp_path / "o2.csv", [["S9", "静安旗舰店", "store", "own", "华东", "上海"]], header=header)
    again = import_outlets(runtime.session_factory, renamed)
    assert (again.created, again.duplicates) == (1, 0)
    outlet = db.scalars(select(Outlet).where(Outlet.code == "S9")).one()
    assert (outlet.name, outlet.city.name, outlet.city.region.name) == ("静安旗舰店", "上海", "华东")
    with open(summary.report, encoding="utf-8-sig") as f:
        report = list(csv.reader(f))[1:]
    assert report == [["4", "kind", "a store is own, partner or agent"],
                      ["5", "channel", "unknown channel 'shop'"]]


def test_the_parser_process_path_stores_and_reports_like_the_in_process_one(runtime, db, outlets, tmp_path):
    rows = good_rows(30)
    rows.insert(5, ["crm", "bad-1", "12345", "S001", "开户", "2026-11-20 09:00:00", ""])
    path = write(tmp_path / "p.csv", rows)
    seen = []
    summary = run(runtime, path, chunk_rows=7, parallel=True, on_bytes=seen.append)
    assert (summary.rows, summary.created, summary.rejected) == (31, 30, 1)
    assert sum(seen) == path.stat().st_size
    with open(summary.report, encoding="utf-8-sig") as f:
        assert list(csv.reader(f))[1] == ["7", "msisdn", "not a mainland mobile number: '12345'"]
    assert count(db) == 30


def test_a_row_that_is_neither_utf8_nor_gb18030_is_reported_not_crashed(runtime, db, outlets, tmp_path):
    path = tmp_path / "bin.csv"
    good = "\n".join(",".join(r) for r in [HEADER] + good_rows(2)).encode("utf-8")
    path.write_bytes(good + b"\n\xff\xfe\xfa,broken\n")
    summary = run(runtime, path)
    assert (summary.created, summary.rejected) == (2, 1)
    with open(summary.report, encoding="utf-8-sig") as f:
        assert list(csv.reader(f))[1][:2] == ["4", "source"]
