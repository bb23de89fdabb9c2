"""The visible signature stamp: three Vietnamese lines in DejaVu Sans.

pyHanko's default stamp font (Courier, a PDF standard font) has no Vietnamese letters, so the
stamp embeds a font: DejaVu Sans (Debian's fonts-dejavu-core), through pyHanko's OpenType
engine. Subsetting the whole of DejaVu Sans for every signature cost ~85 ms, mostly decoding its
large kerning and positioning tables, so once per process the font is cut down to the Latin and
Vietnamese letters and stripped of those tables. Text is NFC-normalised, so every Vietnamese
letter is one precomposed glyph and needs no mark positioning; the stamp loses only kerning.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from fontTools import subset  # type: ignore[import-untyped]  # fontTools ships no types
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fontTools ships no types
from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]  # no types
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStampStyle

VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")
FONT: Final = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_SIZE: Final = 9
LEADING: Final = 13  # room for stacked Vietnamese diacritics (ễ, ộ) between lines
TEMPLATE: Final = "Ký bởi: %(name)s\nVai trò: %(role)s\nThời gian: %(time)s (giờ Việt Nam)"
# What a stamp can show: Basic Latin and Latin-1, the twelve Vietnamese letters of Latin
# Extended-A/B (Ă ă Đ đ Ĩ ĩ Ũ ũ Ơ ơ Ư ư), the Vietnamese block of Latin Extended Additional
# (Ạ … ỹ), dashes, quotes and the ellipsis. Text is NFC-normalised, so no combining marks.
# pyHanko re-subsets the font on every signature and its cost follows the glyph count: ~300
# here against ~1,050 for the whole Latin range (+15 ms a signature).
_CODEPOINTS: Final = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x100),
    0x102,
    0x103,
    0x110,
    0x111,
    0x128,
    0x129,
    0x168,
    0x169,
    0x1A0,
    0x1A1,
    0x1AF,
    0x1B0,
    *range(0x1EA0, 0x1EFA),
    0x2013,
    0x2014,
    0x2018,
    0x2019,
    0x201C,
    0x201D,
    0x2026,
)


@dataclass(frozen=True, slots=True)
class StampText:
    """What the visible stamp says: who signed, in which role, when (shown in Việt Nam time)."""

    name: str
    role: str
    signed_at: datetime

    def params(self) -> dict[str, str]:
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at must be an aware datetime")
        local = self.signed_at.astimezone(VIETNAM)
        return {
            "name": unicodedata.normalize("NFC", self.name),
            "role": unicodedata.normalize("NFC", self.role),
            "time": local.strftime("%d/%m/%Y %H:%M:%S"),
        }

    def lines(self) -> list[str]:
        return (TEMPLATE % self.params()).splitlines()


@cache
def stamp_font() -> bytes:
    """DejaVu Sans cut down to Latin and Vietnamese, without layout tables."""
    if not FONT.exists():
        raise FileNotFoundError(
            f"{FONT} is missing: install Debian's fonts-dejavu-core (scripts/setup.sh does)"
        )
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(str(FONT))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_CODEPOINTS)
    subsetter.subset(font)
    # pyHanko 0.38 writes glyph widths (/W) in font units, but PDF wants thousandths of an em;
    # DejaVu has 2048 units per em, so every glyph would advance twice as far as drawn.
    scale_upem(font, 1000)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


class _StampFont(FontEngineFactory):
    """pyHanko's OpenType glyph accumulator over the in-memory font."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object = None
    ) -> GlyphAccumulator:
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(stamp_font()),
            font_size=FONT_SIZE,
            bcp47_lang_code="vi",
            obj_stream=obj_stream,
        )


@cache
def stamp_style() -> TextStampStyle:
    return TextStampStyle(
        stamp_text=TEMPLATE,
        text_box_style=TextBoxStyle(font=_StampFont(), font_size=FONT_SIZE, leading=LEADING),
        border_width=1,
        background=None,
    )
