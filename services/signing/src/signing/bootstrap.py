"""The composition root of the signing service: settings in, clients and the token out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from common.bootstrap import Deps, build_deps
from signing.crypto.certs import Trust
from signing.crypto.keys import TokenKeys
from signing.crypto.pades import close_timestampers
from signing.engine import SignatureTools, load_trust
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork

logger = logging.getLogger(__name__)


@dataclass
class SigningDeps(Deps):
    tools: SignatureTools | None = None

    def signature_tools(self) -> SignatureTools:
        assert self.tools is not None
        return self.tools

    async def aclose(self) -> None:
        if self.tools is not None and self.tools.keys is not None:
            self.tools.keys.close()
        await close_timestampers()
        await super().aclose()


def signature_tools(settings: SigningSettings) -> SignatureTools:
    keys = None
    pin = settings.pkcs11_user_pin.get_secret_value()
    if pin:
        keys = TokenKeys(settings.pkcs11_module, settings.pkcs11_token_label, pin)
    else:
        logger.warning("no PKCS#11 PIN set: server-side signing is off, client-side only")
    if settings.trust_anchors_file.exists():
        trust = load_trust(
            settings.trust_anchors_file,
            settings.trust_intermediates_file,
            settings.trust_timestamp_anchors_file,
            fetch=settings.fetch_revocation,
        )
    else:
        logger.warning(
            "no trust anchors at %s: every certificate is refused", settings.trust_anchors_file
        )
        trust = Trust.of([], fetch_online=settings.fetch_revocation)
    return SignatureTools(
        keys, trust, settings.tsa_url, usable_for_seconds=settings.certificate_check_seconds
    )


def bootstrap(settings: SigningSettings | None = None) -> SigningDeps:
    settings = settings or SigningSettings()
    base = build_deps(settings, SigningUnitOfWork)
    made = {f.name: getattr(base, f.name) for f in fields(Deps)}
    return SigningDeps(**made, tools=signature_tools(settings))
