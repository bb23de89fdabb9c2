"""Signing requests end to end through the API, with the test PKI's TSA and OCSP running and
the keys in a SoftHSM2 token: the ordered chain (R21, R22, DOMAIN §6.2), refusal and restart,
the second factor, the client-side flow, batch signing, and what is refused with nothing signed.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.testing import assert_problem
from signing.bootstrap import SigningDeps
from signing.handlers.batches import run_next_batch
from signing.testing import Signer, SigningWorld

SUBMITTED = "vn.hsdt.signing.document.signed.v1"
COMPLETED = "vn.hsdt.signing.request.completed.v1"
REFUSED = "vn.hsdt.signing.request.refused.v1"


async def chain_of_four(world: SigningWorld) -> tuple[Signer, Signer, Signer, dict[str, Any]]:
    subject = await world.signer()
    homeroom = await world.signer()
    leader = await world.signer(role="school_leader")
    await world.seal()
    request = await world.open_request(
        [("subject_teacher", subject), ("homeroom_teacher", homeroom), ("school_leader", leader)]
    )
    return subject, homeroom, leader, request


async def revisions(world: SigningWorld, request: dict[str, Any], headers: dict[str, str]) -> int:
    response = await world.client.get(f"/signing-requests/{request['id']}", headers=headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["revisions"]
    return count


async def test_four_signatures_in_order_end_as_b_lta_that_validates(world: SigningWorld) -> None:
    """R21/R22: subject teacher, homeroom teacher, leader, then the school's seal (by the
    leader); each an incremental revision and a ``document.signed``; the last one completes
    the request as B-LTA, and the public validation finds all four valid."""
    subject, homeroom, leader, request = await chain_of_four(world)
    for i, signer in enumerate((subject, homeroom, leader, leader), start=1):
        response = await world.sign(request, signer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["steps"][i - 1]["state"] == "signed"
        assert body["revisions"] == i + 1 + (i == 4)  # the last adds the B-LTA revision
    assert body["state"] == "completed"
    assert body["current_position"] is None
    signed = [
        e for e in await world.outbox_events(SUBMITTED) if e["signing_request_id"] == request["id"]
    ]
    assert [e["signature_index"] for e in signed] == [1, 2, 3, 4]
    assert [e["signer_role"] for e in signed] == [
        "subject_teacher",
        "homeroom_teacher",
        "school_leader",
        "school_seal",
    ]
    assert signed[3]["signer_user_id"] == str(leader.user_id)
    done = [
        e for e in await world.outbox_events(COMPLETED) if e["signing_request_id"] == request["id"]
    ]
    assert len(done) == 1
    assert done[0]["signature_count"] == 4
    assert done[0]["document_sha256"] == body["document_sha256"]

    pdf = await world.document_of(request["id"], world.of(leader))
    report = await world.client.post(
        "/validation", content=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert report.status_code == 200, report.text
    found = report.json()
    people = [s for s in found["signatures"] if not s["document_timestamp"]]
    assert len(people) == 4
    assert all(s["intact"] and s["valid"] and s["trusted"] for s in people), people
    assert all(s["revocation"] == "good" for s in people), people
    assert found["covers_whole_document"] is True
    assert found["ltv"] is True
    assert "hợp lệ" in found["summary_vi"]


async def test_out_of_turn_and_outsiders_are_refused_and_nothing_is_signed(
    world: SigningWorld,
) -> None:
    subject, homeroom, leader, request = await chain_of_four(world)
    before = await revisions(world, request, world.of(subject))
    assert_problem(await world.sign(request, homeroom), 409, "not-your-turn")
    assert_problem(await world.sign(request, leader), 409, "not-your-turn")
    stranger = await world.signer()
    assert_problem(await world.sign(request, stranger), 403, "not-a-signer")
    # The seal is the leader's only at its turn, and never a teacher's.
    assert await revisions(world, request, world.of(subject)) == before
    assert (await world.sign(request, subject)).status_code == 200


async def test_the_second_factor_is_checked_and_used_once(world: SigningWorld) -> None:
    subject, _, _, request = await chain_of_four(world)
    sha = request["document_sha256"]
    url = f"/signing-requests/{request['id']}/sign"
    for token in (
        world.step_up(uuid.uuid4()),  # someone else's
        world.step_up(subject.user_id, purpose="something-else"),
        "not-a-token",
    ):
        response = await world.client.post(
            url, json={"document_sha256": sha, "step_up_token": token}, headers=world.of(subject)
        )
        assert_problem(response, 403, "step-up-invalid")
    token = world.step_up(subject.user_id)
    first = await world.client.post(
        url, json={"document_sha256": sha, "step_up_token": token}, headers=world.of(subject)
    )
    assert first.status_code == 200, first.text
    assert first.json()["steps"][0]["state"] == "signed"


async def test_school_software_cannot_use_a_persons_server_key(world: SigningWorld) -> None:
    subject, _, _, request = await chain_of_four(world)
    software = world.issuer.headers(
        "school-app", f"teacher@{subject.school}", kind="client", acting_for=str(subject.user_id)
    )
    response = await world.sign(request, subject, headers=software)
    assert_problem(response, 403, "step-up-needs-person")


async def test_a_document_changed_since_it_was_read_is_not_signed(world: SigningWorld) -> None:
    subject, _, _, request = await chain_of_four(world)
    response = await world.sign(request, subject, sha256="0" * 64)
    assert_problem(response, 409, "document-changed")
    assert await revisions(world, request, world.of(subject)) == 1


async def test_signers_without_a_usable_certificate_are_refused(world: SigningWorld) -> None:
    nobody = Signer(uuid.uuid4(), "none", world.units.school)
    leader = await world.signer(role="school_leader")
    subject = await world.signer()
    await world.seal()
    request = await world.open_request(
        [("subject_teacher", nobody), ("homeroom_teacher", subject), ("school_leader", leader)]
    )
    assert_problem(await world.sign(request, nobody), 422, "no-certificate")
    # The test PKI revoked this certificate: importing it is refused.
    response = await world.client.put(
        f"/schools/{world.units.school}/certificates/people/{uuid.uuid4()}",
        json={"chain_pem": world.chain_pem("revoked"), "key_label": "revoked"},
        headers=world.admin_of(world.units.school),
    )
    assert_problem(response, 422, "certificate-revoked")


async def test_refusal_waits_for_the_owner_and_restart_collects_again(world: SigningWorld) -> None:
    subject, homeroom, _leader, request = await chain_of_four(world)
    assert (await world.sign(request, subject)).status_code == 200
    url = f"/signing-requests/{request['id']}"
    blank = await world.client.post(
        f"{url}/refuse", json={"reason": "   "}, headers=world.of(homeroom)
    )
    assert blank.status_code == 422
    refused = await world.client.post(
        f"{url}/refuse", json={"reason": "Điểm Toán của em An sai"}, headers=world.of(homeroom)
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["state"] == "refused"
    events = [
        e for e in await world.outbox_events(REFUSED) if e["signing_request_id"] == request["id"]
    ]
    assert [(e["position"], e["refused_by"]) for e in events] == [(2, str(homeroom.user_id))]
    assert refused.json()["steps"][1]["refused_reason"] == "Điểm Toán của em An sai"
    assert_problem(await world.sign(request, homeroom), 409, "request-refused")

    admin = world.admin_of(world.units.school)
    same = await world.client.post(f"{url}/restart", json={}, headers=admin)
    assert same.status_code == 200, same.text
    assert [s["state"] for s in same.json()["steps"]] == ["signed", "waiting", "waiting", "waiting"]
    assert same.json()["round"] == 2
    # Refused again, then restarted with a corrected document: everyone signs again.
    await world.client.post(f"{url}/refuse", json={"reason": "Vẫn sai"}, headers=world.of(homeroom))
    fixed = base64.b64encode(world.document()).decode()
    again = await world.client.post(f"{url}/restart", json={"document": fixed}, headers=admin)
    assert again.status_code == 200, again.text
    assert [s["state"] for s in again.json()["steps"]] == ["waiting"] * 4
    assert_problem(
        await world.client.post(f"{url}/restart", json={}, headers=admin), 409, "not-refused"
    )
    assert (await world.sign(request, subject)).status_code == 200
    assert (await world.sign(request, homeroom)).status_code == 200


async def test_bad_documents_and_chains_are_refused_with_nothing_written(
    world: SigningWorld,
) -> None:
    subject = await world.signer()
    leader = await world.signer(role="school_leader")
    admin = world.admin_of(world.units.school)
    listing = await world.client.get(
        "/signing-requests", params={"school_id": str(world.units.school)}, headers=admin
    )
    before = len(listing.json()["requests"])
    base = {
        "document_id": str(uuid.uuid4()),
        "kind": "transcript",
        "title": "Học bạ",
        "school_id": str(world.units.school),
        "school_year": "2025-2026",
        "signers": [
            {"role": "subject_teacher", "user_id": str(subject.user_id), "field": "A"},
            {"role": "homeroom_teacher", "user_id": str(subject.user_id), "field": "B"},
            {"role": "school_leader", "user_id": str(leader.user_id), "field": "C"},
            {"role": "school_seal", "field": "D"},
        ],
    }
    not_pdf = {**base, "document": base64.b64encode(b"PK\x03\x04 a zip").decode()}
    assert_problem(
        await world.client.post("/signing-requests", json=not_pdf, headers=admin), 422, "not-a-pdf"
    )
    pdf = base64.b64encode(world.document()).decode()
    wrong_order = {**base, "document": pdf, "signers": list(reversed(base["signers"]))}
    response = await world.client.post("/signing-requests", json=wrong_order, headers=admin)
    problem = assert_problem(response, 422, "chain-invalid")
    assert {"out-of-order"} <= {i["code"] for i in problem["issues"]}
    no_seal = {**base, "document": pdf, "signers": base["signers"][:3]}
    problem = assert_problem(
        await world.client.post("/signing-requests", json=no_seal, headers=admin),
        422,
        "chain-invalid",
    )
    assert "role-missing" in {i["code"] for i in problem["issues"]}
    listing = await world.client.get(
        "/signing-requests", params={"school_id": str(world.units.school)}, headers=admin
    )
    assert len(listing.json()["requests"]) == before


async def test_the_client_side_flow_embeds_the_usb_tokens_signature(world: SigningWorld) -> None:
    """The key stays with the signer: the service prepares, the client signs, the service
    embeds; a signature by another key is refused and nothing is signed."""
    label = world.spare_label()
    person = Signer(uuid.uuid4(), label, world.units.school)
    imported = await world.client.put(
        f"/schools/{person.school}/certificates/people/{person.user_id}",
        json={"chain_pem": world.chain_pem(label), "key_label": None},
        headers=world.admin_of(person.school),
    )
    assert imported.status_code == 200, imported.text
    leader = await world.signer(role="school_leader")
    homeroom = await world.signer()
    await world.seal()
    request = await world.open_request(
        [("subject_teacher", person), ("homeroom_teacher", homeroom), ("school_leader", leader)]
    )
    # No server key: the server-side route says to use the client-side flow.
    assert_problem(await world.sign(request, person), 409, "key-not-on-server")
    url = f"/signing-requests/{request['id']}/external-signatures"

    async def start() -> dict[str, Any]:
        response = await world.client.post(
            url, json={"document_sha256": request["document_sha256"]}, headers=world.of(person)
        )
        assert response.status_code == 201, response.text
        started: dict[str, Any] = response.json()
        return started

    started = await start()
    stranger = ec.generate_private_key(ec.SECP256R1())
    wrong = stranger.sign(base64.b64decode(started["to_sign"]), ec.ECDSA(hashes.SHA256()))
    response = await world.client.post(
        f"{url}/{started['session_id']}",
        json={"signature": base64.b64encode(wrong).decode()},
        headers=world.of(person),
    )
    assert_problem(response, 422, "signature-mismatch")
    assert await revisions(world, request, world.of(person)) == 1

    key = serialization.load_pem_private_key(world.pki.pki.key_path(label).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    started = await start()
    value = key.sign(base64.b64decode(started["to_sign"]), ec.ECDSA(hashes.SHA256()))
    response = await world.client.post(
        f"{url}/{started['session_id']}",
        json={"signature": base64.b64encode(value).decode()},
        headers=world.of(person),
    )
    assert response.status_code == 200, response.text
    assert response.json()["steps"][0]["state"] == "signed"
    pdf = await world.document_of(request["id"], world.of(person))
    report = (
        await world.client.post(
            "/validation", content=pdf, headers={"Content-Type": "application/pdf"}
        )
    ).json()
    (only,) = report["signatures"]
    assert only["valid"]
    assert only["intact"]
    assert only["trusted"]


async def test_a_batch_signs_everything_waiting_for_a_teacher_in_a_class(
    world: SigningWorld,
) -> None:
    teacher = await world.signer()
    homeroom = await world.signer()
    leader = await world.signer(role="school_leader")
    await world.seal()
    class_id = uuid.uuid4()
    requests = [
        await world.open_request(
            [
                ("subject_teacher", teacher),
                ("homeroom_teacher", homeroom),
                ("school_leader", leader),
            ],
            class_id=class_id,
        )
        for _ in range(3)
    ]
    other = await world.open_request(
        [("subject_teacher", teacher), ("homeroom_teacher", homeroom), ("school_leader", leader)],
        class_id=uuid.uuid4(),
    )
    response = await world.client.post(
        "/signing-batches",
        json={
            "school_id": str(world.units.school),
            "class_id": str(class_id),
            "step_up_token": world.step_up(teacher.user_id),
        },
        headers=world.of(teacher),
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert (batch["state"], batch["requests"]) == ("queued", 3)
    deps = world.app.state.deps
    assert isinstance(deps, SigningDeps)
    assert str(await run_next_batch(world.uow, deps.signature_tools())) == batch["id"]
    done = (
        await world.client.get(f"/signing-batches/{batch['id']}", headers=world.of(teacher))
    ).json()
    assert (done["state"], done["signed"], done["failed"]) == ("done", 3, 0)
    for request in requests:
        read = await world.client.get(
            f"/signing-requests/{request['id']}", headers=world.of(teacher)
        )
        assert read.json()["steps"][0]["state"] == "signed"
    untouched = await world.client.get(
        f"/signing-requests/{other['id']}", headers=world.of(teacher)
    )
    assert untouched.json()["steps"][0]["state"] == "waiting"
    # Someone else's batch is not theirs to read.
    peek = await world.client.get(f"/signing-batches/{batch['id']}", headers=world.of(homeroom))
    assert peek.status_code == 404


@pytest.fixture
def world(signing_world: SigningWorld) -> SigningWorld:
    return signing_world


async def test_a_provinces_chain_decides_who_signs_a_kind_of_document(
    world: SigningWorld,
) -> None:
    """Whether every subject teacher signs varies by province: this one drops them from
    transcripts; a chain without the seal is refused (DOMAIN §6.2)."""
    province_admin = world.as_(uuid.uuid4(), f"province_admin@{world.units.province}")
    url = f"/provinces/{world.units.province}/signer-chains"
    no_seal = await world.client.put(
        f"{url}/class_log", json={"roles": ["homeroom_teacher"]}, headers=province_admin
    )
    assert_problem(no_seal, 422, "seal-required")
    teacher = await world.signer()
    refused = await world.client.put(
        f"{url}/class_log",
        json={"roles": ["homeroom_teacher", "school_seal"]},
        headers=world.of(teacher),
    )
    assert_problem(refused, 403, "forbidden")
    # The other province's chains stay the default; this one's change from now on.
    await world.client.put(
        f"{url}/transcript",
        json={"roles": ["school_seal", "school_leader", "homeroom_teacher"]},
        headers=province_admin,
    )
    chains = await world.client.get(url, headers=world.of(teacher))
    transcript = next(c for c in chains.json() if c["kind"] == "transcript")
    assert transcript["roles"] == ["homeroom_teacher", "school_leader", "school_seal"]
    assert transcript["labels"][0] == "Giáo viên chủ nhiệm"
    homeroom = await world.signer()
    leader = await world.signer(role="school_leader")
    await world.seal()
    try:
        with pytest.raises(AssertionError, match="role-not-in-chain"):
            await world.open_request(
                [
                    ("subject_teacher", teacher),
                    ("homeroom_teacher", homeroom),
                    ("school_leader", leader),
                ]
            )
        request = await world.open_request(
            [("homeroom_teacher", homeroom), ("school_leader", leader)]
        )
        assert [s["role"] for s in request["steps"]] == [
            "homeroom_teacher",
            "school_leader",
            "school_seal",
        ]
    finally:
        await world.client.put(
            f"{url}/transcript",
            json={"roles": ["subject_teacher", "homeroom_teacher", "school_leader", "school_seal"]},
            headers=province_admin,
        )
