"""Client configuration: plain values the CLI or app factory fills from the settings object."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BindMode(StrEnum):
    """One transceiver bind, or a transmitter and a receiver on two connections."""

    TRANSCEIVER = "transceiver"
    TRANSMITTER_RECEIVER = "transmitter_receiver"


@dataclass(frozen=True)
class ClientConfig:
    """Everything the ESME client needs to know; times are seconds."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: BindMode = BindMode.TRANSCEIVER
    source_addr: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1  # international: destinations are stored as E.164
    dest_addr_npi: int = 1
    window: int = 10
    tps: float | None = None  # None or 0: no rate limit
    registered_delivery: int = 1  # ask for a final receipt
    use_sar: bool = False
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    retry_min_s: float = 0.05
    retry_max_s: float = 5.0
    max_attempts: int = 20
    reassembly_ttl_s: float = 600.0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window: must be at least 1, got {self.window}")
        if self.tps is not None and self.tps < 0:
            raise ValueError(f"tps: must not be negative, got {self.tps}")
