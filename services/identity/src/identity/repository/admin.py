"""Queries for administration: org units, users, groups, grants, audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


class AdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
