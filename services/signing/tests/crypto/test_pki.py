"""The test PKI generator and its command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from signing.crypto.pki import PersonSpec, PkiSpec, create_test_pki, load_test_pki, main


def test_cli_creates_a_pki_that_loads_back(tmp_path: Path) -> None:
    main(
        [
            "create",
            "--dir",
            str(tmp_path),
            "--port",
            "18999",
            "--person",
            "gv=Nguyễn Thị Giáo",
            "--organisation",
            "truong=Trường Tiểu học Thử",
            "--revoke",
            "gv",
            "--spare",
            "2",
        ]
    )
    pki = load_test_pki(tmp_path)
    assert pki.tsa_url == "http://127.0.0.1:18999/hsdt/tsa/tsa"
    assert pki.signer_labels == ("gv", "truong", "spare-01", "spare-02")
    assert pki.revoked == {"gv"}
    assert pki.chain("gv").common_name == "Nguyễn Thị Giáo"
    assert pki.chain("spare-02").common_name == "Người ký thử 02"
    assert pki.root.subject.native["common_name"] == "HSĐT Test Root"
    chain = pki.chain("truong")
    assert chain.intermediates[0].issuer == pki.root.subject
    assert chain.not_after.year - chain.not_before.year >= 10
    assert pki.key_path("gv").stat().st_mode & 0o077 == 0
    # the pinned certificate files are what certomancer serves: loading twice gives equal bytes
    assert load_test_pki(tmp_path).chain("gv").to_pem() == pki.chain("gv").to_pem()


@pytest.mark.parametrize(
    "spec",
    [
        PkiSpec("http://127.0.0.1:1", people=[PersonSpec("tsa", "A")]),
        PkiSpec("http://127.0.0.1:1", people=[PersonSpec("a", "A"), PersonSpec("a", "B")]),
        PkiSpec("http://127.0.0.1:1", revoke=["nobody"]),
        PkiSpec("ftp://127.0.0.1:1"),
    ],
)
def test_bad_specs_are_refused(tmp_path: Path, spec: PkiSpec) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # each case has its own message
        create_test_pki(tmp_path, spec)
