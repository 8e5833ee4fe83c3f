"""Untrusted text made safe to show: ids and names come from the host's data, not from us."""

from __future__ import annotations

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(character: str) -> str:
    if character in _SHORT:
        return _SHORT[character]
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: str) -> str:
    """``value`` with every character a terminal or a chat client could act on written out as an
    escape (``\\x1b``, ``\\n``, ``\\u202e``): control characters (C0, DEL, C1), format characters
    (bidirectional overrides, zero-width characters), line and paragraph separators, and every
    other character Python does not call printable. Printable text, spaces included, is unchanged."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else _escape(c) for c in value)
