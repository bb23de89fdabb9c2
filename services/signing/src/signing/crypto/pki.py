"""A test PKI for tests, the demo and development: a root, a department CA, people's and the
school's certificates, a TSA, an OCSP responder and CRLs, served over HTTP by certomancer's
animator. Production imports real certificates instead and never touches this module.

Keys are generated with ``cryptography`` (EC P-256) into the PKI's directory; certomancer issues
the certificates once, and they are written next to the keys and pinned in its config
(``certificate-file``). ECDSA signatures are randomised, so without the pin every process that
loads the config would mint different bytes for the same certificate — and fingerprints, the
OCSP responder's certificate and the chains embedded in signed PDFs would no longer agree.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import shutil
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import yaml
from asn1crypto import pem, x509  # type: ignore[import-untyped]  # asn1crypto ships no types
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server

from signing.crypto.certs import CertChain, Trust, load_certificates

ARCH: Final = "hsdt"
ROOT: Final = "root"
DEPARTMENT: Final = "department"
TSA: Final = "tsa"
OCSP: Final = "ocsp"
RESERVED_LABELS: Final = frozenset({ROOT, DEPARTMENT, TSA, OCSP})
ROOT_NAME: Final = "HSĐT Test Root"
DEPARTMENT_NAME: Final = "HSĐT Test Sở GD&ĐT CA"
SPARE_NAME: Final = "Người ký thử {:02d}"
CONFIG_FILE: Final = "certomancer.yml"
MANIFEST_FILE: Final = "pki.json"
# Validity starts in the past so that a certificate can be revoked "some days ago" and a CRL
# (whose numbering counts periods from the issuer's notBefore) already exists.
BACKDATE: Final = timedelta(days=30)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PersonSpec:
    label: str
    common_name: str


@dataclass(frozen=True, slots=True)
class OrganisationSpec:
    """An organisation's seal certificate (con dấu số), e.g. the school's."""

    label: str
    name: str


@dataclass(frozen=True, slots=True)
class PkiSpec:
    base_url: str  # where the animator will listen, e.g. http://127.0.0.1:8790
    people: Sequence[PersonSpec] = ()
    organisations: Sequence[OrganisationSpec] = ()
    revoke: Sequence[str] = ()
    spare: int = 0
    revoked_days_ago: int = 3
    validity_years: int = 10

    def signer_labels(self) -> list[str]:
        labels = [p.label for p in self.people] + [o.label for o in self.organisations]
        return labels + spare_labels(self.spare)


def spare_labels(count: int) -> list[str]:
    return [f"spare-{n:02d}" for n in range(1, count + 1)]


@dataclass(frozen=True)
class TestPki:
    """A generated test PKI, loaded from its directory."""

    __test__: ClassVar[bool] = False  # a class named Test* is not a pytest test class

    directory: Path
    base_url: str
    people: Mapping[str, str]  # label -> common name
    organisations: Mapping[str, str]  # label -> name
    spares: tuple[str, ...]
    revoked: frozenset[str]
    root: x509.Certificate
    chains: Mapping[str, CertChain] = field(repr=False)

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return (self.root,)

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/{TSA}"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/{ARCH}/ocsp/{DEPARTMENT}"

    @property
    def crl_urls(self) -> dict[str, str]:
        """The latest CRL of each CA, by the CA's label."""
        return {ca: f"{self.base_url}/{ARCH}/crls/{ca}/latest.crl" for ca in (ROOT, DEPARTMENT)}

    @property
    def signer_labels(self) -> tuple[str, ...]:
        return (*self.people, *self.organisations, *self.spares)

    def chain(self, label: str) -> CertChain:
        try:
            return self.chains[label]
        except KeyError:
            raise KeyError(f"the test PKI has no certificate labelled {label!r}") from None

    def key_path(self, label: str) -> Path:
        path = _key_path(self.directory, label)
        if not path.exists():
            raise KeyError(f"the test PKI has no key labelled {label!r}")
        return path

    def trust(self, *, fetch_online: bool = True) -> Trust:
        """Trust in this PKI: its root; its department CA to build the TSA's path (the TSA's
        tokens carry only the TSA certificate); its TSA as a trusted time-stamping service."""
        return Trust.of(
            self.anchors,
            others=self.chain(DEPARTMENT).certificates,
            timestamp_anchors=[self.chain(TSA).signer],
            fetch_online=fetch_online,
        )


def _key_path(directory: Path, label: str) -> Path:
    return directory / "keys" / f"{label}.key.pem"


def _cert_path(directory: Path, label: str) -> Path:
    return directory / "certs" / f"{label}.cert.pem"


def _write_key(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(pem)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _key_usage(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _crl_points(*repos: str) -> dict[str, Any]:
    return {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": list(repos)}},
    }


def _ocsp_pointer() -> dict[str, Any]:
    return {
        "id": "authority_information_access",
        "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": [DEPARTMENT]}},
    }


