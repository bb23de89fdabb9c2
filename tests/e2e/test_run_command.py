"""`make run` (scripts/run.sh) for real: the whole platform comes up behind the gateway, answers
through it, and goes away completely on SIGTERM.

The run gets its own ports, databases, vhost, Redis prefix and run directory (named after
HSDT_TEST_RUN_ID), so it can run beside a developer's own `make run`; all removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "records", "attendance", "signing", "archive")
# Throwaway, for the demo accounts of this test's own platform (HSDT_DEMO_PASSWORD).
DEMO_PASSWORD = "e2e-demo-Passphrase-2026"
# Set-up, migrations, queues and every service's demo run first; a busy 2-core CI box needs minutes.
START_TIMEOUT = float(os.environ.get("HSDT_E2E_START_TIMEOUT", "480"))
STOP_TIMEOUT = 60.0
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-w", "-X", "-tA"]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_ports(first: int, count: int) -> int:
    for base in range(first, first + 3000, count + 7):
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports")


def _pids_with_marker(marker: str) -> list[int]:
    """Processes whose environment carries this test's marker: everything run.sh started."""
    needle = f"HSDT_E2E_MARKER={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
    return pids


def _sbin(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh (make test does)")
    return path


@dataclass
class Run:
    process: subprocess.Popen[str]
    gateway: str
    ports: list[int]
    marker: str
    lines: list[str] = field(default_factory=list)
    up: threading.Event = field(default_factory=threading.Event)

    def output(self) -> str:
        return "".join(self.lines[-200:])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    run_id = re.sub(r"[^a-z0-9]", "", (os.environ.get("HSDT_TEST_RUN_ID") or "").lower())
    run_id = run_id or uuid.uuid4().hex[:8]
    gateway_port = _free_ports(18080, 1)
    port_base = _free_ports(18100, 6)
    db_prefix = f"hsdt_e2e_{run_id}_"
    vhost = f"hsdt_e2e_{run_id}"
    redis_prefix = f"hsdt:e2e:{run_id}:"
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "HSDT_GATEWAY_PORT": str(gateway_port),
        "HSDT_PORT_BASE": str(port_base),
        "HSDT_DB_PREFIX": db_prefix,
        "HSDT_VHOST": vhost,
        "HSDT_REDIS_PREFIX": redis_prefix,
        "HSDT_RUN_DIR": str(tmp_path_factory.mktemp("run")),
        "HSDT_START_TIMEOUT": str(int(START_TIMEOUT)),
        "HSDT_E2E_MARKER": marker,
        "HSDT_DEMO_PASSWORD": DEMO_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts/run.sh")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # The services, the dev PKI's TSA/OCSP/CRL server of signing (base + 90) and archive's S3
    # server (base + 91).
    ports = [gateway_port, port_base + 90, port_base + 91]
    ports += [port_base + i for i in range(1, len(SERVICES) + 1)]
    run = Run(process, f"http://127.0.0.1:{gateway_port}", ports, marker)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.lines.append(line)
            if line.startswith(f"Gateway: {run.gateway}/"):
                run.up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT + 30
        while not run.up.wait(0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"scripts/run.sh did not print the gateway URL (rc={process.poll()}):\n"
                    + run.output()
                )
        yield run
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for pid in _pids_with_marker(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        _drop_run_state(db_prefix, vhost, redis_prefix)


def _drop_run_state(db_prefix: str, vhost: str, redis_prefix: str) -> None:
    for svc in SERVICES:
        subprocess.run(
            [*PG_ADMIN, "-c", f'DROP DATABASE IF EXISTS "{db_prefix}{svc}" WITH (FORCE)'],
            capture_output=True,
            timeout=60,
            check=False,
        )
    subprocess.run(
        [_sbin("rabbitmqctl"), "-q", "delete_vhost", vhost],
        capture_output=True,
        timeout=60,
        check=False,
    )
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.slow
def test_every_service_answers_through_the_gateway(platform: Run) -> None:
    with httpx.Client(base_url=platform.gateway, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        for svc in SERVICES:
            health = client.get(f"/{svc}/healthz")
            assert health.status_code == 200, (svc, health.text)
            assert re.fullmatch(r"[0-9a-f]{32}", health.headers["x-request-id"])

            spec = client.get(f"/{svc}/openapi.json")
            assert spec.status_code == 200, svc
            document = spec.json()
            assert document["openapi"].startswith("3.1")
            # root_path is set, so the docs' links lead back through the gateway.
            assert {"url": f"/{svc}"} in document.get("servers", []), document.get("servers")

            docs = client.get(f"/{svc}/docs")
            assert docs.status_code == 200
            assert f"/{svc}/openapi.json" in docs.text


@pytest.mark.slow
def test_a_demo_teacher_signs_in_and_calls_another_service(platform: Run) -> None:
    """Issue #3's acceptance: the demo province exists after the run command, and a school's
    teacher signs in through the gateway and calls another service with the token."""
    # Teachers need no second factor; the demo names accounts <role>.<school code>.
    username = "gv1.bldxth01"
    with httpx.Client(base_url=platform.gateway, timeout=20) as client:
        signed_in = client.post(
            "/identity/api/v1/auth/sign-in",
            json={"username": username, "password": DEMO_PASSWORD},
        )
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        me = client.get("/records/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        wrong = client.post(
            "/identity/api/v1/auth/sign-in",
            json={"username": username, "password": DEMO_PASSWORD + "x"},
        )
    assert me.status_code == 200, me.text
    body = me.json()
    uuid.UUID(body["subject"])  # the account's id, never its name (nothing personal in tokens)
    assert body["kind"] == "user"
    assert any(grant.startswith("teacher@") for grant in body["grants"]), body
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")


# Recovery codes of the second factor the demo's leaders and admins enrolled during this run, by
# username: a later sign-in within the same 30 s may not reuse the TOTP code (replay protection).
_RECOVERY_CODES: dict[str, list[str]] = {}
# Their TOTP secrets, and the last 30-second step each one's code was used in: a step is spent
# once (replay protection), so a second code within the same step is a recovery code.
_TOTP_SECRETS: dict[str, str] = {}
_LAST_STEP: dict[str, int] = {}


def _code_for(username: str) -> str:
    """A second-factor code for ``username``: the current TOTP code if its step is unspent,
    else one of the recovery codes."""
    step = int(time.time() // 30)
    if username in _TOTP_SECRETS and _LAST_STEP.get(username) != step:
        _LAST_STEP[username] = step
        return pyotp.TOTP(_TOTP_SECRETS[username]).at(step * 30)
    return _RECOVERY_CODES[username].pop()


def _sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    """Sign in a demo account through the gateway; leaders enrol their second factor first."""
    credentials = {"username": username, "password": DEMO_PASSWORD}
    if username in _TOTP_SECRETS:
        credentials["totp_code"] = _code_for(username)
    signed_in = client.post("/identity/api/v1/auth/sign-in", json=credentials)
    if signed_in.status_code == 401 and signed_in.json()["code"] == "totp-enrolment-required":
        token = signed_in.json()["enrolment_token"]
        enrolled = client.post("/identity/api/v1/auth/totp/enrol", json={"enrolment_token": token})
        assert enrolled.status_code == 200, enrolled.text
        _RECOVERY_CODES[username] = list(enrolled.json()["recovery_codes"])
        _TOTP_SECRETS[username] = enrolled.json()["secret"]
        code = _code_for(username)
        signed_in = client.post(
            "/identity/api/v1/auth/totp/confirm", json={"enrolment_token": token, "code": code}
        )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


@pytest.mark.slow
def test_a_column_is_entered_confirmed_approved_and_explained(platform: Run) -> None:
    """Issue #4's acceptance, through the gateway: the demo's subject teacher enters the last
    column of Toán for 6A1, the homeroom teacher confirms the term (R17), the leader approves
    it (R12), and the computed results explain themselves (R32)."""
    with httpx.Client(base_url=f"{platform.gateway}", timeout=30) as client:
        teacher = _sign_in(client, "gv1.bldxthcs01")
        mine = client.get("/records/api/v1/assignments/mine", headers=teacher)
        assert mine.status_code == 200, mine.text
        class_id = next(
            a["class_id"]
            for a in mine.json()
            if a["class_name"] == "6A1" and a["subject"] == "toan" and a["term"] == "term_1"
        )
        sheet_url = f"/records/api/v1/classes/{class_id}/sheets/toan/term_1"
        sheet = client.get(sheet_url, headers=teacher)
        assert sheet.status_code == 200, sheet.text
        rows = sheet.json()["rows"]
        assert rows
        assert all("ck" not in r["cells"] for r in rows)
        column = [
            {"student_id": r["student_id"], "column": "ck", "value": f"{7 + i % 3}.5"}
            for i, r in enumerate(rows)
        ]
        saved = client.patch(
            sheet_url,
            json={"cells": column},
            headers={**teacher, "If-Match": sheet.headers["etag"]},
        )
        assert saved.status_code == 200, saved.text
        assert all(r["cells"]["ck"] for r in saved.json()["rows"])

        homeroom = _sign_in(client, "gv2.bldxthcs01")
        results_url = f"/records/api/v1/classes/{class_id}/results/term_1"
        confirmed = client.post(f"{results_url}/confirm", headers=homeroom)
        assert confirmed.status_code == 201, confirmed.text
        leader = _sign_in(client, "hieutruong.bldxthcs01")
        approved = client.post(f"{results_url}/approve", headers=leader)
        assert approved.status_code == 200, approved.text
        results = client.get(results_url, headers=leader)
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["complete"] is True
    assert body["review"]["approved_at"]
    student = body["students"][0]
    findings = {f["key"]: f for f in student["findings"]}
    average = findings["subject_average.term_1.toan"]
    assert average["value"] is not None
    assert average["rule_set"] == "tt22_2021"
    assert "ck" in average["inputs"] or any("ck" in k for k in average["inputs"])
    assert average["reason_vi"]
    assert findings["learning.term_1"]["value"] in {"T", "K", "D", "CD"}


@pytest.mark.slow
def test_a_locked_term_is_corrected_with_witnesses_and_the_chain_verifies(platform: Run) -> None:
    """Issue #5's acceptance, through the gateway: the demo school approves and locks term 1 of
    9A1, a correction goes through all its steps (R27), and the audit chain verifies (R5)."""
    api = "/records/api/v1"
    with httpx.Client(base_url=f"{platform.gateway}", timeout=30) as client:
        teacher = _sign_in(client, "gv1.bldxthcs01")
        homeroom = _sign_in(client, "gv2.bldxthcs01")
        leader = _sign_in(client, "hieutruong.bldxthcs01")
        board = _sign_in(client, "quantri.bldxthcs01")
        mine = client.get(f"{api}/assignments/mine", headers=teacher).json()
        class_id = next(a["class_id"] for a in mine if a["class_name"] == "9A1")
        school_id = next(a["school_id"] for a in mine if a["class_name"] == "9A1")
        year_id = next(a["school_year_id"] for a in mine if a["class_name"] == "9A1")
        results = f"{api}/classes/{class_id}/results/term_1"
        assert client.post(f"{results}/confirm", headers=homeroom).status_code == 201
        assert client.post(f"{results}/approve", headers=leader).status_code == 200
        locked = client.post(
            f"{api}/locks",
            json={
                "school_id": school_id,
                "school_year_id": year_id,
                "period": "term_1",
                "class_ids": [class_id],
                "reason": "Khóa sổ học kỳ I",
            },
            headers=leader,
        )
        assert locked.status_code == 201, locked.text
        sheet_url = f"{api}/classes/{class_id}/sheets/toan/term_1"
        sheet = client.get(sheet_url, headers=teacher).json()
        student = sheet["rows"][0]["student_id"]
        old = sheet["rows"][0]["cells"]["ck"]
        new = "9.0" if old != "9.0" else "8.0"
        refused = client.patch(
            sheet_url,
            json={"cells": [{"student_id": student, "column": "ck", "value": new}]},
            headers={**teacher, "If-Match": f'"{sheet["version"]}"'},
        )
        assert refused.status_code == 423, refused.text
        filed = client.post(
            f"{api}/corrections",
            json={
                "class_id": class_id,
                "sheet": "toan",
                "period": "term_1",
                "student_id": student,
                "cells": [{"column": "ck", "new": new}],
                "reason": "Nhập nhầm điểm bài kiểm tra cuối kỳ",
            },
            headers=teacher,
        )
        assert filed.status_code == 201, filed.text
        correction = f"{api}/corrections/{filed.json()['id']}"
        permitted = client.post(f"{correction}/permit", json={"note": "Đồng ý"}, headers=leader)
        assert permitted.status_code == 200, permitted.text
        assert client.post(f"{correction}/witness", headers=board).status_code == 200
        applied = client.post(f"{correction}/witness", headers=homeroom)
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "applied"
        after = client.get(sheet_url, headers=teacher).json()
        snapshot = client.get(f"{api}/classes/{class_id}/snapshots/term_1", headers=leader)
        verified = client.get(f"{api}/schools/{school_id}/audit/verify", headers=leader)
    assert {r["student_id"]: r["cells"]["ck"] for r in after["rows"]}[student] == new
    assert snapshot.json()["versions"] == [1, 2]
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
    assert verified.json()["records"] > 0


def _attendance_classes(
    client: httpx.Client, headers: dict[str, str], school_id: str
) -> dict[str, str]:
    """The homeroom teacher's classes in attendance, once records' class lists have reached
    it through the bus (the workers relay and consume them after start-up)."""
    params = {"school_id": school_id, "school_year": _school_year(datetime.now(VIETNAM).date())}
    deadline = time.monotonic() + 90
    while True:
        listed = client.get("/attendance/api/v1/classes", params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        classes = {c["label"]: c["class_id"] for c in listed.json()}
        if {"6A1", "9A1"} <= classes.keys() or time.monotonic() > deadline:
            return classes
        time.sleep(1)


@pytest.mark.slow
def test_a_roll_before_and_after_the_deadline_shows_in_compliance(platform: Run) -> None:
    """Issue #6's acceptance, through the gateway: the demo's homeroom teacher takes 6A1's roll
    before today's deadline and 9A1's for an earlier day after its deadline (R14); the school's
    compliance report shows one on time and one late.

    The school's board first sets an afternoon session starting 40 minutes from now, every day
    of the week, so today has a deadline still ahead whatever the hour of the run (the demo's
    07:00 would be past by mid-morning)."""
    api = "/attendance/api/v1"
    with httpx.Client(base_url=platform.gateway, timeout=30) as client:
        homeroom = _sign_in(client, "gv2.bldxthcs01")
        board = _sign_in(client, "quantri.bldxthcs01")
        leader = _sign_in(client, "hieutruong.bldxthcs01")
        teacher = _sign_in(client, "gv1.bldxthcs01")
        mine = client.get("/records/api/v1/assignments/mine", headers=teacher).json()
        school_id = next(a["school_id"] for a in mine if a["class_name"] == "6A1")
        classes = _attendance_classes(client, homeroom, school_id)
        assert {"6A1", "9A1"} <= classes.keys(), classes
        now = datetime.now(VIETNAM)
        start = (now + timedelta(minutes=40)).time().replace(second=0, microsecond=0)
        assert now.date() == (now + timedelta(minutes=40 + 45)).date(), "too close to midnight"
        bells = client.put(
            f"{api}/schools/{school_id}/bell-schedule",
            json={
                "sessions": [
                    {
                        "session": "afternoon" if start.hour >= 11 else "morning",
                        "first_period_start": start.isoformat(timespec="minutes"),
                        "periods": 1,
                    }
                ],
                "weekdays": [1, 2, 3, 4, 5, 6, 7],
            },
            headers=board,
        )
        assert bells.status_code == 200, bells.text
        session = bells.json()["sessions"][0]["session"]
        today = now.date()
        earlier = today - timedelta(days=7)
        days = client.get(
            f"{api}/schools/{school_id}/school-days",
            params={"school_year": _school_year(today), "from": str(earlier), "to": str(today)},
            headers=board,
        )
        assert days.status_code == 200, days.text
        listed = [d["day"] for d in days.json()]
        assert str(today) in listed, listed
        past = max(d for d in listed if d < str(today))
        rolls = {}
        for label, day in (("6A1", str(today)), ("9A1", past)):
            url = f"{api}/classes/{classes[label]}/roll-calls/{day}/{session}"
            sheet = client.get(url, headers=homeroom)
            assert sheet.status_code == 200, sheet.text
            marks = [
                {"student_id": s["student_id"], "mark": "absent_excused" if i == 0 else "present"}
                for i, s in enumerate(sheet.json()["students"])
            ]
            key = {"Idempotency-Key": f"e2e-{label}-{day}-{uuid.uuid4().hex[:6]}"}
            submitted = client.put(url, json={"marks": marks}, headers={**homeroom, **key})
            assert submitted.status_code == 201, submitted.text
            rolls[label] = submitted.json()["roll_call"]
        report = client.get(
            f"{api}/reports/compliance",
            params={"unit_id": school_id, "from": past, "to": str(today)},
            headers=leader,
        )
    assert rolls["6A1"]["on_time"] is True
    assert rolls["9A1"]["on_time"] is False
    assert report.status_code == 200, report.text
    rows = {r["label"]: r for r in report.json()["rows"]}
    assert (rows["6A1"]["on_time"], rows["6A1"]["late"]) == (1, 0)
    assert (rows["9A1"]["on_time"], rows["9A1"]["late"]) == (0, 1)
    assert rows["9A1"]["absences"] == 1


def _school_year(today: date) -> str:
    first = today.year if (today.month, today.day) >= (8, 15) else today.year - 1
    return f"{first}-{first + 1}"


def _second_factor(client: httpx.Client, username: str, headers: dict[str, str]) -> str:
    """A code for a step-up: a leader's recovery code from sign-in, or a teacher enrols TOTP
    of their own accord (``/auth/me/totp``) and keeps its recovery codes for later."""
    if username not in _TOTP_SECRETS:
        enrolled = client.post(
            "/identity/api/v1/auth/me/totp",
            json={"current_password": DEMO_PASSWORD},
            headers=headers,
        )
        assert enrolled.status_code == 200, enrolled.text
        _TOTP_SECRETS[username] = enrolled.json()["secret"]
        _RECOVERY_CODES[username] = list(enrolled.json()["recovery_codes"])
        confirmed = client.post(
            "/identity/api/v1/auth/me/totp/confirm",
            json={"code": _code_for(username)},
            headers=headers,
        )
        assert confirmed.status_code == 204, confirmed.text
    return _code_for(username)


# Who signs at which place of the demo school's chains: gv1 teaches every subject, gv2 is the
# homeroom teacher, the leader signs and applies the school's seal.
_SIGNER_OF: dict[str, str] = {
    "subject_teacher": "gv1",
    "homeroom_teacher": "gv2",
    "school_leader": "hieutruong",
    "school_seal": "hieutruong",
}


def _sign_by_the_chain(
    client: httpx.Client, request_id: str, school: str, headers: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Each place of the request signs at its turn, with a TOTP step-up; the last answer."""
    request = client.get(
        f"/signing/api/v1/signing-requests/{request_id}", headers=headers["hieutruong"]
    ).json()
    for step in request["steps"]:
        signer = _SIGNER_OF[step["role"]]
        code = _second_factor(client, f"{signer}.{school}", headers[signer])
        step_up = client.post(
            "/identity/api/v1/auth/step-up",
            json={"code": code, "purpose": "signing"},
            headers=headers[signer],
        )
        assert step_up.status_code == 200, step_up.text
        current = client.get(
            f"/signing/api/v1/signing-requests/{request_id}", headers=headers[signer]
        ).json()
        signed = client.post(
            f"/signing/api/v1/signing-requests/{request_id}/sign",
            json={
                "document_sha256": current["document_sha256"],
                "step_up_token": step_up.json()["step_up_token"],
            },
            headers=headers[signer],
        )
        assert signed.status_code == 200, signed.text
    answer: dict[str, Any] = signed.json()
    return answer


@pytest.mark.slow
def test_a_transcript_is_signed_by_four_and_validates_publicly(platform: Run) -> None:
    """Issue #7's acceptance, through the gateway: the demo transcript of THCS Lê Quý Đôn is
    signed by its subject teacher (gv1), homeroom teacher (gv2), the leader, then the school's
    seal (by the leader), each with a TOTP step-up from identity; the public validation endpoint,
    with no token, reports the four signatures valid and the document archived (B-LTA)."""
    school = "bldxthcs01"
    with httpx.Client(base_url=platform.gateway, timeout=60) as client:
        headers = {u: _sign_in(client, f"{u}.{school}") for u in ("gv1", "gv2", "hieutruong")}
        school_id = (
            client.get("/identity/api/v1/me", headers=headers["hieutruong"])
            .json()["grants"][0]
            .split("@")[1]
        )
        found = client.get(
            "/signing/api/v1/signing-requests",
            params={"school_id": school_id, "waiting_for_me": "true"},
            headers=headers["gv1"],
        )
        assert found.status_code == 200, found.text
        (request,) = [r for r in found.json()["requests"] if r["kind"] == "transcript"]
        signed = _sign_by_the_chain(client, request["id"], school, headers)
        assert signed["state"] == "completed"
        pdf = client.get(
            f"/signing/api/v1/signing-requests/{request['id']}/document",
            headers=headers["gv1"],
        )
        assert pdf.headers["content-type"] == "application/pdf"
        report = client.post(
            "/signing/api/v1/validation",
            content=pdf.content,
            headers={"Content-Type": "application/pdf"},
        )
    assert report.status_code == 200, report.text
    body = report.json()
    people = [s for s in body["signatures"] if not s["document_timestamp"]]
    assert [s["signer"] for s in people] == [
        "Lê Thị Thu Hà",
        "Phạm Minh Đức",
        "Nguyễn Thị Hồng Nhung",
        "Trường THCS Lê Quý Đôn",
    ]
    assert all(s["valid"] and s["intact"] and s["trusted"] for s in people), people
    assert all(s["revocation"] == "good" for s in people), people
    assert body["valid"] is True
    assert body["covers_whole_document"] is True
    assert body["ltv"] is True


def _wait(what: str, check: Any, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(1.0)


@pytest.mark.slow
def test_the_locked_term_is_archived_signed_and_retained(platform: Run) -> None:
    """Issue #8's acceptance, through the gateway and the bus: the term the records test locked
    (and corrected) at THCS Lê Quý Đôn reaches archive as events; archive renders the class's
    tracking book from each snapshot version and opens its signing requests, the four sign,
    archive stores each signed book under COMPLIANCE retention with a legal hold, and the
    stored PDF validates publicly."""
    school = "bldxthcs01"
    with httpx.Client(base_url=platform.gateway, timeout=60) as client:
        headers = {u: _sign_in(client, f"{u}.{school}") for u in ("gv1", "gv2", "hieutruong")}
        school_id = (
            client.get("/identity/api/v1/me", headers=headers["hieutruong"])
            .json()["grants"][0]
            .split("@")[1]
        )

        def pipeline() -> list[dict[str, Any]]:
            answer = client.get(
                f"/archive/api/v1/schools/{school_id}/pipeline", headers=headers["hieutruong"]
            )
            assert answer.status_code == 200, answer.text
            found: list[dict[str, Any]] = answer.json()
            return found

        def rendered() -> list[dict[str, Any]] | None:
            state = pipeline()
            jobs = [p for p in state if p["kind"] == "class_job"]
            waiting = [p for p in state if p["kind"] == "document_version"]
            return waiting if waiting and not jobs else None

        waiting = _wait("archive rendered the locked term", rendered)
        assert all(p["state"] == "signing" for p in waiting), waiting
        books = client.get(
            "/signing/api/v1/signing-requests",
            params={"school_id": school_id, "waiting_for_me": "true"},
            headers=headers["gv1"],
        ).json()["requests"]
        books = [r for r in books if r["kind"] == "tracking_book"]
        assert len(books) == len(waiting), (books, waiting)
        for book in books:
            assert _sign_by_the_chain(client, book["id"], school, headers)["state"] == "completed"
        _wait("archive stored every signed book", lambda: not pipeline())
        packages = client.get(
            f"/archive/api/v1/schools/{school_id}/packages",
            params={"kind": "tracking_book"},
            headers=headers["hieutruong"],
        ).json()
        assert len(packages) == len(books)
        # The correction made a second version; the first stays.
        assert sorted(p["version"] for p in packages) == list(range(1, len(books) + 1))
        assert all(p["legal_hold"] for p in packages), packages
        detail = client.get(
            f"/archive/api/v1/packages/{packages[0]['id']}", headers=headers["hieutruong"]
        ).json()
        assert {o["path"] for o in detail["objects"]} == {
            "data/document.pdf",
            "data/twin.json",
            "manifest.json",
        }
        assert all(o["replicated"] is False for o in detail["objects"])
        pdf = client.get(
            f"/archive/api/v1/packages/{packages[0]['id']}/document",
            headers=headers["hieutruong"],
        )
        assert pdf.status_code == 200, pdf.text
        report = client.post(
            "/signing/api/v1/validation",
            content=pdf.content,
            headers={"Content-Type": "application/pdf"},
        ).json()
    assert report["valid"] is True, report["summary_vi"]
    assert report["ltv"] is True
    people = [s for s in report["signatures"] if not s["document_timestamp"]]
    assert [s["signer"] for s in people] == [
        "Lê Thị Thu Hà",
        "Phạm Minh Đức",
        "Nguyễn Thị Hồng Nhung",
        "Trường THCS Lê Quý Đôn",
    ]


@pytest.mark.slow
def test_request_id_of_the_client_comes_back(platform: Run) -> None:
    with httpx.Client(base_url=platform.gateway, timeout=10) as client:
        response = client.get("/records/healthz", headers={"X-Request-ID": "e2e-run-1"})
    assert response.headers.get_list("x-request-id") == ["e2e-run-1"]


@pytest.mark.slow
def test_a_burst_from_one_client_is_limited_with_problem_json(platform: Run) -> None:
    client_id = f"e2e-burst-{uuid.uuid4().hex[:8]}"
    limited: httpx.Response | None = None
    with httpx.Client(base_url=platform.gateway, timeout=10) as client:
        for _ in range(300):
            response = client.get("/attendance/healthz", headers={"X-Client-Id": client_id})
            if response.status_code == 429:
                limited = response
                break
            assert response.status_code == 200
    assert limited is not None, "300 quick requests from one client were never limited"
    assert limited.headers["content-type"].startswith("application/problem+json")
    body = limited.json()
    assert body["title"] == "Quá nhiều yêu cầu"
    assert body["code"] == "too-many-requests"
    assert body["status"] == 429


@pytest.mark.slow
def test_ctrl_c_stops_every_process_it_started(platform: Run) -> None:
    # Last in the module: it ends the run the other tests used. SIGINT to the process group is
    # what a terminal sends on Ctrl-C; SIGTERM takes the same path in scripts/run.sh.
    assert _pids_with_marker(platform.marker), "no process of the run carries the marker"
    os.killpg(platform.process.pid, signal.SIGINT)
    assert platform.process.wait(timeout=STOP_TIMEOUT) == 130  # 128 + SIGINT, after cleaning up
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = _pids_with_marker(platform.marker)
        busy = [port for port in platform.ports if _listening(port)]
        if not left and not busy:
            break
        time.sleep(0.2)
    assert left == [], f"still running: {left}\n{platform.output()}"
    assert busy == [], f"still listening: {busy}"
    assert "[run] stopped" in platform.output()
