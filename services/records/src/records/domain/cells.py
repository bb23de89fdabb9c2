"""What a cell of a grade sheet may hold, and its one canonical spelling.

Every write path (the JSON sheet API, the Excel import, bulk loaders) parses a teacher's input
with ``parse_cell``; the database, events and rules only ever see the canonical strings:

=====================  ==========================================  ===========================
kind                   accepts                                     canonical
=====================  ==========================================  ===========================
``score_1dp``          0–10 with at most one decimal; "7,5" too    "7.5", "8.0", "10.0"
``score_int``          whole numbers 1–10 (primary periodic test)  "7"
``pass_fail``          Đ / Đạt / CĐ / Chưa đạt (any case, no marks) "D" / "CD"
``subject_level``      T / H / C (Hoàn thành tốt / Hoàn thành / …)  "T" / "H" / "C"
``quality_level``      T / Đ / C (Tốt / Đạt / Cần cố gắng)          "T" / "D" / "C"
``conduct_level``      T / K / Đ / CĐ (Tốt / Khá / Đạt / Chưa đạt)  "T" / "K" / "D" / "CD"
``comment``            any text up to 1,000 characters             trimmed text
=====================  ==========================================  ===========================

Scores are Decimal, never float (DOMAIN §1.2): "7.25" is refused, not rounded, because a
teacher's score with two decimals is a typing error, not something to guess at.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from records.domain.errors import DomainError

COMMENT_MAX_LENGTH: Final = 1000
_SCORE_MAX: Final = Decimal(10)
_ONE_DECIMAL: Final = Decimal("0.1")
_NUMBER: Final = re.compile(r"^[0-9]{1,2}(?:[.,][0-9]+)?$")


class CellKind(StrEnum):
    SCORE_1DP = "score_1dp"
    SCORE_INT = "score_int"
    PASS_FAIL = "pass_fail"  # noqa: S105 - Đạt / Chưa đạt, not a password
    SUBJECT_LEVEL = "subject_level"
    QUALITY_LEVEL = "quality_level"
    CONDUCT_LEVEL = "conduct_level"
    COMMENT = "comment"


def _fold(text: str) -> str:
    """Upper-case, without tone marks or spaces; Đ becomes D so "Đạt" and "dat" meet."""
    text = text.strip().upper().replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


_LEVELS: Final[dict[CellKind, dict[str, str]]] = {
    CellKind.PASS_FAIL: {"D": "D", "DAT": "D", "CD": "CD", "CHUADAT": "CD"},
    CellKind.SUBJECT_LEVEL: {
        "T": "T",
        "HOANTHANHTOT": "T",
        "HTT": "T",
        "H": "H",
        "HOANTHANH": "H",
        "HT": "H",
        "C": "C",
        "CHUAHOANTHANH": "C",
        "CHT": "C",
    },
    CellKind.QUALITY_LEVEL: {
        "T": "T",
        "TOT": "T",
        "D": "D",
        "DAT": "D",
        "C": "C",
        "CANCOGANG": "C",
        "CCG": "C",
    },
    CellKind.CONDUCT_LEVEL: {
        "T": "T",
        "TOT": "T",
        "K": "K",
        "KHA": "K",
        "D": "D",
        "DAT": "D",
        "CD": "CD",
        "CHUADAT": "CD",
    },
}

_EXPECTED_VI: Final[dict[CellKind, str]] = {
    CellKind.SCORE_1DP: "điểm từ 0 đến 10, tối đa một chữ số thập phân",
    CellKind.SCORE_INT: "điểm số nguyên từ 1 đến 10",
    CellKind.PASS_FAIL: "Đ (Đạt) hoặc CĐ (Chưa đạt)",
    CellKind.SUBJECT_LEVEL: "T, H hoặc C",
    CellKind.QUALITY_LEVEL: "T, Đ hoặc C",
    CellKind.CONDUCT_LEVEL: "T, K, Đ hoặc CĐ",
    CellKind.COMMENT: f"nhận xét không quá {COMMENT_MAX_LENGTH} ký tự",
}


class CellInvalid(DomainError):  # noqa: N818 - named as the domain says it
    """A cell's value does not fit its column; ``expected_vi`` says what would."""

    def __init__(self, kind: CellKind, raw: object) -> None:
        self.kind = kind
        self.expected_vi = _EXPECTED_VI[kind]
        shown = str(raw)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        super().__init__(
            "cell-invalid",
            f"Giá trị không hợp lệ: cần {self.expected_vi}",
            f"{shown!r} is not a valid {kind}",
        )


def expected_vi(kind: CellKind) -> str:
    return _EXPECTED_VI[kind]


def _decimal(kind: CellKind, raw: object) -> Decimal:
    if isinstance(raw, bool):
        raise CellInvalid(kind, raw)
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        # Excel stores 7.5 as a binary float; repr gives the shortest decimal that round-trips.
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        return raw
    text = str(raw).strip()
    if not _NUMBER.match(text):
        raise CellInvalid(kind, raw)
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise CellInvalid(kind, raw) from None


def parse_cell(kind: CellKind, raw: object) -> str | None:
    """The canonical value of ``raw`` in a column of ``kind``; ``None`` clears the cell.

    Raises ``CellInvalid`` with a Vietnamese title for anything else.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind is CellKind.COMMENT:
        text = unicodedata.normalize("NFC", str(raw)).strip()
        if len(text) > COMMENT_MAX_LENGTH:
            raise CellInvalid(kind, raw)
        return text
    if kind is CellKind.SCORE_1DP:
        value = _decimal(kind, raw)
        if not value.is_finite() or value < 0 or value > _SCORE_MAX:
            raise CellInvalid(kind, raw)
        if value != value.quantize(_ONE_DECIMAL):
            raise CellInvalid(kind, raw)
        return str(value.quantize(_ONE_DECIMAL))
    if kind is CellKind.SCORE_INT:
        value = _decimal(kind, raw)
        if not value.is_finite() or value != value.to_integral_value() or not 1 <= value <= 10:
            raise CellInvalid(kind, raw)
        return str(int(value))
    if not isinstance(raw, str):
        raise CellInvalid(kind, raw)
    canonical = _LEVELS[kind].get(_fold(raw))
    if canonical is None:
        raise CellInvalid(kind, raw)
    return canonical


# How each canonical level is shown to people (sheets, Excel, documents).
LEVEL_LABELS_VI: Final[dict[CellKind, dict[str, str]]] = {
    CellKind.PASS_FAIL: {"D": "Đ", "CD": "CĐ"},
    CellKind.SUBJECT_LEVEL: {"T": "T", "H": "H", "C": "C"},
    CellKind.QUALITY_LEVEL: {"T": "T", "D": "Đ", "C": "C"},
    CellKind.CONDUCT_LEVEL: {"T": "T", "K": "K", "D": "Đ", "CD": "CĐ"},
}


def display_vi(kind: CellKind, canonical: str) -> str:
    """The canonical value as a teacher writes it: "Đ" for "D", a score as is."""
    labels = LEVEL_LABELS_VI.get(kind)
    return labels.get(canonical, canonical) if labels else canonical
