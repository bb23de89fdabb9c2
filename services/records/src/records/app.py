"""The records service's HTTP app: ``uvicorn --factory records.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from common.app import create_service_app
from common.bootstrap import api_lifespan
from common.errors import Problem, problem_response
from records import __version__
from records.api import routers
from records.bootstrap import bootstrap
from records.domain.errors import DomainError
from records.excel.common import WorkbookInvalid
from records.handlers.classes import records_secret_box
from records.handlers.sheets import CellsInvalid
from records.settings import RecordsSettings


def domain_problem(exc: DomainError) -> Problem:
    """A refused input: 422 with the rule's code and Vietnamese title; every problem listed."""
    extensions: dict[str, object] = {}
    if isinstance(exc, CellsInvalid):
        extensions["errors"] = [e.as_dict() for e in exc.errors]
    if isinstance(exc, WorkbookInvalid):
        extensions["errors"] = [
            {
                "row": p.row,
                "column": p.column,
                "column_label": p.column_label_vi,
                "code": p.code,
                "message": p.message_vi,
            }
            for p in exc.problems
        ]
    return Problem(422, exc.code, exc.title_vi, exc.detail or None, extensions=extensions)


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(domain_problem(exc), request.url.path)


def create_app(settings: RecordsSettings | None = None) -> FastAPI:
    settings = settings or RecordsSettings()
    app = create_service_app(
        settings=settings,
        title="HSĐT — Hồ sơ học sinh",
        description=(
            "School years, classes, students, teaching assignments, grade sheets and the "
            "results the Ministry's rules compute from them, with confirmations and approvals."
        ),
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=list(routers),
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
    app.state.secret_box = records_secret_box(settings.data_key_bytes())
    app.add_exception_handler(DomainError, _handle_domain_error)
    return app
