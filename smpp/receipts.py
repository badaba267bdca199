"""Delivery receipts: the SMPP 3.4 appendix B text, the receipt TLVs, and message id matching.

SMSCs write the same id in different forms in submit_sm_resp and in receipts (hex vs decimal,
zero padding, case), so ids are compared through `message_id_candidates`, never as raw strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from enum import StrEnum

RECEIPT_ESM_MASK = 0x3C
RECEIPT_ESM_VALUE = 0x04


class ReceiptStatus(StrEnum):
    """Final (or intermediate) state of a submitted segment, as the SMSC reports it."""

    ENROUTE = "ENROUTE"
    DELIVERED = "DELIVERED"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIVERABLE = "UNDELIVERABLE"
    ACCEPTED = "ACCEPTED"
    UNKNOWN = "UNKNOWN"
    REJECTED = "REJECTED"

    @property
    def is_final(self) -> bool:
        """False only for ENROUTE and ACCEPTED, which more receipts may follow."""
        return self not in (ReceiptStatus.ENROUTE, ReceiptStatus.ACCEPTED)


# The text uses 7-letter abbreviations; some SMSCs spell them out or use other cases.
_STAT_WORDS = {
    "DELIVRD": ReceiptStatus.DELIVERED, "DELIVERED": ReceiptStatus.DELIVERED,
    "EXPIRED": ReceiptStatus.EXPIRED, "DELETED": ReceiptStatus.DELETED,
    "UNDELIV": ReceiptStatus.UNDELIVERABLE, "UNDELIVERABLE": ReceiptStatus.UNDELIVERABLE,
    "ACCEPTD": ReceiptStatus.ACCEPTED, "ACCEPTED": ReceiptStatus.ACCEPTED,
    "UNKNOWN": ReceiptStatus.UNKNOWN, "REJECTD": ReceiptStatus.REJECTED,
    "REJECTED": ReceiptStatus.REJECTED, "ENROUTE": ReceiptStatus.ENROUTE,
}

# message_state TLV values (SMPP 3.4 section 5.2.28).
MESSAGE_STATES = {
    1: ReceiptStatus.ENROUTE, 2: ReceiptStatus.DELIVERED, 3: ReceiptStatus.EXPIRED,
    4: ReceiptStatus.DELETED, 5: ReceiptStatus.UNDELIVERABLE, 6: ReceiptStatus.ACCEPTED,
    7: ReceiptStatus.UNKNOWN, 8: ReceiptStatus.REJECTED,
}
STATE_CODES = {status: code for code, status in MESSAGE_STATES.items()}
STAT_ABBREVIATIONS = {
    ReceiptStatus.DELIVERED: "DELIVRD", ReceiptStatus.EXPIRED: "EXPIRED",
    ReceiptStatus.DELETED: "DELETED", ReceiptStatus.UNDELIVERABLE: "UNDELIV",
    ReceiptStatus.ACCEPTED: "ACCEPTD", ReceiptStatus.UNKNOWN: "UNKNOWN",
    ReceiptStatus.REJECTED: "REJECTD", ReceiptStatus.ENROUTE: "ENROUTE",
}


@dataclass(frozen=True)
class DeliveryReceipt:
    """A receipt for one submitted segment; message_id is as the SMSC wrote it."""

    message_id: str
    status: ReceiptStatus
    error: str | None = None
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    text: str = ""
    source: str = ""  # the subscriber the segment went to
    destination: str = ""  # our source address

    @property
    def canonical_id(self) -> str:
        """The id in canonical form (see canonical_message_id)."""
        return canonical_message_id(self.message_id)


def is_receipt_esm(esm_class: int) -> bool:
    """True when a deliver_sm's esm_class marks an SMSC delivery receipt."""
    return esm_class & RECEIPT_ESM_MASK == RECEIPT_ESM_VALUE


_FIELD = re.compile(
    r"(?P<key>id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:\s*", re.IGNORECASE)


def _split_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for i, match in enumerate(matches):
        key = match.group("key").lower().replace("_", " ")
        if key in fields:
            continue  # "text:" may itself contain "id:"; the first occurrence wins
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        if key == "text":
            fields[key] = text[match.end():]
            break
        fields[key] = text[match.end():end].strip()
    return fields