def _check_spec(spec: PkiSpec) -> None:
    labels = spec.signer_labels()
    if dupes := {label for label in labels if labels.count(label) > 1}:
        raise ValueError(f"labels used twice: {sorted(dupes)}")
    if clash := RESERVED_LABELS & set(labels):
        raise ValueError(f"labels reserved for the PKI itself: {sorted(clash)}")
    if unknown := set(spec.revoke) - set(labels):
        raise ValueError(f"cannot revoke unknown labels: {sorted(unknown)}")
    if not all(label and label.replace("-", "").replace("_", "").isalnum() for label in labels):
        raise ValueError("labels are letters, digits, '-' and '_'")
    if urlsplit(spec.base_url).scheme not in {"http", "https"}:
        raise ValueError(f"base_url must be an http(s) URL, got {spec.base_url!r}")


def _entities(spec: PkiSpec) -> dict[str, dict[str, str]]:
    entities = {
        ROOT: {"common-name": ROOT_NAME},
        DEPARTMENT: {"common-name": DEPARTMENT_NAME},
        TSA: {"common-name": "HSĐT Test TSA"},
        OCSP: {"common-name": "HSĐT Test OCSP"},
    }
    for person in spec.people:
        entities[person.label] = {"common-name": person.common_name}
    for org in spec.organisations:
        entities[org.label] = {"common-name": org.name, "organization-name": org.name}
    for n, label in enumerate(spare_labels(spec.spare), start=1):
        entities[label] = {"common-name": SPARE_NAME.format(n)}
    return entities


