"""The signing service's HTTP app: ``uvicorn --factory signing.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.bootstrap import api_lifespan
from signing import __version__
from signing.api import routers
from signing.bootstrap import bootstrap
from signing.settings import SigningSettings


def create_app(settings: SigningSettings | None = None) -> FastAPI:
    settings = settings or SigningSettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Ký số",
        description=(
            "PAdES signatures of the records (R21, R22): ordered signers from subject teachers "
            "to the school's seal, keys in a PKCS#11 token or on the signer's own USB token, "
            "batch signing, B-LTA for permanent archiving, and public validation."
        ),
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=list(routers),
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
