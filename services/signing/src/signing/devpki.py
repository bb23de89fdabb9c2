"""``hsdt-signing-dev setup``: the signing service's keys and trust for the run command.

Production imports certificates from Vietnamese public CAs and keeps keys in an HSM. On a
developer's machine and in the demo, this command gives the same shape with throwaway parts:
a test PKI (``signing.crypto.pki``) with a certificate for each demo school's leader, subject
teacher (gv1) and homeroom teacher (gv2) and for each school's seal; a SoftHSM2 token holding
their keys; the trust anchor file; and an env file for the services::

    hsdt-signing-dev setup --dir .run/signing --port 8190
    # writes .run/signing/signing.env: SOFTHSM2_CONF, SIGNING_PKCS11_*, SIGNING_TRUST_*, ...

Idempotent: an existing PKI and token are kept (their keys and PINs stay as they were), so a
second run signs with the same certificates. The PINs are random, made once, kept 0600 in the
directory (never in the repository).
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from common.demo import SCHOOL_STAFF, all_schools, username
from signing.crypto.certs import certificate_pem
from signing.crypto.keys import DEFAULT_MODULE, TokenKeys, init_token
from signing.crypto.pki import (
    MANIFEST_FILE,
    OrganisationSpec,
    PersonSpec,
    PkiSpec,
    TestPki,
    create_test_pki,
    load_test_pki,
)

TOKEN_LABEL: Final = "hsdt-dev"  # noqa: S105 - a label, not a secret
MODULE: Final = DEFAULT_MODULE
# The demo's signers: who signs a transcript in the demo school (R21, R22).
SIGNING_STAFF: Final = ("hieutruong", "gv1", "gv2")


def person_label(user: str) -> str:
    """The key and certificate label of a demo account (labels take no dots)."""
    return user.replace(".", "_")


def seal_label(school_code: str) -> str:
    return f"seal_{school_code.lower().replace('-', '')}"


def demo_spec(base_url: str) -> PkiSpec:
    people = [
        PersonSpec(person_label(username(school.code, prefix)), full_name)
        for _, school in all_schools()
        for prefix, full_name, _ in SCHOOL_STAFF
        if prefix in SIGNING_STAFF
    ]
    organisations = [OrganisationSpec(seal_label(s.code), s.name) for _, s in all_schools()]
    return PkiSpec(base_url=base_url, people=people, organisations=organisations, spare=10)


def trust_files(pki: TestPki, directory: Path) -> dict[str, str]:
    """Write the PKI's trust as the service reads it (PEM files); their SIGNING_* settings."""
    trust = pki.trust()
    files = {
        "SIGNING_TRUST_ANCHORS_FILE": ("anchors.pem", trust.anchors),
        "SIGNING_TRUST_INTERMEDIATES_FILE": ("intermediates.pem", trust.others),
        "SIGNING_TRUST_TIMESTAMP_ANCHORS_FILE": ("timestamp-anchors.pem", trust.timestamp_anchors),
    }
    env = {}
    for setting, (name, certificates) in files.items():
        path = directory / name
        path.write_bytes(b"".join(certificate_pem(c) for c in certificates))
        env[setting] = str(path)
    return env


def _secret(path: Path, length: int) -> str:
    if not path.exists():
        old = os.umask(0o077)
        try:
            path.write_text("".join(secrets.choice("0123456789") for _ in range(length)))
        finally:
            os.umask(old)
    return path.read_text().strip()


def setup(directory: Path, port: int) -> dict[str, str]:
    """Make (or keep) the PKI, the token and the anchors under ``directory``; the services'
    environment for them."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    pki_dir = directory / "pki"
    base_url = f"http://127.0.0.1:{port}"
    pki: TestPki
    if (pki_dir / MANIFEST_FILE).exists() and load_test_pki(pki_dir).base_url == base_url:
        pki = load_test_pki(pki_dir)
    else:
        pki = create_test_pki(pki_dir, demo_spec(base_url))
    so_pin = _secret(directory / "so-pin", 8)
    user_pin = _secret(directory / "user-pin", 8)
    config = init_token(directory / "softhsm", TOKEN_LABEL, so_pin, user_pin)
    os.environ["SOFTHSM2_CONF"] = str(config)
    keys = TokenKeys(MODULE, TOKEN_LABEL, user_pin)
    try:
        for label in pki.signer_labels:
            if not keys.has_key(label):
                keys.import_private_key(label, pki.key_path(label))
    finally:
        keys.close()
    env = {
        "SOFTHSM2_CONF": str(config),
        "SIGNING_PKCS11_MODULE": MODULE,
        "SIGNING_PKCS11_TOKEN_LABEL": TOKEN_LABEL,
        "SIGNING_PKCS11_USER_PIN": user_pin,
        **trust_files(pki, directory),
        "SIGNING_TSA_URL": pki.tsa_url,
        "SIGNING_DEV_PKI_DIR": str(pki_dir),
    }
    old = os.umask(0o077)
    try:
        (directory / "signing.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    finally:
        os.umask(old)
    return env


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hsdt-signing-dev", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("setup", help="make the dev PKI, token and env file")
    made.add_argument("--dir", type=Path, required=True)
    made.add_argument("--port", type=int, required=True, help="port of the PKI's TSA/OCSP/CRLs")
    args = parser.parse_args(argv)
    env = setup(args.dir, args.port)
    print(f"signing: test PKI and token ready; env in {args.dir / 'signing.env'}")
    print(f"signing: TSA {env['SIGNING_TSA_URL']}")


if __name__ == "__main__":
    main()
