"""The ack journal: what append() wrote is replayed, in order, whatever happened to the process."""
from __future__ import annotations

from smpp.ack_journal import AckJournal
from smpp.messages import SubmitResult


def ack(key: int, index: int = 1, total: int = 1, message_id: str | None = "1F") -> SubmitResult:
    return SubmitResult(str(key), index, total, message_id, 0 if message_id else 0x58, message_id is None)


def test_results_are_replayed_in_the_order_written_across_sealed_files(tmp_path):
    journal = AckJournal(tmp_path, limit=200)
    written = [ack(i, 1, 2, f"id\t{i}\n\"x\"") for i in range(20)] + [ack(99, message_id=None)]
    sealed = [path for result in written if (path := journal.append(result)) is not None]
    assert len(sealed) >= 3 and all(path.exists() for path in sealed)
    # The process dies here: a new one, on the same directory, reads everything back.
    assert AckJournal(tmp_path).replay() == written


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_rest_kept(tmp_path):
    journal = AckJournal(tmp_path)
    journal.append(ack(1))
    journal.append(ack(2))
    with journal.path.open("ab") as file:
        file.write(b'["3", 1, 1, "2')  # the write of the third ack never finished
    assert [r.key for r in AckJournal(tmp_path).replay()] == ["1", "2"]


def test_clear_forgets_every_file_and_appending_starts_afresh(tmp_path):
    journal = AckJournal(tmp_path, limit=10)
    for i in range(5):
        journal.append(ack(i))
    journal.clear()
    assert journal.files() == [] and journal.replay() == []
    journal.append(ack(7))
    assert [r.key for r in journal.replay()] == ["7"]
