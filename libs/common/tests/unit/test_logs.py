from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from common.logs import REDACTED, configure_logging, mask_text, request_id_var

JWT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0"
    ".eyJzdWIiOiJ1LTEiLCJleHAiOjE3NjM4NTAwMDB9"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU"
)


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Any:
    configure_logging("records", "INFO")
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    return read


def test_a_record_is_one_json_line_with_the_standard_fields(lines: Any) -> None:
    logging.getLogger("records.api").info("term %s locked", "HK1")

    [entry] = lines()
    assert entry["message"] == "term HK1 locked"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "records.api"
    assert entry["service"] == "records"
    assert entry["time"].endswith("+00:00")
    assert "trace_id" not in entry
    assert "span_id" not in entry


def test_records_below_the_level_are_dropped(lines: Any) -> None:
    logging.getLogger("records.api").debug("noise")
    assert lines() == []


def test_trace_and_span_ids_of_the_current_span_are_included(lines: Any) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("lock-term") as span:
        logging.getLogger("records").warning("inside")
        ctx = span.get_span_context()

    [entry] = lines()
    assert entry["trace_id"] == format(ctx.trace_id, "032x")
    assert entry["span_id"] == format(ctx.span_id, "016x")
    assert len(entry["trace_id"]) == 32
    assert len(entry["span_id"]) == 16


def test_extra_fields_and_request_id_are_included(lines: Any) -> None:
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("records").info("saved", extra={"class_id": "10A1", "rows": 31})
    finally:
        request_id_var.reset(token)

    [entry] = lines()
    assert entry["class_id"] == "10A1"
    assert entry["rows"] == 31
    assert entry["request_id"] == "req-42"


def test_personal_fields_are_redacted_at_any_depth(lines: Any) -> None:
    logging.getLogger("records").info(
        "student updated",
        extra={
            "full_name": "Nguyễn Thị Minh Khai",
            "email": "khai@example.vn",
            "student": {
                "name": "Khai",
                "date_of_birth": "2010-05-01",
                "address": "12 Lê Lợi",
                "grade": 10,
            },
            "guardians": [{"phone": "0912345678", "relation": "mẹ"}],
            "db_password": "hunter2",
            "Authorization": "Bearer abc",
        },
    )

    [entry] = lines()
    text = json.dumps(entry, ensure_ascii=False)
    for secret in ("Nguyễn", "khai@example.vn", "2010-05-01", "Lê Lợi", "0912345678", "hunter2"):
        assert secret not in text
    assert entry["full_name"] == REDACTED
    assert entry["student"]["name"] == REDACTED
    assert entry["student"]["grade"] == 10
    assert entry["guardians"][0] == {"phone": REDACTED, "relation": "mẹ"}
    assert entry["db_password"] == REDACTED
    assert entry["Authorization"] == REDACTED


def test_tokens_and_id_numbers_are_masked_in_messages(lines: Any) -> None:
    log = logging.getLogger("identity")
    log.info("token %s refused", JWT)
    log.info("cccd %s, cmnd %s, phone %s", "001203004567", "123456789", "0912345678")
    log.info("header Authorization: Bearer opaque-token.value")
    log.info("mail from hs.nguyen@truong.edu.vn")

    messages = [e["message"] for e in lines()]
    assert messages[0] == f"token {REDACTED} refused"
    assert messages[1] == f"cccd {REDACTED}, cmnd {REDACTED}, phone {REDACTED}"
    assert "opaque-token" not in messages[2]
    assert messages[3] == f"mail from {REDACTED}"


def test_exception_text_is_masked(lines: Any) -> None:
    try:
        raise ValueError("no student with cccd 001203004567")
    except ValueError:
        logging.getLogger("records").exception("lookup failed")

    [entry] = lines()
    assert "ValueError" in entry["exception"]
    assert "001203004567" not in entry["exception"]


def test_ordinary_identifiers_and_numbers_stay_readable() -> None:
    uuid_with_digit_tail = "7b1e4c2a-1f0d-4e7a-9c1b-123456789012"
    assert mask_text(f"student {uuid_with_digit_tail}") == f"student {uuid_with_digit_tail}"
    assert mask_text("31 rows in 12 ms") == "31 rows in 12 ms"
    assert mask_text("id 12345678901234") == "id 12345678901234"  # 14 digits: not an ID number


def test_uvicorn_records_go_through_the_same_formatter(lines: Any) -> None:
    access = logging.getLogger("uvicorn.access")
    assert access.handlers == []
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "10.0.0.1:5000",
        "GET",
        "/api/v1/students?cccd=001203004567",
        "1.1",
        200,
    )

    [entry] = lines()
    assert entry["logger"] == "uvicorn.access"
    assert entry["service"] == "records"
    assert "001203004567" not in entry["message"]


def test_configuring_twice_writes_each_record_once(lines: Any) -> None:
    configure_logging("records", "INFO")
    logging.getLogger("records").info("once")
    assert len(lines()) == 1
