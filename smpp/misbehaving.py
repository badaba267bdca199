"""SMSCs that misbehave on purpose, one fault each (for tests and benchmarks/bench_faults.py):
throttling and throttling storms, dropping the connection, losing acks, acking too late, answering
generic_nack, refusing binds for a while, and hanging (no answer to anything, enquire_link included)."""
from __future__ import annotations

import time
from typing import Any

from smpp import wire
from smpp.simulator import Action, SimulatorConfig, SMSCSimulator
from smpp.simulator_connection import EsmeConnection


class ThrottlingSMSC(SMSCSimulator):
    """Answers ESME_RTHROTTLED to every n-th submit and/or above max_tps (sliding second)."""

    def __init__(self, config: SimulatorConfig | None = None, *, every: int | None = None,
                 max_tps: float | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.every, self.max_tps = every, max_tps

    def decide(self, session: EsmeConnection, number: int) -> Action:
        if self.every and number % self.every == 0:
            return Action.THROTTLE
        if self.max_tps:
            now = time.monotonic()
            recent = sum(1 for t in self.submit_times[-int(self.max_tps) - 1:] if now - t < 1.0)
            if recent >= self.max_tps:
                return Action.THROTTLE
        return Action.ACCEPT


class DisconnectingSMSC(SMSCSimulator):
    """Drops the connection at given submit numbers and/or at random (seeded); drops lose no ack."""

    def __init__(self, config: SimulatorConfig | None = None, *, at: tuple[int, ...] = (),
                 probability: float = 0.0, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.at, self.probability = set(at), probability

    def decide(self, session: EsmeConnection, number: int) -> Action:
        if number in self.at or (self.probability and self.rng.random() < self.probability):
            return Action.DROP
        return Action.ACCEPT


class LostAckSMSC(SMSCSimulator):
    """Accepts the given submit numbers, then drops the connection before acking them."""

    def __init__(self, config: SimulatorConfig | None = None, *, at: tuple[int, ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.at = set(at)

    def decide(self, session: EsmeConnection, number: int) -> Action:
        return Action.ACCEPT_AND_DROP if number in self.at else Action.ACCEPT


class StormSMSC(SMSCSimulator):
    """From the `start`-th submit on, refuses every submit for `duration_s` seconds with
    ESME_RTHROTTLED (or ESME_RMSGQFUL with queue_full=True), then accepts again."""

    def __init__(self, config: SimulatorConfig | None = None, *, start: int = 1,
                 duration_s: float = 1.0, queue_full: bool = False, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.start_at, self.duration_s = start, duration_s
        self.refusal = Action.QUEUE_FULL if queue_full else Action.THROTTLE
        self.began: float | None = None

    def decide(self, session: EsmeConnection, number: int) -> Action:
        if number < self.start_at:
            return Action.ACCEPT
        now = time.monotonic()
        if self.began is None:
            self.began = now
        return self.refusal if now - self.began < self.duration_s else Action.ACCEPT


class SlowAckSMSC(SMSCSimulator):
    """Accepts every submit but acks the given submit numbers (all when `at` is empty) only
    after `late_s` seconds, beyond the ESME's response timeout."""

    def __init__(self, config: SimulatorConfig | None = None, *, late_s: float,
                 at: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.late_ack_s, self.at = late_s, set(at)

    def decide(self, session: EsmeConnection, number: int) -> Action:
        return Action.ACK_LATE if not self.at or number in self.at else Action.ACCEPT


class NackingSMSC(SMSCSimulator):
    """Answers the given submit numbers with generic_nack (`status`, ESME_RINVCMDLEN by default:
    an SMSC that could not read a well-formed PDU) instead of submit_sm_resp."""

    def __init__(self, config: SimulatorConfig | None = None, *, at: tuple[int, ...] = (),
                 status: int = wire.RINVCMDLEN, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.at, self.nack_status = set(at), status

    def decide(self, session: EsmeConnection, number: int) -> Action:
        return Action.NACK if number in self.at else Action.ACCEPT


class BindRefusingSMSC(SMSCSimulator):
    """Refuses `refusals` binds in a row with ESME_RBINDFAIL (an SMSC restarting or over its
    bind limit), from the `first`-th bind attempt on, then lets binds through."""

    def __init__(self, config: SimulatorConfig | None = None, *, refusals: int = 3,
                 first: int = 1, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.refusals, self.first = refusals, first

    def refuse_bind(self, session: EsmeConnection, attempt: int) -> int:
        refused = self.first <= attempt < self.first + self.refusals
        return wire.RBINDFAIL if refused else wire.ROK


class HangingSMSC(SMSCSimulator):
    """At the given submit numbers the connection hangs: it stays open but nothing more is read
    or answered on it, enquire_link included; a new connection works."""

    def __init__(self, config: SimulatorConfig | None = None, *, at: tuple[int, ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.at = set(at)

    def decide(self, session: EsmeConnection, number: int) -> Action:
        return Action.MUTE if number in self.at else Action.ACCEPT
