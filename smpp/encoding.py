"""Text <-> SMS octets: GSM 03.38 when the text fits, UCS2 otherwise; segmentation and decoding.

Segments never split a surrogate pair, a GSM escape or a user-perceived character (an emoji with
its skin tone, variation selector or ZWJ partners, a base letter with its combining marks, a flag).
The multipart reference is passed in: segmentation is a pure function of its arguments.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterator

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_ESCAPE = 0x1B
# Extension table: each character costs two septets (ESC + code), so it must never straddle a segment.
GSM_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                 "]": 0x3E, "|": 0x40, "€": 0x65}

_GSM_ENCODE = {ch: code for code, ch in enumerate(GSM_BASIC) if code != GSM_ESCAPE}
_GSM_DECODE = dict(enumerate(GSM_BASIC))
_GSM_EXT_DECODE = {code: ch for ch, code in GSM_EXTENSION.items()}

DC_GSM = 0x00
DC_ASCII = 0x01
DC_BINARY = 0x02
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40

GSM_SINGLE, GSM_MULTI = 160, 153  # septets
UCS2_SINGLE, UCS2_MULTI = 70, 67  # UTF-16 code units
MAX_SEGMENTS = 255

_ZWJ = "\u200d"
_KEYCAP = "\u20e3"


class MessageTooLong(ValueError):
    """The text needs more than 255 segments."""


@dataclass(frozen=True)
class Part:
    """One submit_sm worth of text: the octets (with UDH if any) and its SAR numbering."""

    short_message: bytes
    text: str
    seqnum: int  # 1-based
    total: int
    sar_msg_ref_num: int | None = None

    @property
    def sar(self) -> tuple[int, int, int] | None:
        """(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum), None without SAR."""
        if self.sar_msg_ref_num is None:
            return None
        return self.sar_msg_ref_num, self.total, self.seqnum

    def optional_params(self) -> dict[str, int]:
        """SAR TLVs for this part, empty when the message is single or uses UDH."""
        if self.sar_msg_ref_num is None:
            return {}
        return {"sar_msg_ref_num": self.sar_msg_ref_num, "sar_total_segments": self.total,
                "sar_segment_seqnum": self.seqnum}


@dataclass(frozen=True)
class Segments:
    """A message ready to submit: its parts, data_coding and esm_class."""

    parts: tuple[Part, ...]
    data_coding: int
    esm_class: int


def is_gsm(text: str) -> bool:
    """True when every character exists in the GSM default alphabet or its extension table."""
    return all(ch in _GSM_ENCODE or ch in GSM_EXTENSION for ch in text)


def gsm_septets(text: str) -> int:
    """Septets the text needs in GSM 03.38 (extension characters count two)."""
    return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)


def gsm_encode(text: str) -> bytes:
    """Encode as unpacked GSM septets, one per octet, as SMPP carries them with data_coding 0."""
    out = bytearray()
    for ch in text:
        code = _GSM_ENCODE.get(ch)
        if code is not None:
            out.append(code)
        else:
            out += bytes((GSM_ESCAPE, GSM_EXTENSION[ch]))
    return bytes(out)


def gsm_decode(data: bytes) -> str:
    """Decode unpacked GSM septets; an unknown escape yields the base character, as handsets do."""
    out: list[str] = []
    escaped = False
    for octet in data:
        octet &= 0x7F
        if escaped:
            out.append(_GSM_EXT_DECODE.get(octet, _GSM_DECODE[octet]))
            escaped = False
        elif octet == GSM_ESCAPE:
            escaped = True
        else:
            out.append(_GSM_DECODE[octet])
    return "".join(out)


def _joins_previous(prev: str, ch: str) -> bool:
    """Whether ch belongs to the same user-perceived character as prev (a small grapheme rule set)."""
    cp = ord(ch)
    if prev == _ZWJ or ch == _ZWJ or ch == _KEYCAP:
        return True
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:  # skin tones, tag sequences
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def clusters(text: str) -> Iterator[str]:
    """Split text into user-perceived characters, keeping emoji sequences and flags whole."""
    current = ""
    regional_run = 0
    for ch in text:
        is_regional = 0x1F1E6 <= ord(ch) <= 0x1F1FF
        # Regional indicators pair up into flags: the second of each pair joins the first.
        joins_flag = is_regional and regional_run % 2 == 1
        if current and (joins_flag or _joins_previous(current[-1], ch)):
            current += ch
        else:
            if current:
                yield current
            current = ch
        regional_run = regional_run + 1 if is_regional else 0
    if current:
        yield current


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def _pack(text: str, gsm: bool, limit: int) -> list[str]:
    """Greedy packing of whole clusters into chunks of at most limit units."""
    cost = gsm_septets if gsm else _ucs2_units
    chunks: list[str] = []
    current, used = "", 0
    for cluster in clusters(text):
        size = cost(cluster)
        if size > limit:
            # A pathological cluster longer than a segment: fall back to code points, which
            # still keeps surrogate pairs and GSM escapes intact.
            pieces = list(cluster)
        else:
            pieces = [cluster]
        for piece in pieces:
            size = cost(piece)
            if used + size > limit and current:
                chunks.append(current)
                current, used = "", 0
            current += piece
            used += size
    if current or not chunks:
        chunks.append(current)
    return chunks


def segment_count(text: str) -> int:
    """How many segments segment() cuts text into (what a text costs to send)."""
    gsm = is_gsm(text)
    if (gsm_septets(text) if gsm else _ucs2_units(text)) <= (GSM_SINGLE if gsm else UCS2_SINGLE):
        return 1
    return len(_pack(text, gsm, GSM_MULTI if gsm else UCS2_MULTI))


def segment(text: str, *, ref: int, use_sar: bool = False) -> Segments:
    """Encode and split text into submit_sm parts sharing the reference ref."""
    gsm = is_gsm(text)
    data_coding = DC_GSM if gsm else DC_UCS2
    encode = gsm_encode if gsm else (lambda t: t.encode("utf-16-be"))
    single = GSM_SINGLE if gsm else UCS2_SINGLE
    length = gsm_septets(text) if gsm else _ucs2_units(text)
    if length <= single:
        return Segments((Part(encode(text), text, 1, 1),), data_coding, 0)
    chunks = _pack(text, gsm, GSM_MULTI if gsm else UCS2_MULTI)
    total = len(chunks)
    if total > MAX_SEGMENTS:
        raise MessageTooLong(f"text needs {total} segments, at most {MAX_SEGMENTS} are possible")
    parts = []
    for seq, chunk in enumerate(chunks, start=1):
        if use_sar:
            parts.append(Part(encode(chunk), chunk, seq, total, sar_msg_ref_num=ref & 0xFFFF))
        else:
            # 05 00 03: IEI 0 carries an 8-bit reference, so only the low byte of ref travels.
            udh = bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))
            parts.append(Part(udh + encode(chunk), chunk, seq, total))
    return Segments(tuple(parts), data_coding, 0 if use_sar else ESM_UDHI)


def alphabet(data_coding: int) -> str:
    """Name the alphabet of a data_coding value: 'gsm', 'ascii', 'latin1', 'ucs2' or 'binary'."""
    named = {DC_GSM: "gsm", DC_ASCII: "ascii", DC_LATIN1: "latin1", DC_UCS2: "ucs2"}
    if data_coding in named:
        return named[data_coding]
    if data_coding & 0xF0 == 0xF0:  # message class group: bit 2 chooses 8-bit over GSM
        return "binary" if data_coding & 0x04 else "gsm"
    if 0x10 <= data_coding < 0x80:  # GSM 03.38 general groups: bits 3-2 are the alphabet
        return ("gsm", "binary", "ucs2", "gsm")[(data_coding >> 2) & 0x03]
    if data_coding & 0xF0 == 0xE0:  # message waiting group, UCS2
        return "ucs2"
    return "binary"


def _looks_like_gsm(data: bytes) -> bool:
    # Printable ASCII means the same thing in both tables except a few symbols; control bytes
    # (other than CR/LF) only make sense as GSM characters such as @, £, é or an escape.
    return any(b < 0x20 and b not in (0x0A, 0x0D) for b in data)


def decode(short_message: bytes, data_coding: int) -> str:
    """Decode an MO or receipt body leniently: SMSCs often send ASCII or UTF-8 under data_coding 0."""
    kind = alphabet(data_coding)
    if kind == "ucs2":
        data = short_message[: len(short_message) // 2 * 2]
        return data.decode("utf-16-be", errors="replace")
    if kind == "latin1":
        return short_message.decode("latin-1")
    if kind in ("gsm", "ascii"):
        if any(b >= 0x80 for b in short_message):
            try:
                return short_message.decode("utf-8")
            except UnicodeDecodeError:
                return short_message.decode("latin-1")
        if kind == "gsm" and _looks_like_gsm(short_message):
            return gsm_decode(short_message)
        return short_message.decode("ascii")
    return short_message.decode("latin-1")
