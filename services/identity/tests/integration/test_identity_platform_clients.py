"""Platform clients (the archive service): bound to the province with the platform role
archivist, acting for a person of the province (R23); made by an operator command, never
granted to a person. Through the identity app on real PostgreSQL and Redis; tokens are checked
by ``common.auth.JwksVerifier`` against the app's own JWKS.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select, update

from common.errors import Problem
from common.testing import TokenIssuer
from identity.cli import PlatformClientRefusedError, ensure_platform_client, main
from identity.handlers.auth import create_client, create_platform_client
from identity.models import AuditRow, ClientRow, GrantRow, UserRow
from identity.testing import DATA_KEY, PROVINCE, SCHOOL, Identity, assert_problem, audit_rows

ARCHIVIST = "archivist"


async def _platform_client(identity: Identity, name: str = "archive") -> tuple[str, str]:
    return await create_platform_client(
        identity.deps.identity_uow(), name=name, province_id=PROVINCE, scopes=[ARCHIVIST]
    )


async def _token(
    identity: Identity, client: tuple[str, str], acting_for: str | None = None
) -> tuple[int, dict[str, object]]:
    data = {"grant_type": "client_credentials"}
    if acting_for is not None:
        data["acting_for"] = acting_for
    response = await identity.client.post("/oauth/token", data=data, auth=client)
    body: dict[str, object] = response.json()
    return response.status_code, body


async def test_a_platform_client_gets_archivist_at_the_province_acting_for_the_leader(
    identity: Identity,
) -> None:
    client_id, secret = await _platform_client(identity)
    leader = str(identity.users["leader"])

    response = await identity.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "acting_for": leader},
        auth=(client_id, secret),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["scope"], body["acting_for"]) == (ARCHIVIST, leader)
    principal = await identity.verifier.verify(body["access_token"])
    assert (principal.kind, principal.subject, principal.acting_for) == (
        "client",
        client_id,
        leader,
    )
    assert len(principal.grants) == 1
    assert principal.has_grant(ARCHIVIST, str(PROVINCE))
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["grants"] == [f"archivist@{PROVINCE}"]
    assert "fid" not in claims
    audit = await audit_rows(identity)
    created = next(a for a in audit if a.action == "client-created")
    assert (created.actor_kind, created.actor_id, created.unit_id) == ("platform", None, PROVINCE)
    assert created.details == {"scopes": [ARCHIVIST], "kind": "platform"}
    issued = next(a for a in audit if a.action == "client-token")
    assert (issued.actor_id, issued.on_behalf_of, issued.unit_id) == (client_id, leader, PROVINCE)


async def test_a_platform_client_acts_for_any_active_person_of_the_province(
    identity: Identity,
) -> None:
    client = await _platform_client(identity)

    for person in ("teacher", "staff", "newleader"):  # teacher through the team's grant
        status, body = await _token(identity, client, str(identity.users[person]))
        assert status == 200, body
    status, body = await _token(identity, client)
    assert status == 200, body
    assert body["acting_for"] is None  # reads only: every service asks writes for a person


async def test_a_platform_client_does_not_act_for_someone_without_a_role_in_the_province(
    identity: Identity,
) -> None:
    """Nobody of another province can be stored (one department per deployment), so a person
    outside it is one with no effective grant in it; the domain rule is unit-tested too."""
    client = await _platform_client(identity)
    now = datetime.now(UTC)
    outsider, expired = uuid.uuid4(), uuid.uuid4()
    async with identity.sessions() as s:
        s.add(UserRow(id=outsider, username="khach", full_name="Khách", home_unit_id=SCHOOL))
        s.add(UserRow(id=expired, username="cu", full_name="Người Cũ", home_unit_id=SCHOOL))
        await s.flush()
        s.add(
            GrantRow(
                id=uuid.uuid4(),
                role="school_leader",
                unit_id=SCHOOL,
                grantee_kind="user",
                grantee_id=expired,
                valid_from=now - timedelta(days=30),
                valid_to=now - timedelta(days=1),
                granted_by=identity.users["leader"],
            )
        )
        await s.commit()

    for acting_for in (
        str(outsider),  # an account of the province with no role anywhere
        str(expired),  # a leader whose term ended
        str(identity.users["disabled"]),  # a teacher whose account is disabled
        str(uuid.uuid4()),  # nobody
        "not-a-user-id",
    ):
        response = await identity.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "acting_for": acting_for},
            auth=client,
        )
        assert_problem(response, 400, "invalid-grant")
        assert response.json()["error"] == "invalid_grant"
        assert "province" in response.json()["error_description"]


async def test_a_platform_client_needs_a_platform_scope_the_province_and_a_free_name(
    identity: Identity,
) -> None:
    await _platform_client(identity)
    uow = identity.deps.identity_uow()
    async with identity.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(ClientRow))

    with pytest.raises(Problem) as teacher_scope:
        await create_platform_client(uow, name="x", province_id=PROVINCE, scopes=["teacher"])
    with pytest.raises(Problem) as at_a_school:
        await create_platform_client(uow, name="x", province_id=SCHOOL, scopes=[ARCHIVIST])
    with pytest.raises(Problem) as taken:
        await create_platform_client(uow, name="archive", province_id=PROVINCE, scopes=[ARCHIVIST])
    with pytest.raises(Problem) as school_software:
        await create_client(
            uow, name="y", school_id=SCHOOL, scopes=[ARCHIVIST], created_by=uuid.uuid4()
        )

    assert teacher_scope.value.code == "client-scope-invalid"
    assert at_a_school.value.code == "province-unknown"
    assert (taken.value.status, taken.value.code) == (409, "client-exists")
    assert school_software.value.code == "client-scope-invalid"
    async with identity.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ClientRow)) == before


async def test_two_racing_creates_of_one_name_make_one_client(identity: Identity) -> None:
    results = await asyncio.gather(
        *(_platform_client(identity, "archive-race") for _ in range(3)), return_exceptions=True
    )

    made = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if not isinstance(r, tuple)]
    assert len(made) == 1, results
    assert all(isinstance(r, Problem) and r.code == "client-exists" for r in refused), refused


async def test_the_operator_command_is_idempotent_by_name_and_rotates_on_demand(
    identity: Identity,
) -> None:
    uow = identity.deps.identity_uow()

    created = await ensure_platform_client(uow, "archive", " 79 ", ["archivist"])
    again = await ensure_platform_client(uow, "archive", "79", ["archivist"])
    old = (created.client_id, created.secret or "")
    assert (await _token(identity, old))[0] == 200
    rotated = await ensure_platform_client(uow, "archive", "79", ["archivist"], rotate=True)

    assert created.state == "created"
    assert created.secret
    assert (again.state, again.client_id, again.secret) == ("unchanged", created.client_id, None)
    assert (rotated.state, rotated.client_id) == ("rotated", created.client_id)
    assert rotated.secret not in {None, created.secret}
    status, body = await _token(identity, old)
    assert (status, body["error"]) == (401, "invalid_client")
    assert (await _token(identity, (rotated.client_id, rotated.secret or "")))[0] == 200
    actions = [a.action for a in await audit_rows(identity) if a.target == created.client_id]
    assert actions.count("client-created") == 1
    assert actions.count("client-secret-rotated") == 1


async def test_the_operator_command_refuses_a_different_client_of_that_name(
    identity: Identity,
) -> None:
    uow = identity.deps.identity_uow()
    created = await ensure_platform_client(uow, "archive", "79", ["archivist"])

    with pytest.raises(PlatformClientRefusedError, match="nothing changed"):
        await ensure_platform_client(uow, "archive", "79", ["archivist", "teacher"])
    with pytest.raises(PlatformClientRefusedError, match="not the province"):
        await ensure_platform_client(uow, "archive-2", "76001", ["archivist"])
    with pytest.raises(PlatformClientRefusedError, match="not the province"):
        await ensure_platform_client(uow, "archive-2", "99", ["archivist"])
    with pytest.raises(PlatformClientRefusedError, match="client-scope-invalid"):
        await ensure_platform_client(uow, "archive-2", "79", ["school_leader"])
    async with identity.sessions() as s:
        await s.execute(
            update(ClientRow)
            .where(ClientRow.client_id == created.client_id)
            .values(status="disabled")
        )
        await s.commit()
    with pytest.raises(PlatformClientRefusedError, match="disabled"):
        await ensure_platform_client(uow, "archive", "79", ["archivist"], rotate=True)
    async with identity.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ClientRow)) == 1
        rotations = await s.scalar(
            select(func.count())
            .select_from(AuditRow)
            .where(AuditRow.action == "client-secret-rotated")
        )
    assert rotations == 0


async def test_the_operator_command_prints_the_secret_once(
    identity: Identity, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDENTITY_DATABASE_URL", identity.deps.settings.database_url)
    # The service's secrets, as a deployment has them: no warning about random ones.
    monkeypatch.setenv("IDENTITY_KEY_PASSPHRASE", "test-key-passphrase-not-a-secret")
    monkeypatch.setenv("IDENTITY_DATA_KEY", DATA_KEY)
    argv = ["platform-client", "--name", "archive", "--province-code", "79", "--scopes", ARCHIVIST]

    first = await asyncio.to_thread(main, argv)
    printed = capsys.readouterr().out
    second = await asyncio.to_thread(main, argv)
    printed_again = capsys.readouterr().out

    assert (first, second) == (0, 0), printed
    comment, client_line, secret_line = printed.splitlines()
    assert comment.startswith("# platform client 'archive' at province 79 (scopes: archivist)")
    client_id = client_line.removeprefix("client_id=")
    secret = secret_line.removeprefix("client_secret=")
    assert (await _token(identity, (client_id, secret)))[0] == 200
    assert printed_again.splitlines()[1:] == [f"client_id={client_id}"]
    assert "nothing changed" in printed_again
    assert secret not in printed_again


def test_the_test_issuer_mints_the_archives_token() -> None:
    """Other services' tests mint the archive's token with ``common.testing.TokenIssuer``."""
    issuer = TokenIssuer()
    leader = uuid.uuid4()

    token = issuer.mint("hsdt-archive", f"archivist@{PROVINCE}", kind="client", acting_for=leader)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["kind"], claims["acting_for"]) == (
        "hsdt-archive",
        "client",
        str(leader),
    )
    assert claims["grants"] == [f"archivist@{PROVINCE}"]
