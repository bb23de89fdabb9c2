"""The composition root of the identity service: settings in, clients out."""

from __future__ import annotations

from common.bootstrap import Deps, build_deps
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork


def bootstrap(settings: IdentitySettings | None = None) -> Deps:
    return build_deps(settings or IdentitySettings(), IdentityUnitOfWork)
