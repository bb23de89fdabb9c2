"""Problem details for HTTP APIs (RFC 9457), the one error format of every service.

A problem has a stable machine ``code`` (English kebab-case; its ``type`` URI is derived from
it), a Vietnamese ``title`` meant for the people using school software, and an English
``detail`` for the developers integrating with us. Handlers turn ``Problem``, request
validation errors, Starlette's ``HTTPException`` and any unexpected exception into
``application/problem+json``; an unexpected exception never shows its message to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.db import is_transient

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE: Final = "https://hsdt.vn/problems/"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


def problem_type(code: str) -> str:
    return f"{PROBLEM_TYPE_BASE}{code}"


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457) as documented in the OpenAPI."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://hsdt.vn/problems/not-found",
                    "title": "Không tìm thấy",
                    "status": 404,
                    "detail": "Student 7b1e… does not exist",
                    "instance": "/api/v1/students/7b1e…",
                    "code": "not-found",
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                }
            ]
        },
    )

    type: str = Field(description="URI of the problem type: https://hsdt.vn/problems/<code>")
    title: str = Field(description="Short summary for users, in Vietnamese; fixed per type")
    status: int = Field(description="The HTTP status code")
    detail: str | None = Field(default=None, description="This occurrence, in English")
    instance: str | None = Field(default=None, description="The request path")
    code: str = Field(description="Stable machine-readable code, English kebab-case")
    trace_id: str | None = Field(default=None, description="Trace id to quote to support")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For validation-failed: each invalid input as {loc, msg}"
    )


class Problem(Exception):  # noqa: N818 - it is the name of the thing in RFC 9457
    """Raise to answer with a problem; ``extensions`` become extra members of the body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extensions: dict[str, Any] = dict(extensions or {})
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def type(self) -> str:
        return problem_type(self.code)

    def __repr__(self) -> str:
        return f"Problem({self.status}, {self.code!r}, {self.detail!r})"


# status → (code, Vietnamese title) for problems that come from HTTPException or the framework.
HTTP_PROBLEMS: Final[Mapping[int, tuple[str, str]]] = {
    400: ("bad-request", "Yêu cầu không hợp lệ"),
    401: ("unauthenticated", "Chưa xác thực"),
    403: ("forbidden", "Không có quyền"),
    404: ("not-found", "Không tìm thấy"),
    405: ("method-not-allowed", "Phương thức không được hỗ trợ"),
    406: ("not-acceptable", "Định dạng phản hồi không được hỗ trợ"),
    409: ("conflict", "Xung đột dữ liệu"),
    410: ("gone", "Dữ liệu không còn tồn tại"),
    412: ("precondition-failed", "Dữ liệu đã bị thay đổi"),
    413: ("payload-too-large", "Dữ liệu gửi lên quá lớn"),
    415: ("unsupported-media-type", "Kiểu dữ liệu không được hỗ trợ"),
    422: ("validation-failed", "Dữ liệu không hợp lệ"),
    428: ("precondition-required", "Thiếu điều kiện kiểm tra phiên bản"),
    429: ("too-many-requests", "Quá nhiều yêu cầu"),
    500: ("internal-error", "Lỗi hệ thống"),
    503: ("service-unavailable", "Dịch vụ tạm thời không khả dụng"),
}


def http_problem(status: int, detail: str | None = None, **kwargs: Any) -> Problem:
    """A problem with the standard code and title of ``status``."""
    code, title = _code_and_title(status)
    return Problem(status, code, title, detail, **kwargs)


def _code_and_title(status: int) -> tuple[str, str]:
    if status in HTTP_PROBLEMS:
        return HTTP_PROBLEMS[status]
    if status >= 500:
        return ("internal-error", "Lỗi hệ thống")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    return (phrase.lower().replace(" ", "-").replace("'", ""), "Yêu cầu không hợp lệ")


