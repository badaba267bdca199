"""The engine with closed-loop cases on, driven by the injected clock (the pattern of
tests/survey/test_engine.py: a stand-in SMPP client, ingest, reply, step)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.services import record_interactions
from smpp.messages import InboundMessage as SmppInbound
from survey.cases.config import CaseLoop, load_case_policy
from survey.definitions import load_surveys
from survey.jobs.worker import Worker
from survey.models import Case
from survey.policy import PolicyConfig
from tests.survey.fake_smpp import FakeClient

SH = ZoneInfo("Asia/Shanghai")
PHONE = "+8613812341234"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def policy():
    return PolicyConfig(tz=SH, survey_by_channel={"hotline": "csat-default"}, fatigue=timedelta(0))


@pytest.fixture
def loop(policy) -> CaseLoop:
    return CaseLoop.from_config(load_case_policy(), policy)


@pytest.fixture
def make_worker(runtime, policy, outlets, loop):
    def make(case_loop: CaseLoop | None = loop) -> Worker:
        return Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient,
                      cases=case_loop)
    return make


@pytest.fixture
def worker(make_worker):
    return make_worker()


class Customer:
    """Drives one subscriber through the engine: an interaction, replies, and the clock between."""

    def __init__(self, worker, db, clock, msisdn=PHONE):
        self.worker, self.db, self.clock, self.msisdn = worker, db, clock, msisdn
        self.count = 0

    def interaction(self, *, outlet="S001", minutes_ago=10, **attributes) -> None:
        self.count += 1
        ended = self.clock.now() - timedelta(minutes=minutes_ago)
        result = record_interactions(self.db, [{
            "source": "crm", "external_id": f"{self.msisdn}-{self.count}-{self.clock.now().timestamp()}",
            "msisdn": self.msisdn, "outlet": outlet, "business_type": "宽带", "ended_at": ended.isoformat(),
            **attributes}], now=self.clock.now(), tz=SH)
        self.db.commit()
        assert result.created == 1, result

    def reply(self, text: str) -> None:
        self.worker.client.on_replies([SmppInbound(source=self.msisdn.lstrip("+"), destination="10655", text=text,
                                                   data_coding=8)])

    def step(self, **advance) -> None:
        if advance:
            self.clock.advance(**advance)
        self.worker.run_once(self.clock.now())
        self.worker.client.ack_all()
        self.worker.record(self.clock.now())

    def texts(self) -> list[str]:
        return [m.text for m in self.worker.client.sent if m.destination == self.msisdn.lstrip("+")]

    def survey(self, *replies: str, outlet="S001", **attributes) -> None:
        """An interaction, its first question sent, and these replies a minute apart."""
        self.interaction(outlet=outlet, **attributes)
        self.step()
        for text in replies:
            self.reply(text)
            self.step(minutes=1)


@pytest.fixture
def make_customer(db, clock):
    def make(worker, msisdn=PHONE) -> Customer:
        return Customer(worker, db, clock, msisdn)
    return make


@pytest.fixture
def customer(worker, make_customer):
    return make_customer(worker)


@pytest.fixture
def cases(db):
    """The cases stored now, oldest first."""
    def read() -> list[Case]:
        db.expire_all()
        return list(db.scalars(select(Case).order_by(Case.id)))
    return read
