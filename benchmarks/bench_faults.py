"""SMSC faults (issue #16): the client against each misbehaving simulator, with figures.

Each scenario sends the same messages through a real SMPP session on loopback to a simulator
that misbehaves once (smpp/misbehaving.py), and prints: lost (no ack reached the caller),
duplicate acknowledged submits (a copy the SMSC accepted after the client had been acked for
that message: the client must never resend an acked segment), copies (messages the SMSC accepted
more than once for any reason: at-least-once after a lost ack), and the time to recover: from the
fault's last act to the client's ack of the first submit the SMSC accepted after it, next to the
configured figure that bounds it.
The run's total time is a ratio against the same messages to a well-behaved simulator, measured
in the same run. Exits non-zero when a message is lost or an acked segment was resent.

Run: .venv/bin/python benchmarks/bench_faults.py [--messages 2000]
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smpp.client import SmppClient  # noqa: E402
from smpp.config import ClientConfig  # noqa: E402
from smpp.messages import OutgoingMessage, SubmitResult  # noqa: E402
from smpp.misbehaving import (BindRefusingSMSC, DisconnectingSMSC, HangingSMSC,  # noqa: E402
                              LostAckSMSC, NackingSMSC, SlowAckSMSC, StormSMSC)
from smpp.simulator import SMSCSimulator, SimulatorConfig  # noqa: E402

CLIENT = dict(host="127.0.0.1", system_id="touchpoint", password="secret", source_addr="10655",
              window=10, response_timeout_s=0.5, enquire_link_s=5.0, reconnect_min_s=0.1,
              reconnect_max_s=2.0, retry_min_s=0.02, retry_max_s=0.5)
SIMULATOR = SimulatorConfig(ack_latency_s=0.002, receipts=False, trace=True)


class DropThenRefuseBinds(BindRefusingSMSC, DisconnectingSMSC):
    """Drops the connection mid-run, then refuses the next binds: an SMSC restarting."""


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[int], SMSCSimulator]  # messages -> simulator
    bound: str  # the configured figure the recovery is compared with
    bound_s: float


def scenarios(n: int) -> list[Scenario]:
    """One fault each, placed mid-run (n // 3 submits in)."""
    mid = n // 3
    timeout = CLIENT["response_timeout_s"]
    return [
        Scenario("drop mid-window", lambda n: DisconnectingSMSC(SIMULATOR, at=(mid,)),
                 "reconnect_min_s", CLIENT["reconnect_min_s"]),
        Scenario("lost acks (drop after accepting)", lambda n: LostAckSMSC(SIMULATOR, at=(mid,)),
                 "reconnect_min_s", CLIENT["reconnect_min_s"]),
        Scenario("acks later than the timeout (50 submits)",
                 lambda n: SlowAckSMSC(SIMULATOR, late_s=1.6 * timeout,
                                       at=tuple(range(mid, mid + 50))),
                 "response_timeout_s", timeout),
        Scenario("throttling storm, ESME_RTHROTTLED, 2 s",
                 lambda n: StormSMSC(SIMULATOR, start=mid, duration_s=2.0),
                 "retry_max_s", CLIENT["retry_max_s"]),
        Scenario("throttling storm, ESME_RMSGQFUL, 2 s",
                 lambda n: StormSMSC(SIMULATOR, start=mid, duration_s=2.0, queue_full=True),
                 "retry_max_s", CLIENT["retry_max_s"]),
        Scenario("generic_nack to 20 submits",
                 lambda n: NackingSMSC(SIMULATOR, at=tuple(range(mid, mid + 20))),
                 "retry_min_s", CLIENT["retry_min_s"]),
        Scenario("bind refused 4 times after a drop",
                 lambda n: DropThenRefuseBinds(SIMULATOR, at=(mid,), first=2, refusals=4),
                 "backoff after 4", CLIENT["reconnect_min_s"] * 2 ** 4),
        # Unanswered: the submits' timeout, then the enquire_link probe's, then a reconnect.
        Scenario("hung SMSC (no answer, enquire_link included)",
                 lambda n: HangingSMSC(SIMULATOR, at=(mid,)),
                 "2 timeouts+reconn", 2 * timeout + CLIENT["reconnect_min_s"]),
    ]


@dataclass
class Outcome:
    seconds: float
    lost: int
    duplicate_acked: int
    copies: int
    recovery_s: float | None
    reconnects: int
    timeouts: int


def run(simulator: SMSCSimulator, messages: list[OutgoingMessage]) -> Outcome:
    """Send every message through a fresh client; compare the SMSC's trace with the acks."""
    acked_at: dict[str, float] = {}
    lock = threading.Lock()

    def on_submitted(result: SubmitResult) -> None:
        if result.ok:
            with lock:
                acked_at.setdefault(result.key, time.monotonic())

    with simulator:
        client = SmppClient(ClientConfig(port=simulator.port, **CLIENT),  # type: ignore[arg-type]
                            on_submitted=on_submitted)
        started = time.monotonic()
        client.start()
        client.submit_many(messages)
        finished = client.wait_idle(120)
        seconds = time.monotonic() - started
        client.stop()
        submits, _ = simulator.traces()
        faults = list(simulator.fault_times)
    if not finished:
        print("  (not finished within 120 s)")
    key_of = {m.text: m.key for m in messages}
    accepted = Counter(trace.text for trace in submits)
    duplicate_acked = sum(1 for trace in submits
                          if trace.received > acked_at.get(key_of[trace.text], float("inf")))
    recovery = None
    if faults:
        last = max(faults)
        after = [trace for trace in submits if trace.received > last]
        if after:
            first = min(after, key=lambda trace: trace.received)
            recovery = acked_at.get(key_of[first.text], float("nan")) - last
    return Outcome(seconds, len(messages) - len(acked_at), duplicate_acked,
                   sum(count - 1 for count in accepted.values()), recovery,
                   client.stats.reconnects, client.stats.timeouts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    # The client logs every timeout and lost session, which is the point here: keep the table.
    logging.basicConfig(level=logging.CRITICAL)
    messages = [OutgoingMessage(key=f"k{i}", destination=f"86139{i:08d}", text=f"bench fault #{i}")
                for i in range(args.messages)]
    print(f"{args.messages} messages, window {CLIENT['window']}, response timeout "
          f"{CLIENT['response_timeout_s']} s, acks after {SIMULATOR.ack_latency_s * 1000:.0f} ms")
    baseline = run(SMSCSimulator(SIMULATOR), messages)
    print(f"baseline (well-behaved SMSC): {baseline.seconds:.2f} s, lost {baseline.lost}")
    header = (f"{'fault':46} {'lost':>4} {'dup acked':>9} {'copies':>6} {'recover s':>9} "
              f"{'vs bound':>26} {'time x':>6} {'reconn':>6} {'timeouts':>8}")
    print(header)
    failed = False
    for scenario in scenarios(args.messages):
        out = run(scenario.build(args.messages), messages)
        failed |= out.lost > 0 or out.duplicate_acked > 0
        recovery = "-" if out.recovery_s is None else f"{out.recovery_s:.3f}"
        ratio = "-" if out.recovery_s is None else f"{out.recovery_s / scenario.bound_s:.2f} x"
        print(f"{scenario.name:46} {out.lost:>4} {out.duplicate_acked:>9} {out.copies:>6} "
              f"{recovery:>9} {ratio + ' ' + scenario.bound:>26} "
              f"{out.seconds / baseline.seconds:>6.2f} {out.reconnects:>6} {out.timeouts:>8}")
    print("goals: lost 0, duplicate acknowledged submits 0"
          + (" -- MISSED" if failed else " -- met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
