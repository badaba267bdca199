"""Which characters a stored text may hold: ids strictly, free text (customer attributes) less so.

No text may hold:
- a lone surrogate: it cannot be encoded, so it can be neither stored nor shown nor exported;
- a control character: PostgreSQL text cannot hold NUL, XLSX cells refuse the other C0 controls;
- a bidi embedding, override or isolate (U+202A-U+202E, U+2066-U+2069): it reorders how a dashboard
  or an export shows the text after it ("Trojan Source"), and right-to-left letters are shown the
  right way without them.

Free text may hold tabs and line breaks (a note typed in Excel with Alt+Enter) and invisible format
characters such as the zero-width joiner of emoji. Ids (source, external id, outlet, staff id, …) are
matched and shown as they are, so they may hold none of these: two ids that look alike are the same.
"""
from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FREE_TEXT_CONTROLS = frozenset("\t\n\r")


def text_problem(text: str, *, free: bool = False) -> str | None:
    """Why text cannot be stored as an id (or, free=True, as free text); None when it can."""
    if text.isprintable():  # the common case, in C: no control, format, surrogate or separator
        return None
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            return f"contains a lone surrogate (U+{ord(char):04X})"
        if category == "Cc" and not (free and char in FREE_TEXT_CONTROLS):
            return f"contains a control character (U+{ord(char):04X})"
        if char in BIDI_CONTROLS:
            return f"contains a bidirectional control (U+{ord(char):04X})"
        if not free and category == "Cf":
            return f"contains an invisible format character (U+{ord(char):04X})"
        if not free and category in ("Zl", "Zp"):
            return f"contains a line break (U+{ord(char):04X})"
    return None  # spaces other than ' ' (U+3000, NBSP), private use and unassigned code points
