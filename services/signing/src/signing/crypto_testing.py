"""Pytest fixtures for the signing service's cryptography: a test PKI with its TSA/OCSP/CRL
animator running as a real process, and a SoftHSM2 token holding the PKI's signing keys.

Import the fixture into a ``conftest.py``::

    from signing.crypto_testing import signing_pki as signing_pki

    async def test_something(signing_pki: SigningPki) -> None:
        signer = signing_pki.signer("gv-toan")
        signed = await pades.sign(pdf, signer, placement, stamp, tsa_url=signing_pki.tsa_url)
        report = await validate(signed, signing_pki.trust_online)

Certificates for users created at run time come from the spares: ``take_spare()`` hands out
"Người ký thử 01", "02", … once each per session.

The fixture sets ``SOFTHSM2_CONF`` for the whole session: SoftHSM reads it when the PKCS#11
library is first loaded, and python-pkcs11 loads a library once per process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest
from pyhanko.sign.signers import Signer

from signing.crypto.certs import CertChain, Trust
from signing.crypto.errors import TokenError
from signing.crypto.keys import DEFAULT_MODULE, TokenKeys, init_token
from signing.crypto.pki import OrganisationSpec, PersonSpec, PkiSpec, TestPki, create_test_pki

PEOPLE: Final = (
    PersonSpec("gv-toan", "Nguyễn Văn Toàn"),
    PersonSpec("gv-cn", "Trần Thị Chủ Nhiệm"),
    PersonSpec("hieu-truong", "Lê Văn Hiệu"),
    PersonSpec("revoked", "Phạm Thu Hồi"),
)
ORGANISATIONS: Final = (OrganisationSpec("school", "Trường THCS Thử Nghiệm"),)
REVOKED: Final = ("revoked",)
# Handed out once per test session across every module (take_spare): room for all of them.
SPARES: Final = 160
TOKEN_LABEL: Final = "hsdt-test"  # noqa: S105  # a label, not a secret
SO_PIN: Final = "87654321"  # a throwaway test token
USER_PIN: Final = "123456"  # a throwaway test token
START_TIMEOUT_SECONDS: Final = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  # our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class SigningPki:
    """The session's PKI, its token and its animator process."""

    pki: TestPki
    keys: TokenKeys
    directory: Path
    # How the service under test opens the same token (the fixture keeps its own session).
    module_path: str = DEFAULT_MODULE
    token_label: str = TOKEN_LABEL
    user_pin: str = USER_PIN
    _process: subprocess.Popen[bytes] | None = None
    _spares_given: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tsa_url(self) -> str:
        return self.pki.tsa_url

    @property
    def trust_online(self) -> Trust:
        return self.pki.trust(fetch_online=True)

    @property
    def trust_offline(self) -> Trust:
        return self.pki.trust(fetch_online=False)

    @property
    def services_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def chain(self, label: str) -> CertChain:
        return self.pki.chain(label)

    def signer(self, label: str) -> Signer:
        """A pyHanko signer whose key is in the token (PKCS#11)."""
        return self.keys.signer(label, self.pki.chain(label))

    def take_spare(self) -> str:
        """The label of a spare signer certificate nobody has used in this session."""
        with self._lock:
            if self._spares_given >= len(self.pki.spares):
                raise RuntimeError(f"all {len(self.pki.spares)} spare certificates are taken")
            label = self.pki.spares[self._spares_given]
            self._spares_given += 1
            return label

    def start_services(self) -> None:
        """Start the animator (TSA, OCSP, CRLs) and wait until it answers."""
        if self.services_running:
            return
        script = Path(sys.executable).with_name("hsdt-signing-pki")
        command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-m", "signing.crypto.pki"]  # not installed as a script
        )
        log = (self.directory / "animator.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603  # our own command line, no shell
            [*command, "serve", "--dir", str(self.pki.directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        probe = self.pki.crl_urls["root"]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(probe):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop_services()
                raise RuntimeError(
                    f"the test PKI animator did not answer at {probe}; "
                    f"see {self.directory / 'animator.log'}"
                )
            time.sleep(0.05)

    def stop_services(self) -> None:
        """Stop the animator; TSA, OCSP and CRL URLs then refuse connections."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def build_signing_pki(directory: Path) -> SigningPki:
    """Create the PKI, initialise a token, import every signer key, start the animator."""
    base_url = f"http://127.0.0.1:{free_port()}"
    pki = create_test_pki(
        directory / "pki",
        PkiSpec(
            base_url=base_url,
            people=PEOPLE,
            organisations=ORGANISATIONS,
            revoke=REVOKED,
            spare=SPARES,
        ),
    )
    config = init_token(directory / "softhsm", TOKEN_LABEL, SO_PIN, USER_PIN)
    os.environ["SOFTHSM2_CONF"] = str(config)
    keys = TokenKeys(DEFAULT_MODULE, TOKEN_LABEL, USER_PIN)
    for label in pki.signer_labels:
        keys.import_private_key(label, pki.key_path(label))
    fixture = SigningPki(pki=pki, keys=keys, directory=directory)
    fixture.start_services()
    return fixture


@dataclass
class _Shared:
    """One PKI and token per process. Each conftest that imports the fixture registers its own
    session fixture, but SoftHSM reads ``SOFTHSM2_CONF`` once per process, so a second token
    elsewhere would be invisible: every registration shares the first, the last one tears down."""

    fixture: SigningPki | None = None
    users: int = 0
    previous_conf: str | None = None


_shared = _Shared()


@pytest.fixture(scope="session")
def signing_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningPki]:
    if _shared.fixture is None:
        _shared.previous_conf = os.environ.get("SOFTHSM2_CONF")
        try:
            _shared.fixture = build_signing_pki(tmp_path_factory.mktemp("signing-pki"))
        except TokenError as error:
            pytest.fail(f"SoftHSM2 is not usable: {error}", pytrace=False)
    fixture = _shared.fixture
    _shared.users += 1
    try:
        fixture.start_services()  # another conftest's tests may have left them stopped
        yield fixture
    finally:
        _shared.users -= 1
        if _shared.users == 0:
            _shared.fixture = None
            fixture.stop_services()
            fixture.keys.close()
            if _shared.previous_conf is None:
                os.environ.pop("SOFTHSM2_CONF", None)
            else:
                os.environ["SOFTHSM2_CONF"] = _shared.previous_conf
