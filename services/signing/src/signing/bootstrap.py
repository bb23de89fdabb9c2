"""The composition root of the signing service: settings in, clients out."""

from __future__ import annotations

from common.bootstrap import Deps, build_deps
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork


def bootstrap(settings: SigningSettings | None = None) -> Deps:
    return build_deps(settings or SigningSettings(), SigningUnitOfWork)
