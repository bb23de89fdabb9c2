"""What every signing route takes: the unit of work, the caller, settings, the tools."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.access import Actor as CommonActor
from common.auth import CurrentPrincipal
from common.step_up import verify_step_up
from signing.access import Actor, Forbidden
from signing.bootstrap import SigningDeps
from signing.engine import SignatureTools, StepUpCheck
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork


def _deps(request: Request) -> SigningDeps:
    deps = request.app.state.deps
    assert isinstance(deps, SigningDeps)
    return deps


def get_uow(request: Request) -> SigningUnitOfWork:
    uow = _deps(request).uow_factory()
    assert isinstance(uow, SigningUnitOfWork)
    return uow


def get_actor(principal: CurrentPrincipal) -> Actor:
    return Actor.of(principal)


def get_settings(request: Request) -> SigningSettings:
    settings = _deps(request).settings
    assert isinstance(settings, SigningSettings)
    return settings


def get_tools(request: Request) -> SignatureTools:
    return _deps(request).signature_tools()


def get_step_up(request: Request) -> StepUpCheck:
    deps = _deps(request)
    settings = get_settings(request)

    async def check(actor: CommonActor, token: str) -> None:
        if actor.principal.kind != "user" or actor.user_id is None:
            # R23: software cannot present a person's second factor, so it cannot use their key.
            raise Forbidden(
                "A server-side key is used only by its holder, signed in themselves",
                code="step-up-needs-person",
                title="Chỉ chính người ký mới dùng được khóa ký của mình",
            )
        await verify_step_up(
            deps.verifier,
            token,
            subject=str(actor.user_id),
            purpose=settings.step_up_purpose,
            redis=deps.redis,
            redis_prefix=settings.redis_prefix,
        )

    return check


UowDep = Annotated[SigningUnitOfWork, Depends(get_uow)]
ActorDep = Annotated[Actor, Depends(get_actor)]
SettingsDep = Annotated[SigningSettings, Depends(get_settings)]
ToolsDep = Annotated[SignatureTools, Depends(get_tools)]
StepUpDep = Annotated[StepUpCheck, Depends(get_step_up)]
