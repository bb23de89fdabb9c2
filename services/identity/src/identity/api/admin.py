"""Administration of the org tree, accounts, groups, grants and the audit of a scope."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["admin"])
