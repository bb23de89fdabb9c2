"""The object store against a real Ceph RGW: object lock, versions, refusals, failures."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.retention import Retention as MinioRetention

from archive.storage import (
    ChecksumMismatch,
    LockMode,
    ObjectMissing,
    ObjectStore,
    Retention,
    RetentionNotExtended,
    StoreError,
    StoreUnavailable,
)
from archive.storage.rgw import RgwServer
from archive.storage.store import parse_amz_date
from archive.storage_testing import bucket_name, free_port

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def in_days(days: float) -> datetime:
    # Whole milliseconds: what S3 keeps of a retention date.
    now = datetime.now(UTC) + timedelta(days=days)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def compliance(days: float = 1, *, hold: bool = False) -> Retention:
    return Retention(LockMode.COMPLIANCE, in_days(days), legal_hold=hold)


def test_put_locks_the_version_in_compliance_with_a_legal_hold(object_store: ObjectStore) -> None:
    retention = compliance(hold=True)
    stored = object_store.put(
        "2026/transcript.pdf",
        PDF,
        content_type="application/pdf",
        retention=retention,
        metadata={"document-kind": "transcript"},
    )

    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.size == len(PDF)
    info = object_store.stat("2026/transcript.pdf", stored.version_id)
    assert info.version_id == stored.version_id
    assert info.lock_mode is LockMode.COMPLIANCE
    assert info.retain_until == retention.until
    assert info.legal_hold is True
    assert info.size == len(PDF)
    assert info.etag == hashlib.md5(PDF).hexdigest()
    assert info.content_type == "application/pdf"
    assert info.metadata == {"sha256": stored.sha256, "document-kind": "transcript"}
    assert info.sha256 == stored.sha256
    assert object_store.get("2026/transcript.pdf") == PDF
    assert object_store.get("2026/transcript.pdf", stored.version_id) == PDF


def test_rgw_sends_nanosecond_retention_dates_and_the_store_reads_them(
    object_store: ObjectStore,
) -> None:
    retention = compliance()
    stored = object_store.put("k", b"x", retention=retention)
    raw = object_store.client.stat_object(object_store.bucket, "k", version_id=stored.version_id)
    header = (raw.metadata or {})["x-amz-object-lock-retain-until-date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", header), header
    assert parse_amz_date(header) == retention.until
    assert object_store.stat("k").retain_until == retention.until


def test_a_legal_hold_alone_locks_a_version(object_store: ObjectStore) -> None:
    stored = object_store.put("held", b"held", legal_hold=True)
    info = object_store.stat("held")
    assert (info.legal_hold, info.lock_mode, info.retain_until) == (True, None, None)
    with pytest.raises(S3Error) as refused:
        object_store.client.remove_object(object_store.bucket, "held", stored.version_id)
    assert refused.value.code == "AccessDenied"


def test_the_server_refuses_to_delete_a_retained_version(object_store: ObjectStore) -> None:
    stored = object_store.put("locked", PDF, retention=compliance())
    client, bucket = object_store.client, object_store.bucket

    with pytest.raises(S3Error) as refused:
        client.remove_object(bucket, "locked", version_id=stored.version_id)
    assert refused.value.code == "AccessDenied"
    errors = list(
        client.remove_objects(
            bucket, [DeleteObject("locked", stored.version_id)], bypass_governance_mode=True
        )
    )
    assert [e.code for e in errors] == ["AccessDenied"]
    assert object_store.get("locked", stored.version_id) == PDF


def test_the_server_refuses_to_shorten_compliance_retention(object_store: ObjectStore) -> None:
    retention = compliance(days=2)
    stored = object_store.put("locked", PDF, retention=retention)
    client, bucket = object_store.client, object_store.bucket
    shorter = MinioRetention("COMPLIANCE", in_days(1))

    with pytest.raises(S3Error) as refused:
        client.set_object_retention(bucket, "locked", shorter, version_id=stored.version_id)
    assert refused.value.code == "AccessDenied"
    # Not even with the governance bypass (which GOVERNANCE would honour).
    body = (
        '<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>COMPLIANCE</Mode>'
        f"<RetainUntilDate>{in_days(1).strftime('%Y-%m-%dT%H:%M:%S.000Z')}</RetainUntilDate>"
        "</Retention>"
    ).encode()
    with pytest.raises(S3Error) as bypassed:
        client._execute(
            "PUT",
            bucket,
            "locked",
            body=body,
            headers={
                "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                "x-amz-bypass-governance-retention": "true",
            },
            query_params={"retention": "", "versionId": stored.version_id},
        )
    assert bypassed.value.code == "AccessDenied"
    # Nor by turning it into GOVERNANCE.
    with pytest.raises(S3Error):
        client.set_object_retention(
            bucket,
            "locked",
            MinioRetention("GOVERNANCE", retention.until),
            version_id=stored.version_id,
        )
    info = object_store.stat("locked", stored.version_id)
    assert (info.lock_mode, info.retain_until) == (LockMode.COMPLIANCE, retention.until)


def test_overwriting_makes_a_new_version_and_the_old_one_stays(
    object_store: ObjectStore,
) -> None:
    first = object_store.put("doc.pdf", b"version 1", retention=compliance())
    second = object_store.put("doc.pdf", b"version 2", retention=compliance())
    # A raw overwrite with nothing (the way to "remove" by overwriting) is one more version.
    empty = object_store.client.put_object(object_store.bucket, "doc.pdf", io.BytesIO(b""), 0)

    assert object_store.versions("doc.pdf") == [
        empty.version_id,
        second.version_id,
        first.version_id,
    ]
    assert object_store.get("doc.pdf") == b""
    assert object_store.get("doc.pdf", first.version_id) == b"version 1"
    assert object_store.get("doc.pdf", second.version_id) == b"version 2"
    assert object_store.stat("doc.pdf", first.version_id).lock_mode is LockMode.COMPLIANCE


def test_a_delete_marker_hides_the_key_but_no_version(object_store: ObjectStore) -> None:
    stored = object_store.put("doc.pdf", PDF, retention=compliance())
    object_store.client.remove_object(object_store.bucket, "doc.pdf")  # allowed: a marker

    with pytest.raises(ObjectMissing):
        object_store.get("doc.pdf")
    assert object_store.versions("doc.pdf") == [stored.version_id]
    assert object_store.get("doc.pdf", stored.version_id) == PDF
    assert list(object_store.keys()) == []


def test_extend_retention_lengthens(object_store: ObjectStore) -> None:
    stored = object_store.put("doc.pdf", PDF, retention=compliance(days=1, hold=True))
    later = in_days(30)

    got = object_store.extend_retention("doc.pdf", stored.version_id, later)

    assert got == Retention(LockMode.COMPLIANCE, later, legal_hold=True)
    info = object_store.stat("doc.pdf", stored.version_id)
    assert (info.lock_mode, info.retain_until, info.legal_hold) == (
        LockMode.COMPLIANCE,
        later,
        True,
    )


def test_extend_retention_refuses_to_shorten_before_asking_the_server(
    object_store: ObjectStore,
) -> None:
    retention = compliance(days=10)
    stored = object_store.put("doc.pdf", PDF, retention=retention)
    trace = io.StringIO()
    object_store.client.trace_on(trace)
    try:
        with pytest.raises(RetentionNotExtended):
            object_store.extend_retention("doc.pdf", stored.version_id, in_days(5))
        # The same date again changes nothing and asks nothing to change.
        object_store.extend_retention("doc.pdf", stored.version_id, retention.until)
    finally:
        object_store.client.trace_off()  # type: ignore[no-untyped-call]
    requests = re.findall(r"^(GET|HEAD|PUT|POST|DELETE) (\S+)", trace.getvalue(), re.MULTILINE)
    assert requests, trace.getvalue()
    assert all(method == "HEAD" for method, _ in requests), requests
    assert object_store.stat("doc.pdf").retain_until == retention.until


def test_extend_retention_locks_a_version_that_had_none(object_store: ObjectStore) -> None:
    stored = object_store.put("plain", b"plain")
    until = in_days(3)
    object_store.extend_retention("plain", stored.version_id, until)
    info = object_store.stat("plain")
    assert (info.lock_mode, info.retain_until) == (LockMode.COMPLIANCE, until)


def test_the_server_checks_the_md5_the_store_sends(object_store: ObjectStore) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(S3Error) as refused:
        object_store.client._put_object(object_store.bucket, "k", b"data", {"Content-MD5": wrong})
    assert refused.value.code == "BadDigest"


def test_get_checks_the_recorded_sha256(object_store: ObjectStore) -> None:
    object_store.client.put_object(
        object_store.bucket, "tampered", io.BytesIO(b"abc"), 3, metadata={"sha256": "0" * 64}
    )
    with pytest.raises(ChecksumMismatch):
        object_store.get("tampered")


def test_missing_objects_and_versions(object_store: ObjectStore) -> None:
    stored = object_store.put("there", b"x")
    with pytest.raises(ObjectMissing):
        object_store.get("absent")
    with pytest.raises(ObjectMissing):
        object_store.stat("absent")
    with pytest.raises(ObjectMissing):
        object_store.versions("absent")
    with pytest.raises(ObjectMissing):
        object_store.stat("there", stored.version_id[:-4] + "AAAA")


def test_keys_lists_the_latest_keys_under_a_prefix(object_store: ObjectStore) -> None:
    for key in ("a/1", "a/2", "a/2", "b/1"):
        object_store.put(key, key.encode())
    assert list(object_store.keys("a/")) == ["a/1", "a/2"]
    assert list(object_store.keys()) == ["a/1", "a/2", "b/1"]


def test_metadata_must_be_ascii_tokens(object_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        object_store.put("k", b"x", metadata={"title": "Học bạ"})
    with pytest.raises(ValueError, match="token"):
        object_store.put("k", b"x", metadata={"Title": "x"})
    with pytest.raises(ValueError, match="sha256"):
        object_store.put("k", b"x", metadata={"sha256": "x"})


def test_ensure_bucket_is_idempotent_and_refuses_an_unlocked_bucket(
    object_store: ObjectStore, rgw: RgwServer, run_id: str
) -> None:
    object_store.ensure_bucket()
    plain = bucket_name(run_id, "plain")
    object_store.client.make_bucket(plain)
    unlocked = ObjectStore(rgw.endpoint, rgw.access_key, rgw.secret_key, plain)
    with pytest.raises(StoreError, match="without object lock"):
        unlocked.ensure_bucket()


def test_presigned_get_works_over_plain_http_and_expires(object_store: ObjectStore) -> None:
    first = object_store.put("export.pdf", b"first")
    object_store.put("export.pdf", b"second")

    url = object_store.presigned_get("export.pdf", first.version_id, timedelta(seconds=2))
    assert url.startswith("http://")
    answer = httpx.get(url)
    assert (answer.status_code, answer.content) == (200, b"first")
    unsigned = httpx.get(url.split("?")[0])
    assert unsigned.status_code == 403

    time.sleep(3)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert b"AccessDenied" in expired.content


def test_the_replica_is_a_separate_locked_bucket(
    object_store: ObjectStore, replica_store: ObjectStore
) -> None:
    assert replica_store.bucket != object_store.bucket
    primary = object_store.put("pkg/doc.pdf", PDF, retention=compliance())
    copy = replica_store.put("pkg/doc.pdf", object_store.get("pkg/doc.pdf"))
    assert copy.sha256 == primary.sha256
    assert list(replica_store.keys()) == ["pkg/doc.pdf"]


def test_a_store_that_is_down_is_unavailable(rgw: RgwServer) -> None:
    down = ObjectStore(f"http://127.0.0.1:{free_port()}", rgw.access_key, rgw.secret_key, "b-x")
    began = time.monotonic()
    for call in (
        down.ensure_bucket,
        lambda: down.put("k", b"x"),
        lambda: down.get("k"),
        lambda: down.stat("k"),
        lambda: down.versions("k"),
        lambda: list(down.keys()),
        lambda: down.extend_retention("k", "v", in_days(1)),
    ):
        with pytest.raises(StoreUnavailable):
            call()
    assert time.monotonic() - began < 10
