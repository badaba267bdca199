"""Fixtures: a simulator on a free loopback port and a client wired to collecting callbacks."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

from smpp.client import SmppClient
from smpp.config import ClientConfig
from smpp.messages import InboundMessage, SubmitResult
from smpp.reassembly import Fragment
from smpp.receipts import DeliveryReceipt
from smpp.simulator import SMSCSimulator, SimulatorConfig

# The loopback-only guard is the autouse fixture in tests/conftest.py.


@dataclass
class Collector:
    """Records every callback and lets tests wait for counts."""

    results: list[SubmitResult] = field(default_factory=list)
    receipts: list[DeliveryReceipt] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    fail_inbound: int = 0  # raise on this many on_inbound calls first
    inbound_started: threading.Event = field(default_factory=threading.Event)
    inbound_gate: threading.Event | None = None  # on_inbound waits for it, like a locked database

    def on_submitted(self, result: SubmitResult) -> None:
        with self.cond:
            self.results.append(result)
            self.cond.notify_all()

    def on_receipt(self, receipt: DeliveryReceipt) -> None:
        with self.cond:
            self.receipts.append(receipt)
            self.cond.notify_all()

    def on_inbound(self, message: InboundMessage) -> None:
        self.inbound_started.set()
        if self.inbound_gate is not None:
            assert self.inbound_gate.wait(10)
        with self.cond:
            if self.fail_inbound > 0:
                self.fail_inbound -= 1
                raise RuntimeError("database unavailable")
            self.inbound.append(message)
            self.cond.notify_all()

    def wait(self, predicate: Callable[["Collector"], bool], timeout: float = 10) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def smsc() -> Iterator[SMSCSimulator]:
    """The happy simulator on 127.0.0.1, port 0."""
    simulator = SMSCSimulator(SimulatorConfig(redeliver_delay_s=0.05)).start()
    yield simulator
    simulator.stop()


def client_config(port: int, **changes: object) -> ClientConfig:
    """A client configuration for the simulator with test-friendly (short) timings."""
    values: dict[str, object] = dict(
        host="127.0.0.1", port=port, system_id="touchpoint", password="secret",
        source_addr="10655", window=10, reconnect_min_s=0.02, reconnect_max_s=0.2,
        retry_min_s=0.01, retry_max_s=0.2, response_timeout_s=3.0)
    values.update(changes)
    return ClientConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_client(collector: Collector) -> Iterator[Callable[..., SmppClient]]:
    """Build and start clients that are stopped after the test."""
    clients: list[SmppClient] = []

    def build(port: int, *, on_fragment: Callable[[Fragment], None] | None = None,
              **changes: object) -> SmppClient:
        client = SmppClient(client_config(port, **changes), on_submitted=collector.on_submitted,
                            on_receipt=collector.on_receipt, on_inbound=collector.on_inbound,
                            on_fragment=on_fragment)
        client.start()
        clients.append(client)
        assert client.wait_bound(5)
        return client

    yield build
    for client in clients:
        client.stop()
