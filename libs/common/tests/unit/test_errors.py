from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from common.errors import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    ProblemDetails,
    install_problem_handlers,
    problem_responses,
)


class ScoreIn(BaseModel):
    student_id: str
    score: float


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/terms/{term_id}", responses=problem_responses(404, 409))
    async def get_term(term_id: int) -> dict[str, int]:
        if term_id == 1:
            raise Problem(
                409,
                "term-locked",
                "Học kỳ đã khóa sổ",
                "Term 1 is locked",
                extensions={"term_id": term_id, "status": "ignored"},
            )
        return {"term_id": term_id}

    @app.post("/scores")
    async def post_score(body: ScoreIn) -> ScoreIn:
        return body

    @app.get("/http/{status}")
    async def http_error(status: int) -> None:
        raise HTTPException(status, headers={"X-Test": "kept"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2 at 10.0.0.5")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str, title: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://hsdt.vn/problems/{code}"
    assert body["title"] == title
    assert body["instance"] == response.request.url.path
    ProblemDetails.model_validate(body)
    return body


async def test_a_raised_problem_keeps_its_code_title_and_extensions(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get("/terms/1"), 409, "term-locked", "Học kỳ đã khóa sổ")
    assert body["detail"] == "Term 1 is locked"
    assert body["term_id"] == 1
    assert body["status"] == 409  # an extension cannot overwrite a standard member


async def test_invalid_input_is_422_validation_failed_with_locations(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/scores", json={"student_id": "0912345678", "score": "ten"})
    body = assert_problem(response, 422, "validation-failed", "Dữ liệu không hợp lệ")
    assert body["errors"] == [{"loc": ["body", "score"], "msg": body["errors"][0]["msg"]}]
    assert "ten" not in response.text  # the rejected input is not echoed back


async def test_a_bad_path_parameter_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(
        await client.get("/terms/abc"), 422, "validation-failed", "Dữ liệu không hợp lệ"
    )
    assert body["errors"][0]["loc"] == ["path", "term_id"]


@pytest.mark.parametrize(
    ("status", "code", "title"),
    [
        (401, "unauthenticated", "Chưa xác thực"),
        (403, "forbidden", "Không có quyền"),
        (404, "not-found", "Không tìm thấy"),
        (409, "conflict", "Xung đột dữ liệu"),
        (412, "precondition-failed", "Dữ liệu đã bị thay đổi"),
        (428, "precondition-required", "Thiếu điều kiện kiểm tra phiên bản"),
        (429, "too-many-requests", "Quá nhiều yêu cầu"),
    ],
)
async def test_http_exceptions_become_problems(
    client: httpx.AsyncClient, status: int, code: str, title: str
) -> None:
    response = await client.get(f"/http/{status}")
    assert_problem(response, status, code, title)
    assert response.headers["X-Test"] == "kept"


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404, "not-found", "Không tìm thấy")
    response = await client.delete("/scores")
    assert_problem(response, 405, "method-not-allowed", "Phương thức không được hỗ trợ")
    assert response.headers["allow"] == "POST"


async def test_an_unhandled_exception_is_a_500_problem_without_its_message(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/boom")
    body = assert_problem(response, 500, "internal-error", "Lỗi hệ thống")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "detail" in body
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)


async def test_problems_carry_the_trace_id_of_the_request_span() -> None:
    app = build_app()
    provider = TracerProvider()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.get("/boom")
        not_found = await c.get("/terms/1")
    assert len(response.json()["trace_id"]) == 32
    assert response.json()["trace_id"] != not_found.json()["trace_id"]


async def test_openapi_documents_problems_as_problem_json(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    get_term = doc["paths"]["/terms/{term_id}"]["get"]["responses"]
    assert get_term["404"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    assert get_term["409"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    assert get_term["422"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    schemas = doc["components"]["schemas"]
    assert "ProblemDetails" in schemas
    assert "HTTPValidationError" not in schemas
    assert "ScoreIn" in schemas


async def test_an_infrastructure_outage_is_a_503_with_retry_after() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionResetError("connection reset"))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/down")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "service-unavailable"
    assert body["title"] == "Dịch vụ tạm thời không khả dụng"
    assert "connection reset" not in response.text
