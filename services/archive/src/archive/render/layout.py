"""Page geometry and the signature block: where each signer's stamp goes, decided here.

The block is a fixed-size float at the bottom of the last page's text area; Python computes
every label and box inside it in whole points and the template only places them, so the boxes
handed to the signing service are known without reading the PDF back. PDF coordinates count
from the bottom-left corner of the page; the block's bottom edge is the bottom margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from common.events.signing import SignerRole


@dataclass(frozen=True, slots=True)
class PageSize:
    width: float
    height: float


A4_PORTRAIT: Final = PageSize(595.276, 841.89)
A4_LANDSCAPE: Final = PageSize(841.89, 595.276)


@dataclass(frozen=True, slots=True)
class Margins:
    left: int = 42
    right: int = 42
    top: int = 40
    bottom: int = 56  # room for the footer


MARGINS: Final = Margins()

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SignatureSlot:
    """Where one signer stamps: ``page`` counts from 0 (signing's ``Placement``), ``box`` is
    ``(x1, y1, x2, y2)`` in PDF points from the page's bottom-left corner."""

    role: SignerRole
    field: str
    page: int
    box: Box
    label: str


@dataclass(frozen=True, slots=True)
class SlotSpec:
    role: SignerRole
    field: str
    label: str
    hint: str = ""


HOMEROOM: Final = SlotSpec(
    SignerRole.HOMEROOM_TEACHER, "homeroom_teacher", "Giáo viên chủ nhiệm", "(Ký, ghi rõ họ tên)"
)
LEADER: Final = SlotSpec(
    SignerRole.SCHOOL_LEADER,
    "school_leader",
    "Hiệu trưởng",
    "(Ký, ghi rõ họ tên và đóng dấu)",
)
SEAL: Final = SlotSpec(
    SignerRole.SCHOOL_SEAL, "school_seal", "Xác nhận của nhà trường", "(Chữ ký số của nhà trường)"
)


def subject_slot(code: str, name_vi: str) -> SlotSpec:
    return SlotSpec(SignerRole.SUBJECT_TEACHER, f"subject_teacher.{code}", name_vi)


_GAP: Final = 10
_SUBJECT_LABEL: Final = 20  # two lines of 8 pt: a long subject name wraps, never into its box
_SUBJECT_BOX: Final = 46
_MAIN_LABEL: Final = 24
_MAIN_BOX: Final = 72
_LINE: Final = 14
_LABEL_GAP: Final = 3  # between a label's descenders and its box


@dataclass(frozen=True, slots=True)
class _Placed:
    spec: SlotSpec
    dx: int
    dy: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class SignatureBlock:
    """The laid-out block: its size, its texts and its boxes, relative to its top-left."""

    width: int
    height: int
    texts: tuple[dict[str, Any], ...]
    placed: tuple[_Placed, ...]

    def view(self) -> dict[str, Any]:
        """What the template draws (``signatures`` in common.typ)."""
        return {
            "width": self.width,
            "height": self.height,
            "texts": list(self.texts),
            "slots": [
                {"field": p.spec.field, "dx": p.dx, "dy": p.dy, "w": p.w, "h": p.h}
                for p in self.placed
            ],
        }

    def slots(self, page: int, margins: Margins = MARGINS) -> list[SignatureSlot]:
        """The boxes in PDF coordinates, the block sitting on the bottom margin of ``page``."""
        top = margins.bottom + self.height
        return [
            SignatureSlot(
                p.spec.role,
                p.spec.field,
                page,
                (margins.left + p.dx, top - p.dy - p.h, margins.left + p.dx + p.w, top - p.dy),
                p.spec.label,
            )
            for p in self.placed
        ]


def _text(  # noqa: PLR0917 - one positioned line
    text: str,
    dx: int,
    dy: int,
    w: int,
    h: int,
    size: float,
    *,
    bold: bool = False,
    align: str = "center",
) -> dict[str, Any]:
    return {
        "text": text,
        "dx": dx,
        "dy": dy,
        "w": w,
        "h": h,
        "size": size,
        "bold": bold,
        "align": align,
    }


def signature_block(
    page: PageSize,
    subjects: list[SlotSpec],
    main: list[SlotSpec],
    place_line: str,
    margins: Margins = MARGINS,
) -> SignatureBlock:
    """Subject teachers' boxes in a grid, then one row of the main signers (left to right)."""
    width = int(page.width) - margins.left - margins.right
    texts: list[dict[str, Any]] = [
        _text("XÁC NHẬN VÀ CHỮ KÝ SỐ", 0, 0, width, _LINE, 10, bold=True, align="left")
    ]
    placed: list[_Placed] = []
    y = _LINE + 4
    if subjects:
        texts.append(
            _text(
                "Giáo viên bộ môn ký xác nhận kết quả môn học, hoạt động giáo dục",
                0,
                y,
                width,
                _LINE,
                9,
                align="left",
            )
        )
        y += _LINE + 2
        columns = 3 if width < 600 else 4
        cell = (width - _GAP * (columns - 1)) // columns
        for i, spec in enumerate(subjects):
            row, col = divmod(i, columns)
            dx = col * (cell + _GAP)
            top = y + row * (_SUBJECT_LABEL + _SUBJECT_BOX + 8)
            texts.append(_text(spec.label, dx, top, cell, _SUBJECT_LABEL - _LABEL_GAP, 8))
            placed.append(_Placed(spec, dx, top + _SUBJECT_LABEL, cell, _SUBJECT_BOX))
        rows = -(-len(subjects) // columns)
        y += rows * (_SUBJECT_LABEL + _SUBJECT_BOX + 8)
    texts.append(_text(place_line, 0, y, width, _LINE, 9, align="right"))
    y += _LINE + 4
    cell = (width - _GAP * (len(main) - 1)) // max(1, len(main))
    for i, spec in enumerate(main):
        dx = i * (cell + _GAP)
        texts.append(_text(spec.label, dx, y, cell, 12, 10, bold=True))
        texts.append(_text(spec.hint, dx, y + 12, cell, _MAIN_LABEL - 12 - _LABEL_GAP, 8))
        placed.append(_Placed(spec, dx, y + _MAIN_LABEL, cell, _MAIN_BOX))
    y += _MAIN_LABEL + _MAIN_BOX
    if y > page.height - margins.top - margins.bottom:
        raise ValueError(f"{len(subjects)} subject signers do not fit on one page")
    return SignatureBlock(width, y, tuple(texts), tuple(placed))
