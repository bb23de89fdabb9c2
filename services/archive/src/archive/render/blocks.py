"""The small vocabulary a document body is written in, drawn by ``blocks`` in common.typ.

A body is a list of blocks (headings, label–value fields, tables, lines of text, page breaks)
holding only strings, so the template lays out and never decides; the same list goes into the
JSON twin as what was printed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from archive.render.layout import SlotSpec

Cell = str | dict[str, Any]


def nfc(text: str | None) -> str:
    """Text as printed: NFC (Vietnamese letters precomposed), ``None`` as blank."""
    return "" if text is None else unicodedata.normalize("NFC", text)


def vn_date(value: date | None) -> str:
    return "" if value is None else value.strftime("%d/%m/%Y")


def heading(text: str, level: int = 1) -> dict[str, Any]:
    return {"type": "heading", "text": text, "level": level}


def fields(items: Sequence[tuple[str, str]], columns: int = 2, size: float = 10) -> dict[str, Any]:
    """Label: value pairs, ``columns`` pairs a row; a blank value prints as a dotted line."""
    return {
        "type": "fields",
        "columns": columns,
        "size": size,
        "items": [[label, nfc(value)] for label, value in items],
    }


def text(
    body: str, *, size: float = 10, italic: bool = False, bold: bool = False
) -> dict[str, Any]:
    return {"type": "text", "text": nfc(body), "size": size, "italic": italic, "bold": bold}


def pagebreak() -> dict[str, Any]:
    return {"type": "pagebreak"}


def span(body: str, colspan: int = 1, rowspan: int = 1, align: str = "center") -> dict[str, Any]:
    return {"text": nfc(body), "colspan": colspan, "rowspan": rowspan, "align": align}


def table(
    widths: Sequence[float | str],
    header: Sequence[Sequence[Cell]],
    rows: Sequence[Sequence[Cell]],
    *,
    align: Sequence[str] | None = None,
    size: float = 9,
) -> dict[str, Any]:
    """A table; ``widths`` in points, ``"1fr"`` or ``"auto"``; header rows repeat on each page."""
    return {
        "type": "table",
        "widths": list(widths),
        "align": list(align) if align is not None else ["center"] * len(widths),
        "header": [list(r) for r in header],
        "rows": [[c if isinstance(c, dict) else nfc(c) for c in r] for r in rows],
        "size": size,
    }


@dataclass(slots=True)
class Body:
    """A document's printed content and who signs it."""

    title: str
    subtitle: str
    identity: dict[str, Any]
    blocks: list[dict[str, Any]]
    subject_slots: list[SlotSpec] = field(default_factory=list)
    main_slots: list[SlotSpec] = field(default_factory=list)
    landscape: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "identity": self.identity,
            "blocks": self.blocks,
        }
