"""The composition root of the identity service: settings in, clients out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from common.bootstrap import Deps, build_deps
from identity.handlers.auth import AuthServices, build_auth_services
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork


@dataclass
class IdentityDeps(Deps):
    """The common clients plus what sign-in and tokens need (key ring, hasher, lockout …)."""

    auth: AuthServices | None = None

    @property
    def auth_services(self) -> AuthServices:
        assert self.auth is not None
        return self.auth

    def identity_uow(self) -> IdentityUnitOfWork:
        return cast("IdentityUnitOfWork", self.uow_factory())


def bootstrap(settings: IdentitySettings | None = None) -> IdentityDeps:
    settings = settings or IdentitySettings()
    base = build_deps(settings, IdentityUnitOfWork)
    deps = IdentityDeps(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    uow_factory = cast("Callable[[], IdentityUnitOfWork]", base.uow_factory)
    deps.auth = build_auth_services(settings, base.redis, uow_factory)
    return deps
