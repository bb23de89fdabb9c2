"""Vietnamese name order: worked examples, and properties against a reference comparison.

The reference compares Python tuples built from a table of precomposed letters, not the ASCII
keys built from decomposed text, so the two implementations can disagree when one is wrong.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.vietnamese import name_sort_key, sorted_by_name, split_full_name, text_sort_key

ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
TONE_MARKS = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")  # ngang huyền hỏi ngã sắc nặng
_BASES = {"ă": "a\u0306", "â": "a\u0302", "ê": "e\u0302", "ô": "o\u0302", "ơ": "o\u031b"}
_BASES["ư"] = "u\u031b"


def _spelled(letter: str) -> str:
    return _BASES.get(letter, letter)


# Precomposed (NFC) character → (letter index, tone), upper and lower case.
TABLE: dict[str, tuple[int, int]] = {}
for _index, _letter in enumerate(ALPHABET):
    for _tone, _mark in enumerate(TONE_MARKS):
        if _letter == "đ" and _mark:
            continue
        _char = unicodedata.normalize("NFC", _spelled(_letter) + _mark)
        if len(_char) == 1:  # every vowel has a precomposed form; f j w z do not with tones
            TABLE[_char] = (_index, _tone)
            TABLE[_char.upper()] = (_index, _tone)


def _reference_levels(text: str) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    letters: list[tuple[int, ...]] = []
    tones: list[int] = []
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    for word in normalised.split(" ") if normalised else []:
        if letters:
            letters.append((0,))
        word_tones = [TABLE[c][1] for c in word if c in TABLE and TABLE[c][1]]
        tones.append(word_tones[0] if word_tones else 0)
        for char in word:
            if char in TABLE:
                letters.append((3, TABLE[char][0]))
            elif char.isascii() and char.isdigit():
                letters.append((2, int(char)))
            else:
                letters.append((1, ord(char)))
    return tuple(letters), tuple(tones)


def _reference_name(name: str) -> tuple[object, ...]:
    words = unicodedata.normalize("NFC", name).split()
    family, middle, given_ = (
        ("", "", words[-1] if words else "")
        if len(words) <= 1
        else (words[0], " ".join(words[1:-1]), words[-1])
    )
    exact = " ".join(words)
    return (
        _reference_levels(given_),
        _reference_levels(family),
        _reference_levels(middle),
        exact,
    )


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _reference_cmp(a: str, b: str) -> int:
    return _sign(_reference_name(a), _reference_name(b))


def _assert_ascending(names: list[str]) -> None:
    keys = [name_sort_key(n) for n in names]
    assert keys == sorted(keys), [names[keys.index(k)] for k in sorted(keys)]
    assert len(set(keys)) == len(keys)


# --- worked examples


def test_split_full_name_takes_family_first_and_given_last() -> None:
    assert split_full_name("Nguyễn Thị Minh Khai") == ("Nguyễn", "Thị Minh", "Khai")
    assert split_full_name("  Lê   Bình ") == ("Lê", "", "Bình")
    assert split_full_name("Khai") == ("", "", "Khai")
    assert split_full_name("") == ("", "", "")


def test_split_full_name_answers_nfc() -> None:
    family, middle, given_ = split_full_name(unicodedata.normalize("NFD", "Trần Thị Ánh"))
    assert (family, middle, given_) == ("Trần", "Thị", "Ánh")
    assert unicodedata.is_normalized("NFC", family + middle + given_)


def test_given_name_decides_before_family_name() -> None:
    _assert_ascending(["Nguyễn Văn An", "Trần Thị Ánh", "Lê Bình"])


def test_d_with_stroke_comes_after_d() -> None:
    _assert_ascending(["Nguyễn Dương", "Nguyễn Đào"])
    _assert_ascending(["Dương", "Đào"])
    assert text_sort_key("Dz") < text_sort_key("Đa")


def test_a_breve_and_circumflex_are_letters_of_their_own() -> None:
    _assert_ascending(["Lê An", "Lê Ăn", "Lê Ân", "Lê Ba"])
    _assert_ascending(["Lê Anh", "Lê Ăn"])  # ă is a later letter, whatever follows
    _assert_ascending(["Lê Em", "Lê Êm", "Lê Oanh", "Lê Ông", "Lê Ơn", "Lê Uy", "Lê Ưng"])


def test_tones_come_in_the_order_ngang_huyen_hoi_nga_sac_nang() -> None:
    _assert_ascending(["Ma", "Mà", "Mả", "Mã", "Má", "Mạ"])


def test_tones_only_count_when_the_letters_are_equal() -> None:
    _assert_ascending(["Mạ", "Mai"])  # a < ai decides before any tone
    _assert_ascending(["Lê Mạnh", "Lê Minh"])


def test_the_same_given_name_orders_by_family_then_middle() -> None:
    _assert_ascending(
        [
            "Lê An",
            "Lê Thị An",
            "Lê Văn An",
            "Nguyễn An",
            "Nguyễn Hoài An",
            "Phạm Thị An",
        ]
    )


def test_case_does_not_decide_but_breaks_ties() -> None:
    assert name_sort_key("lê an") < name_sort_key("Lê Bình")
    assert name_sort_key("LÊ AN") != name_sort_key("Lê An")
    # everything but the final tie-break is the same
    assert name_sort_key("LÊ AN").rsplit("!", 1)[0] == name_sort_key("Lê An").rsplit("!", 1)[0]


def test_the_foreign_letters_sit_where_latin_has_them() -> None:
    _assert_ascending(["Ec", "Ef", "Eg"])
    _assert_ascending(["Ji", "Ki"])
    _assert_ascending(["Va", "Wa", "Xa", "Ya", "Za"])


def test_nfc_nfd_extra_spaces_and_tone_placement_give_one_key() -> None:
    name = "Nguyễn Thị Hoà"
    assert name_sort_key(unicodedata.normalize("NFD", name)) == name_sort_key(name)
    assert name_sort_key("  Nguyễn   Thị Hoà ") == name_sort_key(name)
    assert text_sort_key(unicodedata.normalize("NFD", "Trường THCS Đồng Xoài")) == text_sort_key(
        "Trường THCS Đồng Xoài"
    )
    # hòa and hoà: the same letters and tone, told apart only by the final tie-break
    assert name_sort_key("Hòa").rsplit("!", 1)[0] == name_sort_key("Hoà").rsplit("!", 1)[0]
    assert name_sort_key("Hòa") != name_sort_key("Hoà")


def test_text_sort_key_keeps_the_words_in_place() -> None:
    subjects = ["Âm nhạc", "Công nghệ", "Giáo dục thể chất", "Lịch sử", "Ngữ văn", "Toán"]
    keys = [text_sort_key(s) for s in subjects]
    assert keys == sorted(keys)
    assert text_sort_key("An Bình") < text_sort_key("Anh")  # a space before any letter
    assert text_sort_key("Lớp 6") < text_sort_key("Lớp A")


def test_sorted_by_name_sorts_items_by_their_name_and_keeps_ties_stable() -> None:
    @dataclass
    class Pupil:
        name: str
        seat: int

    pupils = [Pupil("Lê Bình", 1), Pupil("Trần Thị Ánh", 2), Pupil("Nguyễn Văn An", 3)]
    pupils.append(Pupil("Lê Bình", 4))
    assert [p.seat for p in sorted_by_name(pupils, lambda p: p.name)] == [3, 2, 1, 4]


@pytest.mark.parametrize("name", ["Nguyễn Văn An", "Ōtani Shōhei", "李小龍", "O'Brien-Đỗ", ""])
def test_keys_are_printable_ascii(name: str) -> None:
    key = name_sort_key(name)
    assert key.isascii()
    assert key.isprintable()
    assert " " not in key


# --- properties against the reference

_LETTERS = [c for c in TABLE if len(c) == 1]
_chars = st.sampled_from([*_LETTERS, *"0123456789-'. ", "\u4e00"])
words = st.text(st.sampled_from(_LETTERS), min_size=1, max_size=4)
names = st.builds(
    lambda parts, pad: pad + (" " * (1 + len(pad))).join(parts) + pad,
    st.lists(words, min_size=1, max_size=4),
    st.sampled_from(["", " ", "  "]),
)
texts = st.text(_chars, max_size=8)


@settings(max_examples=400)
@given(names, names)
def test_name_keys_agree_with_the_reference_comparison(a: str, b: str) -> None:
    assert _sign(name_sort_key(a), name_sort_key(b)) == _sign(
        _reference_name(a), _reference_name(b)
    )


@settings(max_examples=400)
@given(texts, texts)
def test_text_keys_agree_with_the_reference_comparison(a: str, b: str) -> None:
    ref_a = (_reference_levels(a), " ".join(unicodedata.normalize("NFC", a).split()))
    ref_b = (_reference_levels(b), " ".join(unicodedata.normalize("NFC", b).split()))
    assert _sign(text_sort_key(a), text_sort_key(b)) == _sign(ref_a, ref_b)


@given(st.lists(names, max_size=12))
def test_sorting_by_the_key_is_the_reference_order(batch: list[str]) -> None:
    by_key = sorted(batch, key=name_sort_key)
    by_reference = sorted(
        batch,
        key=functools.cmp_to_key(_reference_cmp),
    )
    assert by_key == by_reference
    assert sorted_by_name(batch, str) == by_key


@given(names)
def test_a_key_is_ascii_and_ignores_the_normal_form(name: str) -> None:
    key = name_sort_key(name)
    assert key.isascii()
    assert key == name_sort_key(unicodedata.normalize("NFD", name))
    assert key == name_sort_key(unicodedata.normalize("NFC", name))
    assert text_sort_key(name) == text_sort_key(unicodedata.normalize("NFD", name))


@given(names, names, names)
def test_the_key_order_is_a_total_order(a: str, b: str, c: str) -> None:
    ka, kb, kc = name_sort_key(a), name_sort_key(b), name_sort_key(c)
    assert (ka == kb) == (" ".join(a.split()) == " ".join(b.split()))
    if ka <= kb <= kc:
        assert ka <= kc