def parse_receipt_date(value: str | None, *, tz: tzinfo = timezone.utc) -> datetime | None:
    """Parse YYMMDDhhmm or YYMMDDhhmmss (in tz, default UTC) into an aware UTC datetime."""
    if not value:
        return None
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (10, 12):
        return None
    fmt = "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(digits, fmt).replace(tzinfo=tz).astimezone(timezone.utc)
    except ValueError:
        return None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def parse_receipt(text: str, *, tz: tzinfo = timezone.utc) -> DeliveryReceipt | None:
    """Parse the standard receipt text; None when it has no id or no recognisable stat."""
    fields = _split_fields(text)
    message_id = fields.get("id", "").strip()
    status = _STAT_WORDS.get(fields.get("stat", "").strip().upper())
    if not message_id or status is None:
        return None
    return DeliveryReceipt(
        message_id=message_id,
        status=status,
        error=fields.get("err") or None,
        submitted=_int_or_none(fields.get("sub")),
        delivered=_int_or_none(fields.get("dlvrd")),
        submit_date=parse_receipt_date(fields.get("submit date"), tz=tz),
        done_date=parse_receipt_date(fields.get("done date"), tz=tz),
        text=fields.get("text", ""),
    )


def receipt_from_deliver(text: str, *, receipted_message_id: str | None = None,
                         message_state: int | None = None, network_error: str | None = None,
                         source: str = "", destination: str = "",
                         tz: tzinfo = timezone.utc) -> DeliveryReceipt | None:
    """Build a receipt from a deliver_sm, preferring the TLVs over the text where both exist."""
    parsed = parse_receipt(text, tz=tz)
    message_id = (receipted_message_id or "").strip() or (parsed.message_id if parsed else "")
    status = MESSAGE_STATES.get(message_state or 0) or (parsed.status if parsed else None)
    if not message_id or status is None:
        return None
    base = parsed or DeliveryReceipt(message_id=message_id, status=status)
    return DeliveryReceipt(
        message_id=message_id, status=status, error=base.error or network_error,
        submitted=base.submitted, delivered=base.delivered, submit_date=base.submit_date,
        done_date=base.done_date, text=base.text, source=source, destination=destination)


def format_receipt(receipt: DeliveryReceipt) -> str:
    """Write the standard receipt text (used by the simulator and tests)."""
    def date(value: datetime | None) -> str:
        return value.astimezone(timezone.utc).strftime("%y%m%d%H%M%S") if value else ""

    return (f"id:{receipt.message_id} sub:{receipt.submitted or 1:03d} "
            f"dlvrd:{receipt.delivered or 0:03d} submit date:{date(receipt.submit_date)} "
            f"done date:{date(receipt.done_date)} stat:{STAT_ABBREVIATIONS[receipt.status]} "
            f"err:{receipt.error or '000'} text:{receipt.text[:20]}")


_HEX = re.compile(r"[0-9a-f]+")
MAX_ID_LENGTH = 64  # SMPP 3.4: a message_id is a C-Octet String of at most 65 octets with its NUL


def message_id_candidates(message_id: str) -> tuple[str, ...]:
    """Every canonical form the id may stand for: decimal and hex readings of digit-only ids."""
    cleaned = message_id.strip().strip("\x00").lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned:
        return ("",)
    if len(cleaned) > MAX_ID_LENGTH or not _HEX.fullmatch(cleaned):
        return (cleaned[:MAX_ID_LENGTH],)  # an over-long id has no numeric reading worth the cost
    forms = []
    if cleaned.isdigit():
        forms.append(str(int(cleaned, 10)))
    forms.append(str(int(cleaned, 16)))
    return tuple(dict.fromkeys(forms))


def canonical_message_id(message_id: str) -> str:
    """The id's most likely value as a decimal string (digit-only ids read as decimal, else hex)."""
    return message_id_candidates(message_id)[0]


def ids_match(a: str, b: str) -> bool:
    """True when two ids can denote the same message whatever their form."""
    return bool(set(message_id_candidates(a)) & set(message_id_candidates(b)))
