"""Vietnamese names and the order people expect lists of them in.

Class lists sort by given name (tên, the last word), then family name (họ, the first word),
then middle names (tên đệm). Inside each part, text compares the Vietnamese way, in three levels:

1. letters, case-insensitive, in the alphabet's order
   ``a ă â b c d đ e ê (f) g h i (j) k l m n o ô ơ p q r s t u ư v (w) x y (z)``
   — the foreign letters sit where Latin has them; digits before letters, anything else
   (punctuation, other scripts) before digits by code point, a space before all of them;
2. tone marks, only when the letters are equal, syllable by syllable:
   ngang < huyền < hỏi < ngã < sắc < nặng;
3. the name itself (NFC, spaces collapsed) by code point, so the order is total.

``name_sort_key`` and ``text_sort_key`` spell this order as plain ASCII whose byte order (Python
``str`` order, PostgreSQL ``COLLATE "C"``) is the Vietnamese order, so a database can index and
``ORDER BY`` a stored key without an ICU collation. NFC and NFD spellings, extra spaces and
where a tone mark sits (``hòa`` / ``hoà``) give the same key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

T = TypeVar("T")

# The key's alphabet, lowest first. ``_END`` closes a level or a part; it sorts below every
# other character of a key, so a shorter part sorts before a longer one it begins.
_END: Final = "!"
_SPACE: Final = "#"
_OTHER: Final = "$"  # followed by six hex digits of the code point
_ALPHABET: Final = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
# 33 letters onto 'A'..'Z' then 'a'..'g': ascending, and all above the digits.
_LETTER_KEYS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"
_LETTER_KEY: Final[dict[str, str]] = dict(zip(_ALPHABET, _LETTER_KEYS, strict=True))

_BREVE: Final = "\u0306"
_CIRCUMFLEX: Final = "\u0302"
_HORN: Final = "\u031b"
# Letter + modifying mark → the Vietnamese letter it spells.
_MODIFIED: Final[dict[tuple[str, str], str]] = {
    ("a", _BREVE): "ă",
    ("a", _CIRCUMFLEX): "â",
    ("e", _CIRCUMFLEX): "ê",
    ("o", _CIRCUMFLEX): "ô",
    ("o", _HORN): "ơ",
    ("u", _HORN): "ư",
}
# Tone marks by weight: ngang (none) 0, huyền 1, hỏi 2, ngã 3, sắc 4, nặng 5.
_TONE: Final[dict[str, str]] = {
    "\u0300": "1",
    "\u0309": "2",
    "\u0303": "3",
    "\u0301": "4",
    "\u0323": "5",
}
_NO_TONE: Final = "0"
# Letters often typed in place of đ (the Icelandic eth looks the same).
_LOOKALIKES: Final[dict[str, str]] = {"ð": "đ"}


def normalise_spaces(text: str) -> str:
    """NFC, trimmed, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """(family, middle, given): "Nguyễn Thị Minh Khai" → ("Nguyễn", "Thị Minh", "Khai").

    One word is a given name alone, ("", "", "Khai"); the parts are NFC with single spaces.
    """
    words = normalise_spaces(full_name).split(" ")
    if len(words) == 1:
        return ("", "", words[0])
    return (words[0], " ".join(words[1:-1]), words[-1])


def _clusters(text: str) -> Iterable[tuple[str, str]]:
    """(base character, its combining marks) of ``text`` in NFD, lower-cased."""
    base = ""
    marks = ""
    for char in unicodedata.normalize("NFD", normalise_spaces(text).lower()):
        if unicodedata.combining(char) and base:
            marks += char
            continue
        if base:
            yield base, marks
        base, marks = char, ""
    if base:
        yield base, marks


def _levels(text: str) -> tuple[str, str]:
    """The letters level and the tones level of ``text``, each closed by ``_END``.

    A tone belongs to a syllable, not to the letter it is drawn on (``hòa`` and ``hoà`` are one
    word), so the tones level has one digit per word: its first tone mark, or ngang.
    """
    letters: list[str] = []
    tones: list[str] = []
    tone = _NO_TONE
    for base, marks in _clusters(text):
        char = _LOOKALIKES.get(base, base)
        if char in _LETTER_KEY:
            for mark in marks:
                char = _MODIFIED.get((char, mark), char)
                if tone == _NO_TONE:
                    tone = _TONE.get(mark, _NO_TONE)
            letters.append(_LETTER_KEY[char])
        elif char == " ":
            letters.append(_SPACE)
            tones.append(tone)
            tone = _NO_TONE
        elif "0" <= char <= "9":
            letters.append(char)
        else:
            letters.append(f"{_OTHER}{ord(char):06x}")
    if letters:
        tones.append(tone)
    return "".join(letters) + _END, "".join(tones) + _END


def _part_key(text: str) -> str:
    letters, tones = _levels(text)
    return letters + tones


def _exact(text: str) -> str:
    # UTF-8 bytes in hex: byte order of UTF-8 is code point order, and hex keeps it in ASCII.
    return normalise_spaces(text).encode().hex()


def text_sort_key(text: str) -> str:
    """An ASCII key whose plain order is the Vietnamese order of ``text`` (school or subject
    names, any text): letters, then tones, then the text itself."""
    return _part_key(text) + _exact(text)


def name_sort_key(full_name: str) -> str:
    """An ASCII key whose plain order is the order of a class list: given name, family name,
    middle names, each letters then tones; then the whole name. Storable in a text column."""
    family, middle, given = split_full_name(full_name)
    return _part_key(given) + _part_key(family) + _part_key(middle) + _exact(full_name)


def sorted_by_name(items: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """``items`` in class-list order of ``name(item)``; stable for equal names."""
    return sorted(items, key=lambda item: name_sort_key(name(item)))
