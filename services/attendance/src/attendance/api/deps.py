"""What every attendance route takes: the unit of work, the caller as an actor, settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from attendance.access import Actor
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.auth import CurrentPrincipal


def get_uow(request: Request) -> AttendanceUnitOfWork:
    uow = request.app.state.deps.uow_factory()
    assert isinstance(uow, AttendanceUnitOfWork)
    return uow


def get_actor(principal: CurrentPrincipal) -> Actor:
    return Actor.of(principal)


def get_settings(request: Request) -> AttendanceSettings:
    settings = request.app.state.deps.settings
    assert isinstance(settings, AttendanceSettings)
    return settings


UowDep = Annotated[AttendanceUnitOfWork, Depends(get_uow)]
ActorDep = Annotated[Actor, Depends(get_actor)]
SettingsDep = Annotated[AttendanceSettings, Depends(get_settings)]
