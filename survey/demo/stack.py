"""The running product the demo drives: the SMSC simulator with the planned subscribers, the web app
(whose ingest API takes the interactions) and the worker, all on one runtime and clock."""
from __future__ import annotations

import csv
import json
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server

from channels.csv_import import import_outlets
from channels.services import seed_business_types
from smpp.encoding import segment
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.accounts.models import TokenScope
from survey.accounts.services import create_token, create_user
from survey.demo.operator import DEMO_PASSWORD, Operator
from survey.demo.subscribers import PlannedSubscribers
from survey.jobs.build import build_worker
from survey.jobs.worker import Intervals, Worker
from survey.runtime import Runtime
from survey.web import create_app


def seed(runtime: Runtime, operator: Operator, folder: Path) -> None:
    """Schema, business types, the outlets (through the real CSV import) and the demo sign-ins."""
    database.upgrade(runtime.engine)
    outlets_csv = folder / "outlets.csv"
    rows = [o.row() for o in operator.outlets]
    with open(outlets_csv, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_outlets(runtime.session_factory, outlets_csv)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        for user in operator.users:
            create_user(db, user.username, DEMO_PASSWORD, user.role, now=runtime.clock.now(), outlet_codes=user.outlets)


def new_token(runtime: Runtime) -> str:
    """An ingest and read API token for this run (printed; stored as a hash)."""
    with runtime.session_factory.begin() as db:
        return create_token(db, "demo", now=runtime.clock.now(), scopes=(TokenScope.INGEST, TokenScope.READ))


@dataclass
class Stack:
    """The simulator, the web server and the worker of one demo run."""

    runtime: Runtime
    subscribers: PlannedSubscribers
    port: int
    simulator: SMSCSimulator = field(init=False)
    server: object = field(init=False)
    base_url: str = field(init=False)
    worker: Worker | None = None
    mo_parts: int = 0  # parts of the replies sent so far (each is one deliver_sm to wait for)

    def start(self) -> "Stack":
        settings = self.runtime.settings
        self.simulator = SMSCSimulator(SimulatorConfig(
            system_id=settings.smpp_system_id, password=settings.smpp_password, receipts=True, replies=True,
            reply_fn=self.subscribers, seed=7)).start()
        self.runtime.settings = settings.replace(smpp_host="127.0.0.1", smpp_port=self.simulator.port)
        app = create_app(runtime=self.runtime)
        self.server = make_server(settings.host, self.port, app, threaded=True)
        self.base_url = f"http://{settings.host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, name="demo-web", daemon=True).start()
        return self

    def start_worker(self, intervals: Intervals | None = None) -> Worker:
        """A worker on the runtime's current settings, its SMPP client bound; with intervals its jobs
        run on their own schedule, else the caller drives them (run_once)."""
        self.worker = build_worker(self.runtime)
        if intervals is not None:
            self.worker.start(intervals)
        else:
            self.worker.recover()
            self.worker.client.start()
        if not self.worker.client.wait_bound(10):
            raise RuntimeError("the SMPP client could not bind to the simulator")
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def send_replies(self, replies: list[tuple[str, str]]) -> None:
        """Subscribers' texts to the short code, through the SMSC."""
        code = self.runtime.settings.smpp_source_addr
        for number, text in replies:
            self.mo_parts += len(segment(text, ref=0).parts)
            self.simulator.send_mo(number, code, text)

    def settle(self, timeout: float = 60) -> None:
        """Wait until every submit is acked and every receipt and reply has been stored by the worker."""
        if self.worker is not None and not self.worker.client.wait_idle(timeout):
            raise RuntimeError("the SMSC did not acknowledge every message in time")
        if not self.simulator.wait_until(
                lambda s: s.stats.deliveries_acked >= s.stats.receipts_sent + self.mo_parts, timeout):
            raise RuntimeError("the worker did not take every receipt and reply in time")

    def post(self, token: str, items: list[dict], batch: int = 1000) -> dict[str, int]:
        """Interactions through POST /api/v1/interactions, as an integrator sends them."""
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        for start in range(0, len(items), batch):
            request = urllib.request.Request(
                f"{self.base_url}/api/v1/interactions", data=json.dumps(items[start:start + batch]).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                body = json.load(response)
            for key in totals:
                totals[key] += body[key]
        return totals

    def stop(self) -> None:
        """Stop the worker (waiting for acks in flight), the web server and the simulator."""
        try:
            self.stop_worker()
        finally:
            if getattr(self, "server", None) is not None:
                self.server.shutdown()
            if getattr(self, "simulator", None) is not None:
                self.simulator.stop()
