"""``hsdt-signing``: signing's commands for operators and for archive's scheduled runs.

    hsdt-signing validate FILE.pdf           # the public validation; exit 1 if not valid
    hsdt-signing retimestamp IN.pdf OUT.pdf  # fresh revocation data, a new document timestamp

``retimestamp`` keeps archived documents verifiable after their last timestamp's certificate
expires or its algorithm weakens: run it before that (archive's fixity runs call it). It uses
the service's settings (``SIGNING_TSA_URL``, ``SIGNING_TRUST_*``) and needs the TSA and the
OCSP/CRL servers reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from signing.bootstrap import signature_tools
from signing.crypto import pades
from signing.crypto.errors import CryptoError
from signing.settings import SigningSettings

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


async def _validate(content: bytes, settings: SigningSettings) -> int:
    tools = signature_tools(settings.model_copy(update={"pkcs11_user_pin": SecretStr("")}))
    report = await tools.validate(content)
    print(report.summary_vi())
    return EXIT_OK if report.ok else EXIT_INVALID


async def _retimestamp(content: bytes, settings: SigningSettings) -> bytes:
    tools = signature_tools(settings.model_copy(update={"pkcs11_user_pin": SecretStr("")}))
    return await pades.retimestamp(content, tools.trust, tsa_url=tools.tsa_url)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hsdt-signing", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="validate a signed PDF")
    check.add_argument("file", type=Path)
    renew = commands.add_parser("retimestamp", help="add DSS data and a new document timestamp")
    renew.add_argument("source", type=Path)
    renew.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    settings = SigningSettings()
    try:
        if args.command == "validate":
            code = asyncio.run(_validate(args.file.read_bytes(), settings))
        else:
            renewed = asyncio.run(_retimestamp(args.source.read_bytes(), settings))
            args.target.write_bytes(renewed)
            print(f"{args.target}: {len(renewed)} bytes, timestamped by {settings.tsa_url}")
            code = EXIT_OK
    except (CryptoError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        code = EXIT_ERROR
    sys.exit(code)


if __name__ == "__main__":
    main()
