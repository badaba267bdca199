"""No phone number in clear in any log line (issue #16): every log record of an end-to-end run (the
ingest API, the worker and its SQL at DEBUG, the SMPP client against the simulator, an unreadable
receipt, a failure's traceback) is captured and searched for unmasked mobile numbers."""
from __future__ import annotations

import logging
import re
import threading

import pytest

from smpp import wire
from survey.accounts.services import create_token
from survey.log_masking import mask_numbers
from survey.web import create_app
from tests.survey.test_engine_e2e import settle, world  # noqa: F401  (world is a fixture)

# Any mainland mobile number in clear: 11 digits from 13x-19x, with or without +86 and separators.
CLEAR = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")


class _Signal(logging.Handler):
    """Sets an event when a record containing `words` is logged (waiting on it is not a sleep)."""

    def __init__(self, event: threading.Event, words: str) -> None:
        super().__init__()
        self.event, self.words = event, words

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


@pytest.mark.parametrize("text, masked", [
    ("to +8613812341234 now", "to 138****1234 now"),
    ("8613812341234", "138****1234"),
    ("13812341234,15987654321", "138****1234,159****4321"),
    ("+86 138 1234 1234", "138****1234"),
    ("'msisdn': '138-1234-1234'", "'msisdn': '138****1234'"),
])
def test_numbers_in_any_form_are_masked(text, masked):
    assert mask_numbers(text) == masked


@pytest.mark.parametrize("text", ["2026-11-20 10:00:00", "sequence 13812341", "id 123456789012345",
                                  "010-12345678", "138****1234"])
def test_other_figures_are_left_alone(text):
    assert mask_numbers(text) == text


def test_no_log_line_of_an_end_to_end_run_shows_a_number(world, clock, caplog):  # noqa: F811
    runtime, worker, simulator, subscribers = world
    app = create_app(runtime=runtime)  # installs the masking, as `touchpoint serve` and the CLI do
    caplog.set_level(logging.DEBUG)  # everything, SQLAlchemy's statements and parameters included
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # it sets its own level to WARNING
    with runtime.session_factory.begin() as db:
        token = create_token(db, "crm", now=clock.now())
    numbers = [f"+86139{n:08d}" for n in range(3000, 3020)]
    items = [{"source": "crm", "external_id": f"log{i}", "msisdn": number, "outlet": "S001",
              "business_type": "缴费", "ended_at": clock.now().isoformat()} for i, number in enumerate(numbers)]
    items.append({**items[0], "external_id": "bad", "msisdn": "1381234"})  # rejected, quoted back
    response = app.test_client().post("/api/v1/interactions", json=items,
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["accepted"] == 20
    settle(worker, simulator, subscribers, clock, rounds=3)
    # A receipt the client cannot read (logged with its sender), and a failure with a traceback.
    logged = threading.Event()
    logging.getLogger("smpp.inbound").addHandler(_Signal(logged, "unreadable delivery receipt"))
    simulator.send_raw(wire.build("deliver_sm", sequence=9, source_addr="8613900003001",
                                  destination_addr="10655", esm_class=0x04, short_message=b"garbled"))
    assert logged.wait(10)
    try:
        raise LookupError(f"no session for {numbers[1]}")
    except LookupError:
        logging.getLogger("touchpoint.anything").exception("reply from %s set aside", numbers[2])
    worker.client.wait_idle(10)

    text = caplog.text
    assert len(caplog.records) > 100 and "LookupError" in text and "unreadable delivery receipt" in text
    assert "139****3001" in text and "139****3002" in text  # the numbers were there, masked
    assert CLEAR.findall(text) == []
