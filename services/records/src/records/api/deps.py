"""What every records route takes: the unit of work, the caller as an actor, settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from common.auth import CurrentPrincipal
from common.secretbox import SecretBox
from records.access import Actor
from records.rules import RuleOptions
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork


def get_uow(request: Request) -> RecordsUnitOfWork:
    uow = request.app.state.deps.uow_factory()
    assert isinstance(uow, RecordsUnitOfWork)
    return uow


def get_actor(principal: CurrentPrincipal) -> Actor:
    return Actor.of(principal)


def get_settings(request: Request) -> RecordsSettings:
    settings = request.app.state.deps.settings
    assert isinstance(settings, RecordsSettings)
    return settings


def get_box(request: Request) -> SecretBox:
    box: Any = request.app.state.secret_box
    assert isinstance(box, SecretBox)
    return box


def rule_options(settings: RecordsSettings) -> RuleOptions:
    return RuleOptions(
        year_average_from_rounded_terms=settings.year_average_from_rounded_terms,
        absence_limit_days=settings.absence_limit_days,
        primary_completion_min_score=settings.primary_completion_min_score,
        adjustment_one_level_up=settings.adjustment_one_level_up,
    )


def get_rule_options(settings: Annotated[RecordsSettings, Depends(get_settings)]) -> RuleOptions:
    return rule_options(settings)


UowDep = Annotated[RecordsUnitOfWork, Depends(get_uow)]
ActorDep = Annotated[Actor, Depends(get_actor)]
SettingsDep = Annotated[RecordsSettings, Depends(get_settings)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
RuleOptionsDep = Annotated[RuleOptions, Depends(get_rule_options)]
