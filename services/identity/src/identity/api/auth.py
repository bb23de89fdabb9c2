"""Sign-in, tokens, JWKS, second factor, school-software clients."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["auth"])
