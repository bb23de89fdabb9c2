"""The composition root of the archive service: settings in, clients out."""

from __future__ import annotations

from common.bootstrap import Deps, build_deps

from archive.settings import ArchiveSettings
from archive.uow import ArchiveUnitOfWork


def bootstrap(settings: ArchiveSettings | None = None) -> Deps:
    return build_deps(settings or ArchiveSettings(), ArchiveUnitOfWork)