def _trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def problem_body(problem: Problem, instance: str | None) -> dict[str, Any]:
    # Extensions first, so they can never overwrite the members RFC 9457 defines.
    body: dict[str, Any] = dict(problem.extensions)
    body.update(
        type=problem.type,
        title=problem.title,
        status=problem.status,
        code=problem.code,
    )
    if problem.detail is not None:
        body["detail"] = problem.detail
    if instance is not None:
        body["instance"] = instance
    trace_id = _trace_id()
    if trace_id is not None:
        body["trace_id"] = trace_id
    return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem_body(problem, instance),
        status_code=problem.status,
        headers=problem.headers or None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the rejected input itself may be personal data.
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    problem = http_problem(
        422,
        "The request does not match the schema; see errors",
        extensions={"errors": errors},
    )
    return problem_response(problem, request.url.path)


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    problem = http_problem(exc.status_code, detail, headers=exc.headers)
    return problem_response(problem, request.url.path)


def _internal_error(request_path: str | None, exc: BaseException) -> JSONResponse:
    if is_transient(exc):
        # The database or broker went away under this request; nothing was committed.
        logger.warning(
            "request failed on an infrastructure outage",
            extra={"path": request_path, "error_type": type(exc).__name__},
        )
        unavailable = http_problem(
            503, "A backing service is unavailable; retry shortly", headers={"Retry-After": "1"}
        )
        return problem_response(unavailable, request_path)
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    logger.error(
        "unhandled exception",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"path": request_path, "error_type": type(exc).__name__},
    )
    problem = http_problem(500, "An unexpected error occurred; quote the trace id to support")
    return problem_response(problem, request_path)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _internal_error(request.url.path, exc)


class UnhandledErrorMiddleware:
    """Turn an exception that no handler took into a 500 problem, inside the middleware stack.

    Starlette's own last-resort handler answers and then re-raises, so the server logs the
    traceback a second time, unredacted by our format, and test clients see an exception;
    catching here answers once and lets the request's span and log carry the error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                raise  # too late for a problem response; let the server close the connection
            response = _internal_error(scope.get("path"), exc)
            await response(scope, receive, send)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator documenting its problem answers.

    >>> @router.get("/{id}", responses=problem_responses(404, 403))
    """
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTP_PROBLEMS.get(status, _code_and_title(status))[1],
        }
        for status in statuses
    }


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        _document_problems(schema)
        app.openapi_schema = schema
        return schema

    return openapi


def _document_problems(schema: dict[str, Any]) -> None:
    # FastAPI puts a response ``model`` under application/json and documents 422 with its own
    # HTTPValidationError; what we send for every error is ProblemDetails as problem+json.
    ref = "#/components/schemas/ProblemDetails"
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": ref}}}
    used = False
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            if "requestBody" in operation:
                # A body that is not JSON (or not the declared form) is refused before any
                # validation, as 400 bad-request: every operation with a body can answer it.
                operation.setdefault("responses", {}).setdefault(
                    "400",
                    {
                        "description": HTTP_PROBLEMS[400][1],
                        "content": {"application/json": {"schema": {"$ref": ref}}},
                    },
                )
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response.get("content") or {}
                json_schema = content.get("application/json", {}).get("schema", {})
                json_ref = json_schema.get("$ref", "")
                if json_ref.endswith(("/ProblemDetails", "/HTTPValidationError")):
                    response["content"] = dict(problem_content)
                    used = True
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    if used and "ProblemDetails" not in schemas:
        schemas["ProblemDetails"] = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    # FastAPI's validation schemas are now unused unless a route refers to them explicitly.
    for name in ("HTTPValidationError", "ValidationError"):
        others = {k: v for k, v in schemas.items() if k != name}
        if name in schemas and f"/{name}'" not in repr((schema.get("paths"), others)):
            del schemas[name]
    if not schemas:
        del schema["components"]


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with problem+json and document it so in the OpenAPI."""
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    # Last resort if something fails outside UnhandledErrorMiddleware (in an outer middleware).
    app.add_exception_handler(Exception, _handle_unexpected)
    app.add_middleware(UnhandledErrorMiddleware)
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]
