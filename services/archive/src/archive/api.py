"""HTTP routes of the archive service under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["archive"])
