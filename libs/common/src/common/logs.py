"""JSON-lines logging with trace ids and redaction of personal data.

Every record becomes one JSON object on stdout: ``time``, ``level``, ``logger``, ``message``,
``service``, ``trace_id``/``span_id`` of the current OpenTelemetry span, ``request_id`` of the
current HTTP request, and any ``extra`` fields. Student data is children's personal data, so a
filter on the handler (it sees records of every logger, uvicorn's included) masks values of
personal field names and patterns in messages before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from opentelemetry import trace

REDACTED: Final = "[redacted]"

# Field names whose values never reach a log line, compared case-insensitively after "-" → "_".
DENIED_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "password",
        "new_password",
        "old_password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "authorization",
        "cookie",
        "set_cookie",
        "totp",
        "otp",
        "totp_secret",
        "national_id",
        "cccd",
        "cmnd",
        "id_number",
        "phone",
        "phone_number",
        "mobile",
        "email",
        "address",
        "home_address",
        "date_of_birth",
        "birth_date",
        "dob",
        "full_name",
        "name",
        "first_name",
        "last_name",
        "middle_name",
        "given_name",
        "family_name",
        "parent_name",
        "guardian_name",
    }
)
# Substrings that mark a secret whatever the exact field name ("db_password", "api_token").
_DENIED_SUBSTRINGS: Final = ("password", "secret", "token", "authorization")

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# CMND (9 digits), CCCD (12), phone numbers (10–11). A leading "-" is excluded so the all-digit
# last group of a UUID is not taken for one.
_ID_NUMBER = re.compile(r"(?<![\w-])\d{9,12}(?!\w)")

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRS: Final[frozenset[str]] = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

request_id_var: ContextVar[str | None] = ContextVar("hsdt_request_id", default=None)

_handler_marker: Final = "_hsdt_json_handler"


def mask_text(text: str) -> str:
    """Mask tokens, e-mail addresses and ID/phone numbers in free text."""
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _EMAIL.sub(REDACTED, text)
    return _ID_NUMBER.sub(REDACTED, text)


def _is_denied(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in DENIED_FIELDS or any(s in k for s in _DENIED_SUBSTRINGS)


def redact(value: Any, *, _depth: int = 0) -> Any:
    """Return ``value`` with personal fields replaced, nested mappings and lists included."""
    if _depth > 8:  # a cyclic or absurdly deep structure is not worth the risk of printing
        return REDACTED
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _is_denied(str(k)) else redact(v, _depth=_depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, _depth=_depth + 1) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


class RedactionFilter(logging.Filter):
    """Scrub a record in place; attached to the handler so every logger's records pass it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Formatting the message here (and dropping args) means the formatter and any other
        # handler only ever see the masked text.
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _RECORD_ATTRS or key.startswith("_"):
                continue
            setattr(record, key, REDACTED if _is_denied(key) else redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the field names are what the log pipeline indexes."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service_name,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the record.

    Test runners swap ``sys.stdout`` per test; a handler holding the stream from the time it
    was configured would write into a closed capture.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(service_name: str, level: str) -> None:
    """Send every logger's records as redacted JSON lines to stdout.

    Idempotent: a second call replaces the handler it installed before. Plain stream handlers
    that someone else put on the root logger (``basicConfig``, uvicorn) are removed so no line is
    written twice unredacted; other handlers (pytest's capture) are left alone.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _handler_marker, False) or type(h) is logging.StreamHandler:
            root.removeHandler(h)
    handler = _StdoutHandler()
    setattr(handler, _handler_marker, True)
    handler.setFormatter(JsonFormatter(service_name))
    handler.addFilter(RedactionFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())

    # Uvicorn installs its own handlers at start-up (before the app is imported); send its
    # records through ours instead. The access log goes through the same redaction.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
