"""Fuzzing the CSV import: good rows mixed with bad ones, in every encoding read → every good row stored,
every bad row reported on its own line, and the import never raises."""
from __future__ import annotations

import csv
import itertools

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from channels.csv_import import import_interactions
from channels.models import Interaction

HEADER = ["source", "external_id", "msisdn", "outlet", "business_type", "ended_at", "tier", "note"]
_ids = itertools.count()  # ids never seen by earlier examples, so every good row is new
_files = itertools.count()

# How each encoding writes a file, and bytes it cannot decode.
ENCODINGS = {
    "utf-8": ("utf-8", b"", b"\xff\xfe"),
    "utf-8-sig": ("utf-8", b"\xef\xbb\xbf", b"\xc3("),
    "gb18030": ("gb18030", b"", b"\x80\xff"),
    "utf-16": ("utf-16-le", b"\xff\xfe", b"\x00\xd8"),  # a high surrogate alone
}
BAD_KINDS = ["encoding", "huge cell", "stray quote", "nul", "too many cells", "too few cells", "bad phone"]


def cells(external_id: str, draw) -> dict[str, str]:
    return {"source": "crm", "external_id": external_id, "msisdn": f"138{draw(st.integers(0, 10**8 - 1)):08d}",
            "outlet": draw(st.sampled_from(["S001", "S002", "HL1"])),
            "business_type": draw(st.sampled_from(["开户", "宽带", ""])),
            "ended_at": draw(st.sampled_from(["2026-11-20 09:00:00", "2026/11/19 23:59", "2026-11-20T01:00:00Z"])),
            "tier": draw(st.sampled_from(["金卡", "普通", "", "钻石 VIP"])), "note": ""}


@st.composite
def files(draw):
    """(encoding, delimiter, rows): each row (kind, external id, cells or raw text pieces)."""
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    delimiter = "\t" if encoding == "utf-16" else draw(st.sampled_from([",", ",", "\t"]))
    rows = []
    for kind in draw(st.lists(st.sampled_from(["good"] * 3 + ["note", "blank"] + BAD_KINDS), min_size=1,
                              max_size=40)):
        rows.append((kind, f"z-{next(_ids)}", {**cells("", draw), "column": draw(st.integers(2, len(HEADER) - 1))}))
    return encoding, delimiter, rows


def quote(value: str, delimiter: str) -> str:
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def render(encoding: str, delimiter: str, rows) -> tuple[bytes, dict[str, int], dict[str, int]]:
    """The file's bytes, and the first line of each good and each bad row by external id."""
    codec, bom, bad_bytes = ENCODINGS[encoding]
    out = [bom + delimiter.join(HEADER).encode(codec) + "\r\n".encode(codec)]
    good, bad = {}, {}
    number = 2
    for kind, external_id, values in rows:
        if kind == "blank":  # skipped, not reported
            out.append("\r\n".encode(codec))
            number += 1
            continue
        column = values["column"]
        values = {**values, "external_id": external_id}
        if kind == "note":
            values["note"] = "排队太久,\r\n服务一般"  # a quoted cell with a line break: one row on two lines
        if kind == "nul":
            values["external_id"] = external_id + "\x00"
        if kind == "bad phone":
            values["msisdn"] = "138 1234 1234 ext 5"
        if kind == "huge cell":
            values[HEADER[column]] = "x" * (csv.field_size_limit() + 1)
        texts = [quote(values[h], delimiter) for h in HEADER]
        if kind == "stray quote":
            texts[column] = '"' + texts[column]
        if kind == "too many cells":
            texts += ["extra"]
        if kind == "too few cells":
            texts = texts[:4]
        encoded = [t.encode(codec) for t in texts]
        if kind == "encoding":
            encoded[column] = bad_bytes
        out.append(delimiter.encode(codec).join(encoded) + "\r\n".encode(codec))
        (good if kind in ("good", "note") else bad)[external_id] = number
        number += 2 if kind == "note" else 1
    return b"".join(out), good, bad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(file=files(), chunk_rows=st.integers(1, 50), parallel=st.sampled_from([False] * 7 + [True]))
def test_every_good_row_is_stored_and_every_bad_row_reported_on_its_line(runtime, db, outlets, tmp_path,
                                                                         file, chunk_rows, parallel):
    encoding, delimiter, rows = file
    data, good, bad = render(encoding, delimiter, rows)
    path = tmp_path / f"fuzz-{next(_files)}.csv"
    path.write_bytes(data)

    summary = import_interactions(runtime.session_factory, path, now=runtime.clock.now, tz=runtime.settings.tz,
                                  chunk_rows=chunk_rows, parallel=parallel)

    ids = set(good) | set(bad)
    db.expire_all()
    stored = {e for e in db.scalars(select(Interaction.external_id).where(Interaction.external_id.in_(ids)))}
    assert stored == set(good)
    reported: dict[int, list[list[str]]] = {}
    if summary.report is not None:
        with open(summary.report, encoding="utf-8-sig") as f:
            for number, field, problem in list(csv.reader(f))[1:]:
                assert field and problem
                reported.setdefault(int(number), []).append([field, problem])
    assert set(reported) == set(bad.values()), (reported, bad)
    assert (summary.created, summary.rejected) == (len(good), len(bad))
