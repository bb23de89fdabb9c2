"""Queries for sign-in and tokens: credentials, signing keys, refresh families, clients."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


class AuthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
