"""Worked examples of the password policy."""

from __future__ import annotations

import pytest

from identity.domain import PasswordContext, check_password

NOBODY = PasswordContext()
TEACHER = PasswordContext(username="nguyenvanan", email="an.nguyen@thpt-nguyendu.edu.vn")


def _codes(password: str, context: PasswordContext = NOBODY) -> set[str]:
    return {p.code for p in check_password(password, user_context=context)}


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Trời hôm nay xanh lắm", "k7#Qm2vLp9xZ", "sáu chữ cá bơi"],
)
def test_long_or_passphrase_passwords_are_accepted(password: str) -> None:
    assert check_password(password, user_context=TEACHER) == []


@pytest.mark.parametrize("password", ["", " ", "\t\n  "])
def test_blank_password_is_refused_alone(password: str) -> None:
    problems = check_password(password, user_context=NOBODY)
    assert [p.code for p in problems] == ["password_blank"]


def test_password_under_twelve_characters_is_too_short() -> None:
    assert "password_too_short" in _codes("k7#Qm2vLp9x")
    assert "password_too_short" not in _codes("k7#Qm2vLp9xZ")


def test_short_passphrase_of_four_words_is_accepted() -> None:
    assert _codes("ca bo ga vo") == set()
    assert "password_too_short" in _codes("ca bo ga")  # three words are not a passphrase


def test_password_over_128_characters_is_too_long() -> None:
    assert "password_too_long" in _codes("k7#Qm2vLp9xZ" * 11)


def test_password_of_few_distinct_characters_is_repetitive() -> None:
    assert "password_repetitive" in _codes("aaaaaaaaaaaa")
    assert "password_repetitive" in _codes("abababababab")


@pytest.mark.parametrize(
    "password",
    ["matkhau123", "Mật khẩu 123", "MATKHAU@123", "123456789", "anhyeuem123", "Password123"],
)
def test_common_passwords_are_refused_whatever_the_case_accents_or_spaces(password: str) -> None:
    assert "password_too_common" in _codes(password)


@pytest.mark.parametrize("password", ["matkhau2024!!!", "Admin1234567890", "quantri@2025.."])
def test_common_words_with_digits_appended_are_refused(password: str) -> None:
    assert "password_too_common" in _codes(password)


def test_password_containing_the_username_is_refused() -> None:
    assert "password_contains_username" in _codes("NguyenVanAn2025!", TEACHER)
    assert "password_contains_username" in _codes("nguyễn văn an rất vui", TEACHER)


def test_password_containing_the_email_local_part_is_refused() -> None:
    assert "password_contains_email" in _codes("an.nguyen-secure-2025", TEACHER)


def test_password_equal_to_the_username_is_refused() -> None:
    assert "password_contains_username" in _codes("nguyenvanan", TEACHER)


def test_very_short_user_names_are_not_matched() -> None:
    assert _codes("an ninh trật tự tốt", PasswordContext(username="an")) == set()


def test_every_problem_has_a_vietnamese_message() -> None:
    problems = check_password("matkhau", user_context=PasswordContext(username="matkhau"))
    assert {p.code for p in problems} >= {"password_too_short", "password_too_common"}
    assert all(p.message_vi.startswith("Mật khẩu") for p in problems)