def _certs(spec: PkiSpec, now: datetime) -> dict[str, dict[str, Any]]:
    start = (now - BACKDATE).replace(hour=0, minute=0, second=0, microsecond=0)
    validity = {
        "valid-from": _iso(start),
        "valid-to": _iso(start + timedelta(days=365 * spec.validity_years + 30)),
    }

    def issued(issuer: str, extensions: list[dict[str, Any]]) -> dict[str, Any]:
        # Random serials: two test PKIs never share one, which keeps cross-PKI tests honest.
        return {
            "issuer": issuer,
            "serial": secrets.randbits(63) | 1,
            "validity": validity,
            "extensions": extensions,
        }

    certs: dict[str, dict[str, Any]] = {
        ROOT: issued(
            ROOT,
            [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            ],
        ),
        DEPARTMENT: issued(
            ROOT,
            [
                {
                    "id": "basic_constraints",
                    "critical": True,
                    "value": {"ca": True, "path_len_constraint": 0},
                },
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
                _crl_points(ROOT),
            ],
        ),
        TSA: issued(
            DEPARTMENT,
            [
                _key_usage("digital_signature", "non_repudiation"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                _crl_points(DEPARTMENT),
                _ocsp_pointer(),
            ],
        ),
        OCSP: issued(
            DEPARTMENT,
            [
                _key_usage("digital_signature", "non_repudiation"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        ),
    }
    revoked_since = now - timedelta(days=spec.revoked_days_ago)
    for label in spec.signer_labels():
        cert = issued(
            DEPARTMENT,
            [
                _key_usage("digital_signature", "non_repudiation"),
                _crl_points(DEPARTMENT),
                _ocsp_pointer(),
            ],
        )
        if label in spec.revoke:
            cert["revocation"] = {"revoked-since": _iso(revoked_since), "reason": "key_compromise"}
        certs[label] = cert
    return certs


def _certomancer_config(spec: PkiSpec, now: datetime) -> dict[str, Any]:
    labels = [ROOT, DEPARTMENT, TSA, OCSP, *spec.signer_labels()]
    return {
        "external-url-prefix": spec.base_url,
        "keysets": {
            ARCH: {"path-prefix": "keys", "keys": {lb: {"path": f"{lb}.key.pem"} for lb in labels}}
        },
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entity-defaults": {"country-name": "VN", "organization-name": "HSĐT Test PKI"},
                "entities": _entities(spec),
                "certs": _certs(spec, now),
                "services": {
                    "ocsp": {
                        DEPARTMENT: {
                            "for-issuer": DEPARTMENT,
                            "responder-cert": OCSP,
                            "signing-key": OCSP,
                        }
                    },
                    "crl-repo": {
                        ROOT: {
                            "for-issuer": ROOT,
                            "signing-key": ROOT,
                            "simulated-update-schedule": "P1D",
                        },
                        DEPARTMENT: {
                            "for-issuer": DEPARTMENT,
                            "signing-key": DEPARTMENT,
                            "simulated-update-schedule": "P1D",
                        },
                    },
                    "time-stamping": {TSA: {"signing-key": TSA, "signing-cert": TSA}},
                },
            }
        },
    }


def _load_certomancer(config_path: Path) -> Any:
    config = CertomancerConfig.from_file(str(config_path))
    return config.get_pki_arch(ArchLabel(ARCH))


def create_test_pki(directory: Path, spec: PkiSpec) -> TestPki:
    """Generate keys and certificates into ``directory`` (created if missing; an existing PKI
    there is replaced) and return it loaded."""
    _check_spec(spec)
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    for owned in ("keys", "certs"):  # a previous PKI's leftovers would load as this one's
        shutil.rmtree(directory / owned, ignore_errors=True)
    config = _certomancer_config(spec, now)
    for label in config["keysets"][ARCH]["keys"]:
        _write_key(_key_path(directory, label))
    config_path = directory / CONFIG_FILE
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))

    architecture = _load_certomancer(config_path)
    certs = config["pki-architectures"][ARCH]["certs"]
    for label, cert_config in certs.items():
        path = _cert_path(directory, label)
        path.parent.mkdir(parents=True, exist_ok=True)
        der = architecture.get_cert(CertLabel(label)).dump()
        path.write_bytes(pem.armor("CERTIFICATE", der))
        cert_config["certificate-file"] = str(path.relative_to(directory))
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))

    manifest = {
        "base_url": spec.base_url,
        "created_at": now.isoformat(),
        "people": {p.label: p.common_name for p in spec.people},
        "organisations": {o.label: o.name for o in spec.organisations},
        "spares": spare_labels(spec.spare),
        "revoked": sorted(spec.revoke),
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return load_test_pki(directory)


def load_test_pki(directory: Path) -> TestPki:
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    (root,) = load_certificates(_cert_path(directory, ROOT).read_bytes())
    (department,) = load_certificates(_cert_path(directory, DEPARTMENT).read_bytes())
    chains = {ROOT: CertChain(root), DEPARTMENT: CertChain(department)}
    for path in (directory / "certs").glob("*.cert.pem"):
        label = path.name.removesuffix(".cert.pem")
        if label not in chains:
            (certificate,) = load_certificates(path.read_bytes())
            chains[label] = CertChain(certificate, (department,))
    return TestPki(
        directory=directory,
        base_url=manifest["base_url"],
        people=manifest["people"],
        organisations=manifest["organisations"],
        spares=tuple(manifest["spares"]),
        revoked=frozenset(manifest["revoked"]),
        root=root,
        chains=chains,
    )


# --- the animator ---------------------------------------------------------------------------


def animator_app(directory: Path) -> Any:
    """certomancer's WSGI app serving the PKI's TSA, OCSP responder and CRLs (no web UI)."""
    config = CertomancerConfig.from_file(str(directory / CONFIG_FILE))
    # Clients may not fake the time: the TSA stamps what this machine's clock says.
    return Animator(
        AnimatorArchStore(config.pki_archs), with_web_ui=False, allow_time_override=False
    )


def serve(directory: Path, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    base = urlsplit(load_test_pki(directory).base_url)
    host = host or base.hostname or "127.0.0.1"
    port = port or base.port or 80
    server = make_server(host, port, animator_app(directory), threaded=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("test PKI animator on http://%s:%d", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --- command line ---------------------------------------------------------------------------


def _pairs(values: Sequence[str], what: str) -> Iterator[tuple[str, str]]:
    for value in values:
        label, sep, name = value.partition("=")
        if not sep or not label or not name:
            raise SystemExit(f"--{what} takes label=Name, got {value!r}")
        yield label.strip(), name.strip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hsdt-signing-pki", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="generate a test PKI into a directory")
    create.add_argument("--dir", type=Path, required=True)
    create.add_argument("--port", type=int, required=True, help="port the animator will use")
    create.add_argument("--host", default="127.0.0.1")
    create.add_argument("--person", action="append", default=[], metavar="LABEL=NAME")
    create.add_argument("--organisation", action="append", default=[], metavar="LABEL=NAME")
    create.add_argument("--revoke", action="append", default=[], metavar="LABEL")
    create.add_argument("--spare", type=int, default=0)
    serve_cmd = commands.add_parser("serve", help="run the TSA/OCSP/CRL animator")
    serve_cmd.add_argument("--dir", type=Path, required=True)
    serve_cmd.add_argument("--host", default=None)
    serve_cmd.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    if args.command == "create":
        spec = PkiSpec(
            base_url=f"http://{args.host}:{args.port}",
            people=[PersonSpec(lb, name) for lb, name in _pairs(args.person, "person")],
            organisations=[
                OrganisationSpec(lb, name) for lb, name in _pairs(args.organisation, "organisation")
            ],
            revoke=args.revoke,
            spare=args.spare,
        )
        try:
            pki = create_test_pki(args.dir, spec)
        except ValueError as error:
            raise SystemExit(str(error)) from error
        sys.stdout.write(
            f"test PKI in {pki.directory}\n  TSA  {pki.tsa_url}\n  OCSP {pki.ocsp_url}\n"
            f"  signers: {', '.join(pki.signer_labels)}\n"
        )
    else:
        serve(args.dir, args.host, args.port)


if __name__ == "__main__":
    main()
