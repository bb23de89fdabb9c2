"""Password policy (chính sách mật khẩu), after NIST SP 800-63B: length over composition.

No rule about upper case, digits or symbols, which push people to ``Matkhau@123``; instead a
minimum length (or a passphrase of several words), a refusal of the passwords people pick first,
and of passwords built from the account's own name. Hashing is elsewhere (argon2id).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 128  # argon2id hashes any length; the bound stops request-sized inputs
PASSPHRASE_MIN_WORDS: Final = 4
PASSPHRASE_MIN_WORD_LENGTH: Final = 2
MIN_DISTINCT_CHARACTERS: Final = 5
_MIN_IDENTIFIER_LENGTH: Final = 3  # shorter user names would match half the dictionary

# Compared after folding (lower case, no diacritics, no spaces): "Mật khẩu 123" is "matkhau123".
COMMON_PASSWORDS: Final = frozenset(
    {
        "123456", "12345678", "123456789", "1234567890", "0123456789", "123123123",
        "111111", "000000", "11111111", "123456a", "123456a@", "a123456", "abc123",
        "abc@123", "abcd1234", "password", "password1", "password123", "p@ssw0rd",
        "password@123", "passw0rd", "qwerty", "qwerty123", "qwertyuiop", "1qaz2wsx",
        "1q2w3e4r", "zxcvbnm", "iloveyou", "iloveyou123", "admin", "admin123", "admin@123",
        "administrator", "welcome", "welcome123", "letmein", "changeme", "matkhau",
        "matkhau123", "matkhau@123", "matkhaumoi", "matkhau123456", "anhyeuem",
        "anhyeuem123", "emyeuanh", "emyeuanh123", "yeuem", "yeuanh", "vietnam",
        "vietnam123", "vietnam@123", "hanoi123", "saigon123", "hochiminh", "hocsinh",
        "hocsinh123", "giaovien", "giaovien123", "truonghoc", "truonghoc123", "hsdt",
        "hsdt123", "hsdt@123", "thaygiao", "cogiao", "quantri", "quantri123",
    }
)  # fmt: skip
# Words that stay weak with digits or symbols appended ("matkhau2024!", "admin12345678").
COMMON_STEMS: Final = frozenset(
    {
        "password", "passw0rd", "qwerty", "admin", "administrator", "iloveyou", "welcome",
        "matkhau", "anhyeuem", "emyeuanh", "vietnam", "hocsinh", "giaovien", "truonghoc",
        "quantri", "hsdt", "abc", "abcd", "abcdef",
    }
)  # fmt: skip
_TRAILING_NON_LETTERS: Final = re.compile(r"[^a-z]+$")


@dataclass(frozen=True, slots=True)
class PasswordContext:
    """What the password must not be built from."""

    username: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    code: str
    message_vi: str


def fold(text: str) -> str:
    """Lower case, no Vietnamese diacritics, no whitespace: how people misremember passwords."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(stripped.split())


def _is_passphrase(password: str) -> bool:
    words = password.split()
    return len(words) >= PASSPHRASE_MIN_WORDS and all(
        len(w) >= PASSPHRASE_MIN_WORD_LENGTH for w in words
    )


def check_password(password: str, *, user_context: PasswordContext) -> list[PasswordProblem]:
    """Every problem with ``password``; an empty list means it is acceptable."""
    password = unicodedata.normalize("NFC", password)
    if not password.strip():
        return [PasswordProblem("password_blank", "Mật khẩu không được để trống")]
    problems: list[PasswordProblem] = []
    if len(password) < MIN_LENGTH and not _is_passphrase(password):
        problems.append(
            PasswordProblem(
                "password_too_short",
                f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự, hoặc là một cụm từ gồm ít nhất "
                f"{PASSPHRASE_MIN_WORDS} từ",
            )
        )
    if len(password) > MAX_LENGTH:
        problems.append(
            PasswordProblem("password_too_long", f"Mật khẩu không được dài quá {MAX_LENGTH} ký tự")
        )
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        problems.append(
            PasswordProblem(
                "password_repetitive", "Mật khẩu lặp lại quá ít ký tự khác nhau, dễ bị đoán"
            )
        )
    folded = fold(password)
    if folded in COMMON_PASSWORDS or _TRAILING_NON_LETTERS.sub("", folded) in COMMON_STEMS:
        problems.append(PasswordProblem("password_too_common", "Mật khẩu quá phổ biến, dễ bị đoán"))
    username = fold(user_context.username)
    if len(username) >= _MIN_IDENTIFIER_LENGTH and username in folded:
        problems.append(
            PasswordProblem("password_contains_username", "Mật khẩu không được chứa tên đăng nhập")
        )
    local_part = fold(user_context.email.partition("@")[0])
    if len(local_part) >= _MIN_IDENTIFIER_LENGTH and local_part in folded:
        problems.append(
            PasswordProblem(
                "password_contains_email", "Mật khẩu không được chứa phần tên của địa chỉ email"
            )
        )
    return problems
