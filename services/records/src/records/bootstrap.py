"""The composition root of the records service: settings in, clients out."""

from __future__ import annotations

from common.bootstrap import Deps, build_deps
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork


def bootstrap(settings: RecordsSettings | None = None) -> Deps:
    return build_deps(settings or RecordsSettings(), RecordsUnitOfWork)
