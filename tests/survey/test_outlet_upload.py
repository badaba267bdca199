"""An uploaded outlets CSV: imported through channels' importer, the per-row report read back,
the import logged; a file refused as a whole imports nothing."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from channels.models import Outlet
from survey.accounts.models import AuditEntry
from survey.outlet_upload import PROBLEMS_SHOWN, UploadError, import_upload

HEADER = "code,name,channel,kind,region,city\n"


def test_good_rows_are_stored_and_bad_ones_come_back_by_row_and_field(session_factory, db, clock, users):
    content = HEADER + "N1,新店,store,own,华东,杭州\nN2,,store,own,华东,杭州\nN3,三店,fax,own,华东,杭州\n"
    result = import_upload(session_factory, io.BytesIO(content.encode()), filename="a.csv", actor=users["admin"],
                           now=clock.now())
    assert (result.summary.rows, result.stored, result.summary.rejected) == (3, 1, 2)
    assert result.problems == ((3, "name", "required"), (4, "channel", "unknown channel 'fax'"))
    assert db.scalar(select(Outlet.name).where(Outlet.code == "N1")) == "新店"
    entry = db.scalar(select(AuditEntry))
    assert (entry.action, entry.target, entry.after["rejected"]) == ("outlets.import", "file a.csv", 2)


def test_the_page_gets_the_first_problems_and_the_count_of_all(session_factory, clock, users):
    content = HEADER + "".join(f"X{n},,store,own,华东,杭州\n" for n in range(PROBLEMS_SHOWN + 5))
    result = import_upload(session_factory, io.BytesIO(content.encode()), filename="many.csv",
                           actor=users["admin"], now=clock.now())
    assert len(result.problems) == PROBLEMS_SHOWN and result.problem_lines == PROBLEMS_SHOWN + 5


def test_an_empty_or_oversized_file_is_refused_before_anything_is_imported(session_factory, db, clock, users,
                                                                          monkeypatch):
    with pytest.raises(UploadError, match="^file: 文件是空的"):
        import_upload(session_factory, io.BytesIO(b""), filename="e.csv", actor=users["admin"], now=clock.now())
    monkeypatch.setattr("survey.outlet_upload.MAX_UPLOAD_BYTES", 100)
    with pytest.raises(UploadError, match="^file: 文件超过"):
        import_upload(session_factory, io.BytesIO((HEADER + "N1,新店,store,own,华东,杭州\n" * 10).encode()),
                      filename="big.csv", actor=users["admin"], now=clock.now())
    assert db.scalar(select(Outlet.id).where(Outlet.code == "N1")) is None
    assert db.scalar(select(AuditEntry.id)) is None
