"""SMSCs that misbehave on purpose: throttling, dropping the connection, losing acks (for tests)."""
from __future__ import annotations

import time
from typing import Any

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
