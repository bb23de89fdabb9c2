"""The composition root of the archive service: settings in, clients out."""

from __future__ import annotations

from archive.settings import ArchiveSettings
from archive.uow import ArchiveUnitOfWork
from common.bootstrap import Deps, build_deps


def bootstrap(settings: ArchiveSettings | None = None) -> Deps:
    return build_deps(settings or ArchiveSettings(), ArchiveUnitOfWork)
