"""Sign-in, tokens, second factor, step-up and school-software clients: one function per
command.

Handlers raise ``common.errors.Problem`` with a stable code and a Vietnamese title; the routes
only parse and shape the answer. Every sign-in attempt (success or failure) writes an audit row.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pyotp
from sqlalchemy.exc import IntegrityError

from common.auth import Principal
from common.errors import Problem
from common.events.identity import OrgLevel, Role
from identity.domain import (
    PLATFORM_ROLES,
    PasswordContext,
    Status,
    check_password,
    compact_grants,
    effective_grants,
    holds_a_role_within,
    requires_totp,
)
from identity.keys import KeyRing, SigningKey, StoredKey
from identity.lockout import Lockout, retry_after
from identity.models import ClientRow, CredentialRow, UserRow
from identity.passwords import PasswordHasher
from identity.revocation import RevocationList
from identity.secretbox import SecretBox, identity_secret_box
from identity.settings import IdentitySettings
from identity.stores import DbKeyStore, DbRefreshStore
from identity.tokens import (
    RefreshFamily,
    Refused,
    ReuseDetected,
    Rotated,
    StaleFamilyError,
    hash_refresh_token,
    mint_access_token,
    mint_step_up_token,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from identity.uow import IdentityUnitOfWork

logger = logging.getLogger(__name__)

RECOVERY_CODES: Final = 10
_RECOVERY_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
_RECOVERY_HALF: Final = 5
TOTP_STEP_SECONDS: Final = 30
TOTP_DRIFT_STEPS: Final = 1
# Client scopes are roles a client may hold at its school. Roles that need a second factor are
# left out: software cannot present one, so it must not get what a person needs TOTP for.
CLIENT_SCOPES: Final = frozenset({Role.TEACHER, Role.STAFF})
# A platform client's scopes: the platform roles, held at the province (domain.roles).
PLATFORM_CLIENT_SCOPES: Final = PLATFORM_ROLES
# Who made what the platform made (bootstrap, an operator command): grants and clients need
# a maker, and those have no person behind them.
PLATFORM_ID: Final = uuid.UUID("00000000-0000-0000-0000-000000000001")
# Purposes of the short-lived, single-use sign-in step tokens kept (hashed) in Redis.
TOTP_ENROLMENT: Final = "totp-enrolment"
PASSWORD_CHANGE: Final = "password-change"  # noqa: S105 — a key prefix, not a password
PASSWORD_CHANGE_TOKEN_SECONDS: Final = 10 * 60


def utcnow() -> datetime:
    return datetime.now(UTC)


# Problems ---------------------------------------------------------------------------------------


def _invalid_credentials() -> Problem:
    # One answer for an unknown user name and a wrong password: nothing tells them apart.
    return Problem(
        401,
        "invalid-credentials",
        "Tên đăng nhập hoặc mật khẩu không đúng",
        "User name or password is wrong",
    )


def _locked(scope: str, seconds: int) -> Problem:
    if scope == "account":
        code, title = "sign-in-locked", "Tạm khóa đăng nhập do nhập sai nhiều lần"
        detail = "Too many failed sign-ins for this user name; try again later"
    else:
        code, title = "too-many-sign-in-failures", "Quá nhiều lần đăng nhập sai từ địa chỉ này"
        detail = "Too many failed sign-ins from this address; try again later"
    return Problem(
        429,
        code,
        title,
        detail,
        headers={"Retry-After": retry_after(seconds)},
        extensions={"retry_after": seconds},
    )


def _account_disabled() -> Problem:
    return Problem(403, "account-disabled", "Tài khoản đã bị khóa", "This account is disabled")


def _totp_invalid() -> Problem:
    return Problem(
        401,
        "totp-invalid",
        "Mã xác thực hai lớp không đúng",
        "The TOTP or recovery code is wrong, expired or already used",
    )


def _totp_already_enrolled() -> Problem:
    return Problem(
        409,
        "totp-already-enrolled",
        "Tài khoản đã đăng ký xác thực hai lớp",
        "Ask an admin to reset the second factor before enrolling again",
    )


def _needs_person(code: str, what: str) -> Problem:
    # A school-software client has no second factor of its own, and must not use a person's.
    return Problem(
        403,
        code,
        "Phần mềm không thể xác thực hai lớp thay người dùng",
        f"{what} needs a person's own access token; software cannot present a second factor",
    )


def _refresh_refused(detail: str, code: str = "invalid-refresh-token") -> Problem:
    return Problem(401, code, "Phiên đăng nhập không còn hiệu lực", detail)


def oauth_problem(status: int, error: str, title: str, detail: str) -> Problem:
    """An RFC 6749 §5.2 error, also a problem: ``error`` as the standard member, our ``code``."""
    headers = {"WWW-Authenticate": 'Basic realm="hsdt"'} if error == "invalid_client" else None
    return Problem(
        status,
        error.replace("_", "-"),
        title,
        detail,
        extensions={"error": error, "error_description": detail},
        headers=headers,
    )


# Services built once at start-up ----------------------------------------------------------------


class KeyKeeper:
    """The key ring, loaded from the database, created on first start, rotated and pruned.

    Every replica reloads it every ``reload_seconds`` (decrypting only keys it has not seen), so
    a rotation made by one replica is served and used by all; creation and rotation run under a
    database advisory lock, so two replicas starting at once make one key, not two.
    """

    def __init__(
        self,
        uow_factory: Callable[[], IdentityUnitOfWork],
        passphrase: bytes,
        *,
        reload_seconds: float,
    ) -> None:
        self._uow_factory = uow_factory
        self._passphrase = passphrase
        self._reload_seconds = reload_seconds
        self._ring: KeyRing | None = None
        self._known: dict[str, SigningKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def ring(self, now: datetime) -> KeyRing:
        ring = self._ring
        fresh = time.monotonic() - self._loaded_at < self._reload_seconds
        # Rotation is due a day ahead, so checking it once per reload interval is in time.
        if ring is not None and fresh:
            return ring
        async with self._lock:
            if self._ring is ring or self._ring is None:
                try:
                    await self.load(now)
                except Exception:
                    if self._ring is None:
                        raise
                    # The database is away: keep signing and serving the keys we hold, and
                    # try again after another interval rather than on every request.
                    logger.warning("could not reload the signing keys; keeping the loaded ones")
                    self._loaded_at = time.monotonic()
        assert self._ring is not None
        return self._ring

    async def load(self, now: datetime) -> KeyRing:
        async with self._uow_factory() as uow:
            store = DbKeyStore(uow.auth)
            stored = await store.load_all()
            ring = self._decrypt(stored)
            if ring.needs_rotation(now) or ring.prune(now):
                # Decide again under the lock: another replica may have rotated meanwhile.
                await uow.auth.lock_key_ring()
                ring = self._decrypt(await store.load_all())
                if ring.needs_rotation(now):
                    ring.rotate(now)
                    logger.info("signing key rotated")
                for gone in ring.prune(now):
                    await store.delete(gone.kid)
                stored_kids = {s.kid: s for s in await store.load_all()}
                for key in ring.keys:
                    old = stored_kids.get(key.kid)
                    if old is None or old.retired_at != key.retired_at:
                        await store.save(key.to_stored(self._passphrase))
                await uow.commit()
        self._ring = ring
        self._known = {k.kid: k for k in ring.keys}
        self._loaded_at = time.monotonic()
        return ring

    def _decrypt(self, stored: list[StoredKey]) -> KeyRing:
        keys = []
        for s in stored:
            known = self._known.get(s.kid)
            if known is not None:
                keys.append(
                    replace(
                        known,
                        created_at=s.created_at,
                        not_after=s.not_after,
                        retired_at=s.retired_at,
                    )
                )
            else:
                keys.append(SigningKey.from_stored(s, self._passphrase))
        return KeyRing(keys)


@dataclass
class AuthServices:
    """What sign-in and token handlers need besides the unit of work."""

    settings: IdentitySettings
    redis: Redis
    keys: KeyKeeper
    hasher: PasswordHasher
    lockout: Lockout
    revocations: RevocationList
    box: SecretBox
    clock: Callable[[], datetime] = field(default=utcnow)

    def step_key(self, purpose: str, token: str) -> str:
        """Where a sign-in step token lives: only its SHA-256 is stored, never the token."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        return f"{self.settings.redis_prefix}identity:{purpose}:{digest}"

    def enrolment_key(self, token: str) -> str:
        return self.step_key(TOTP_ENROLMENT, token)

    def password_change_key(self, token: str) -> str:
        return self.step_key(PASSWORD_CHANGE, token)


def build_auth_services(
    settings: IdentitySettings,
    redis: Redis,
    uow_factory: Callable[[], IdentityUnitOfWork],
) -> AuthServices:
    window = settings.lockout_window_minutes * 60
    return AuthServices(
        settings=settings,
        redis=redis,
        keys=KeyKeeper(
            uow_factory, settings.passphrase_bytes(), reload_seconds=settings.key_reload_seconds
        ),
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.argon2_concurrency,
        ),
        lockout=Lockout(
            redis,
            settings.redis_prefix,
            window_seconds=window,
            lock_seconds=settings.lockout_minutes * 60,
            account_threshold=settings.lockout_account_failures,
            address_threshold=settings.lockout_address_failures,
        ),
        revocations=RevocationList(redis, settings.redis_prefix, settings.access_token_lifetime),
        box=identity_secret_box(settings.data_key_bytes()),
    )


# Results ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


@dataclass(frozen=True, slots=True)
class ClientToken:
    access_token: str
    expires_in: int
    scope: str
    acting_for: str | None


@dataclass(frozen=True, slots=True)
class StepUpToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    provisioning_uri: str
    secret: str
    recovery_codes: list[str]


# Sign-in ------------------------------------------------------------------------------------------


async def sign_in(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    source_address: str,
) -> TokenPair:
    """Password, then the second factor when the account has TOTP on (a role needs it, or the
    user chose it); a token pair or a problem.

    Order matters: the lockout is checked before any hash is computed, and nothing says whether
    the account exists until the password has been proved.
    """
    # The forms administration stores: NFC everywhere (a Vietnamese password typed on another
    # keyboard may arrive decomposed), user names trimmed and in lower case.
    username = unicodedata.normalize("NFC", username).strip().lower()
    password = unicodedata.normalize("NFC", password)
    locked = await auth.lockout.check(username, source_address)
    if locked is not None:
        async with uow:
            uow.auth.audit(
                action="sign-in",
                outcome="locked",
                actor_kind="user",
                actor_id=None,
                source_address=source_address,
                details={"username": username[:64], "scope": locked.scope},
            )
            await uow.commit()
        raise _locked(locked.scope, locked.retry_after_seconds)
    # The hash is checked with no connection held: a burst of sign-ins queues for argon2
    # without taking the pool's connections (or row locks) with it.
    async with uow:
        user = await uow.auth.user_by_username(username)
        stored_hash = None if user is None else await uow.auth.password_hash(user.id)
    if not await auth.hasher.verify(stored_hash, password):
        async with uow:
            await _fail(uow, auth, username, source_address, user=user, reason="wrong-password")
        raise _invalid_credentials()
    assert user is not None
    async with uow:
        user = await uow.auth.user(user.id)
        credential = None if user is None else await uow.auth.credential_for_update(user.id)
        if user is None or credential is None or credential.password_hash != stored_hash:
            # Deleted or given a new password while we were hashing: as if it were wrong.
            await _fail(uow, auth, username, source_address, user=user, reason="wrong-password")
            raise _invalid_credentials()
        if user.status != Status.ACTIVE.value:
            # Only someone who knows the password learns the account is disabled.
            await _fail(
                uow, auth, username, source_address, user=user, reason="disabled", count=False
            )
            raise _account_disabled()
        if credential.must_change_password:
            # First step, before any second factor: the password proved is a temporary one.
            await _refuse_for_password_change(uow, auth, user, username, source_address)
        now = auth.clock()
        grants, roles = await _grants(uow, user, now)
        if any(requires_totp(r) for r in roles) and not _totp_on(credential):
            await _refuse_for_enrolment(uow, auth, user, source_address)
        # Asked of every account with TOTP on: a role needs it, or the user enrolled by choice.
        if _totp_on(credential):
            if not totp_code:
                uow.auth.audit(
                    action="sign-in",
                    outcome="refused",
                    actor_kind="user",
                    actor_id=str(user.id),
                    source_address=source_address,
                    details={"reason": "totp-required"},
                )
                await uow.commit()
                raise Problem(
                    401,
                    "totp-required",
                    "Cần mã xác thực hai lớp",
                    "This account has TOTP on: send a TOTP code (or a recovery code)",
                )
            method = _prove_second_factor(
                uow, auth, user, credential, totp_code, now, source_address
            )
            if method is None:
                await _fail(uow, auth, username, source_address, user=user, reason="wrong-totp")
                raise _totp_invalid()
        if auth.hasher.needs_rehash(credential.password_hash):
            credential.password_hash = await auth.hasher.hash(password)
        pair = await _start_session(uow, auth, user, grants, now)
        uow.auth.audit(
            action="sign-in",
            outcome="success",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
            unit_id=user.home_unit_id,
        )
        await uow.commit()
    await auth.lockout.record_success(username)
    return pair


async def _refuse_for_password_change(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user: UserRow,
    username: str,
    source_address: str,
) -> NoReturn:
    change_token = await _start_step(auth, PASSWORD_CHANGE, user.id, PASSWORD_CHANGE_TOKEN_SECONDS)
    uow.auth.audit(
        action="sign-in",
        outcome="refused",
        actor_kind="user",
        actor_id=str(user.id),
        source_address=source_address,
        unit_id=user.home_unit_id,
        details={"reason": "password-change-required"},
    )
    await uow.commit()
    await auth.lockout.record_success(username)  # the password was right
    raise _password_change_required(change_token)


def _password_change_required(token: str) -> Problem:
    return Problem(
        401,
        "password-change-required",
        "Cần đổi mật khẩu trước khi đăng nhập",
        "The password was reset by an admin; choose a new one at /auth/password/change "
        "with the password_change_token",
        extensions={
            "password_change_token": token,
            "expires_in": PASSWORD_CHANGE_TOKEN_SECONDS,
        },
    )


async def _refuse_for_enrolment(
    uow: IdentityUnitOfWork, auth: AuthServices, user: UserRow, source_address: str
) -> NoReturn:
    """The account needs TOTP and has none yet: hand out an enrolment token instead of tokens."""
    enrolment = await _start_enrolment(auth, user.id)
    uow.auth.audit(
        action="sign-in",
        outcome="refused",
        actor_kind="user",
        actor_id=str(user.id),
        source_address=source_address,
        details={"reason": "totp-enrolment-required"},
    )
    await uow.commit()
    raise Problem(
        401,
        "totp-enrolment-required",
        "Cần đăng ký xác thực hai lớp",
        "A role of this account needs TOTP; enrol with the enrolment_token",
        extensions={
            "enrolment_token": enrolment,
            "expires_in": auth.settings.totp_enrolment_minutes * 60,
        },
    )


async def _fail(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    username: str,
    source_address: str,
    *,
    user: UserRow | None,
    reason: str,
    count: bool = True,
    action: str = "sign-in",
    details: dict[str, object] | None = None,
) -> None:
    """A failed attempt at a sign-in's proof: counted for the lockout (unless ``count`` is
    off), audited and committed. Step-up failures go through here too, as ``action``."""
    if count:
        await auth.lockout.record_failure(username, source_address)
    uow.auth.audit(
        action=action,
        outcome="failure",
        actor_kind="user",
        actor_id=None if user is None else str(user.id),
        source_address=source_address,
        unit_id=None if user is None else user.home_unit_id,
        # The name as typed, for the admin reading the audit; never the password.
        details={"reason": reason, "username": username[:64], **(details or {})},
    )
    await uow.commit()


async def _grants(
    uow: IdentityUnitOfWork, user: UserRow, now: datetime
) -> tuple[tuple[str, ...], set[Role]]:
    direct, memberships, via_groups = await uow.auth.grants_of_user(user.id)
    effective = effective_grants(
        user.id, direct, memberships, via_groups, now, user_status=Status(user.status)
    )
    tree = await uow.auth.org_tree()
    return compact_grants(effective, tree), {g.role for g in effective}


async def _start_session(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user: UserRow,
    grants: tuple[str, ...],
    now: datetime,
) -> TokenPair:
    settings = auth.settings
    family, refresh = RefreshFamily.issue_first(
        str(user.id),
        now,
        idle_lifetime=settings.refresh_idle_lifetime,
        family_lifetime=settings.refresh_family_lifetime,
    )
    await DbRefreshStore(uow.auth).add(family)
    access = await _mint_user_token(auth, str(user.id), grants, now, family.family_id)
    return TokenPair(access, int(settings.access_token_lifetime.total_seconds()), refresh)


async def _mint_user_token(
    auth: AuthServices, subject: str, grants: tuple[str, ...], now: datetime, family_id: str
) -> str:
    ring = await auth.keys.ring(now)
    token, _ = mint_access_token(
        ring,
        subject=subject,
        kind="user",
        grants=grants,
        issuer=auth.settings.token_issuer,
        audience=auth.settings.token_audience,
        now=now,
        lifetime=auth.settings.access_token_lifetime,
        family_id=family_id,
    )
    return token


# Second factor ------------------------------------------------------------------------------------


def _totp(auth: AuthServices, user: UserRow, credential: CredentialRow) -> pyotp.TOTP:
    assert credential.totp_secret is not None
    secret = auth.box.decrypt(credential.totp_secret, owner=str(user.id)).decode()
    return pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)


def _accept_totp(totp: pyotp.TOTP, code: str, last_step: int | None, now: datetime) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``last_step``."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == totp.digits):
        return None
    current = totp.timecode(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue  # already used, or older than a code already used: a replay
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normalise_recovery(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def _totp_on(credential: CredentialRow) -> bool:
    return credential.totp_confirmed_at is not None and credential.totp_secret is not None


def _check_second_factor(
    auth: AuthServices,
    user: UserRow,
    credential: CredentialRow,
    code: str,
    now: datetime,
) -> str | None:
    """``"totp"`` or ``"recovery"`` when accepted (and recorded as used), else ``None``."""
    step = _accept_totp(_totp(auth, user, credential), code, credential.totp_last_step, now)
    if step is not None:
        credential.totp_last_step = step
        return "totp"
    wanted = auth.box.keyed_hash(_normalise_recovery(code))
    remaining = [h for h in credential.recovery_code_hashes if not hmac.compare_digest(h, wanted)]
    if len(remaining) < len(credential.recovery_code_hashes):
        credential.recovery_code_hashes = remaining  # a recovery code works once
        return "recovery"
    return None


def _prove_second_factor(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user: UserRow,
    credential: CredentialRow,
    code: str,
    now: datetime,
    source_address: str,
) -> str | None:
    """Sign-in's check of a TOTP or recovery code, shared by the step-up: the credential row is
    locked by the caller, the accepted step or code is spent in it (committed by the caller),
    and a recovery code's use is audited. ``None`` when refused: the caller counts and audits
    the failure."""
    method = _check_second_factor(auth, user, credential, code, now)
    if method == "recovery":
        uow.auth.audit(
            action="recovery-code-used",
            outcome="success",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
            details={"remaining": len(credential.recovery_code_hashes)},
        )
    return method


async def _start_step(auth: AuthServices, purpose: str, user_id: uuid.UUID, ttl: int) -> str:
    """A random single-use step token for ``user_id``, stored hashed in Redis for ``ttl`` s."""
    token = secrets.token_urlsafe(32)
    await auth.redis.set(auth.step_key(purpose, token), str(user_id), ex=ttl)
    return token


async def _step_user(
    auth: AuthServices, purpose: str, token: str, *, spend: bool = False
) -> uuid.UUID | None:
    """The user a step token was issued to; ``spend`` deletes it in the same round trip."""
    key = auth.step_key(purpose, token)
    raw: Any = await (auth.redis.getdel(key) if spend else auth.redis.get(key))
    if raw is None:
        return None
    return uuid.UUID(raw.decode() if isinstance(raw, bytes) else str(raw))


async def _start_enrolment(auth: AuthServices, user_id: uuid.UUID) -> str:
    ttl = auth.settings.totp_enrolment_minutes * 60
    return await _start_step(auth, TOTP_ENROLMENT, user_id, ttl)


async def _enrolling_user(auth: AuthServices, enrolment_token: str) -> uuid.UUID:
    user_id = await _step_user(auth, TOTP_ENROLMENT, enrolment_token)
    if user_id is None:
        raise Problem(
            401,
            "invalid-enrolment-token",
            "Phiên đăng ký xác thực hai lớp không còn hiệu lực",
            "The enrolment token is unknown or expired; sign in again",
        )
    return user_id


def _new_recovery_code() -> str:
    chars = [secrets.choice(_RECOVERY_ALPHABET) for _ in range(2 * _RECOVERY_HALF)]
    return "".join(chars[:_RECOVERY_HALF]) + "-" + "".join(chars[_RECOVERY_HALF:])


async def enrol_totp(
    uow: IdentityUnitOfWork, auth: AuthServices, *, enrolment_token: str, source_address: str
) -> TotpEnrolment:
    """A new TOTP secret and recovery codes (shown once), pending confirmation; for an account
    that must enrol before it may sign in (the ``enrolment_token`` from sign-in)."""
    user_id = await _enrolling_user(auth, enrolment_token)
    gone = Problem(
        401,
        "invalid-enrolment-token",
        "Phiên đăng ký xác thực hai lớp không còn hiệu lực",
        "The account can no longer enrol",
    )
    return await _enrol(uow, auth, user_id, source_address, gone=gone, voluntary=False)


async def enrol_own_totp(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    principal: Principal,
    current_password: str,
    source_address: str,
) -> TotpEnrolment:
    """Voluntary enrolment by a signed-in person whose roles do not need TOTP (a teacher who
    signs with a server-side key). The current password is proved first, under the sign-in
    lockout: an access token alone must not be able to put someone else's authenticator on the
    account (it would then pass every step-up and lock its owner out of sign-in)."""
    user_id = _person_of(principal, _needs_person("totp-needs-person", "TOTP enrolment"))
    async with uow:
        user = await uow.auth.user(user_id)
        stored_hash = None if user is None else await uow.auth.password_hash(user_id)
    if user is None or stored_hash is None or user.status != Status.ACTIVE.value:
        raise _account_disabled()
    await _prove_current_password(
        uow, auth, user, stored_hash, current_password, source_address, action="totp-enrolment"
    )
    return await _enrol(
        uow, auth, user_id, source_address, gone=_account_disabled(), voluntary=True
    )


async def _enrol(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user_id: uuid.UUID,
    source_address: str,
    *,
    gone: Problem,
    voluntary: bool,
) -> TotpEnrolment:
    """Store a new secret and recovery codes for ``user_id``; ``gone`` when it cannot enrol."""
    async with uow:
        user = await uow.auth.user(user_id)
        credential = await uow.auth.credential_for_update(user_id)
        if user is None or credential is None or user.status != Status.ACTIVE.value:
            raise gone
        if credential.totp_confirmed_at is not None:
            raise _totp_already_enrolled()
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        credential.totp_secret = auth.box.encrypt(secret.encode(), owner=str(user.id))
        credential.totp_last_step = None
        credential.recovery_code_hashes = [
            auth.box.keyed_hash(_normalise_recovery(c)) for c in codes
        ]
        uow.auth.audit(
            action="totp-enrolment-started",
            outcome="success",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
            unit_id=user.home_unit_id,
            details={"voluntary": voluntary},
        )
        await uow.commit()
    uri = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=user.username, issuer_name=auth.settings.totp_issuer
    )
    return TotpEnrolment(provisioning_uri=uri, secret=secret, recovery_codes=codes)


async def confirm_totp(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    enrolment_token: str,
    code: str,
    source_address: str,
) -> TokenPair:
    """Prove the authenticator works; the second factor is then on and the sign-in completes."""
    user_id = await _enrolling_user(auth, enrolment_token)
    async with uow:
        user, now = await _confirm(uow, auth, user_id, code, source_address, enrol_at=_ENROL)
        grants, _ = await _grants(uow, user, now)
        pair = await _start_session(uow, auth, user, grants, now)
        await uow.commit()
    await auth.redis.delete(auth.enrolment_key(enrolment_token))
    return pair


async def confirm_own_totp(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    principal: Principal,
    code: str,
    source_address: str,
) -> None:
    """Prove the authenticator of a voluntary enrolment works; from now on sign-in asks for a
    code and step-up tokens can be had. The caller's sign-in goes on as it is."""
    user_id = _person_of(principal, _needs_person("totp-needs-person", "TOTP enrolment"))
    async with uow:
        await _confirm(uow, auth, user_id, code, source_address, enrol_at=_ENROL_OWN)
        await uow.commit()


_ENROL: Final = "/auth/totp/enrol"
_ENROL_OWN: Final = "/auth/me/totp"


async def _confirm(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user_id: uuid.UUID,
    code: str,
    source_address: str,
    *,
    enrol_at: str,
) -> tuple[UserRow, datetime]:
    """In the caller's open unit of work: check the first code of a pending enrolment (under the
    lockout, a wrong one counted) and switch TOTP on; the caller commits."""
    user = await uow.auth.user(user_id)
    credential = await uow.auth.credential_for_update(user_id)
    if (
        user is None
        or credential is None
        or user.status != Status.ACTIVE.value
        or credential.totp_secret is None
    ):
        raise Problem(
            409,
            "totp-not-enrolled",
            "Chưa bắt đầu đăng ký xác thực hai lớp",
            f"Call {enrol_at} first",
        )
    if credential.totp_confirmed_at is not None:
        raise _totp_already_enrolled()
    locked = await auth.lockout.check(user.username, source_address)
    if locked is not None:
        raise _locked(locked.scope, locked.retry_after_seconds)
    now = auth.clock()
    step = _accept_totp(_totp(auth, user, credential), code, credential.totp_last_step, now)
    if step is None:
        await auth.lockout.record_failure(user.username, source_address)
        uow.auth.audit(
            action="totp-confirm",
            outcome="failure",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
        )
        await uow.commit()
        raise Problem(
            401, "totp-invalid", "Mã xác thực hai lớp không đúng", "The TOTP code is wrong"
        )
    credential.totp_last_step = step
    credential.totp_confirmed_at = now
    uow.auth.audit(
        action="totp-enrolled",
        outcome="success",
        actor_kind="user",
        actor_id=str(user.id),
        source_address=source_address,
        unit_id=user.home_unit_id,
        details={"voluntary": enrol_at == _ENROL_OWN},
    )
    return user, now


def _person_of(principal: Principal, refused: Problem) -> uuid.UUID:
    """The user id of a person's own access token; ``refused`` for school software."""
    if principal.kind != "user" or principal.acting_for is not None:
        raise refused
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise refused from None


# Step-up ------------------------------------------------------------------------------------------


async def step_up(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    principal: Principal,
    code: str,
    purpose: str,
    source_address: str,
) -> StepUpToken:
    """A signed-in person proves their second factor again, for one ``purpose``: a short-lived,
    single-use step-up token (``common.step_up``). The code is checked as at sign-in: under the
    same lockout, a TOTP step or recovery code spent, a wrong code counted and audited."""
    user_id = _person_of(principal, _needs_person("step-up-needs-person", "A step-up"))
    async with uow:
        user = await uow.auth.user(user_id)
        if user is None or user.status != Status.ACTIVE.value:
            raise _account_disabled()
        credential = await uow.auth.credential_for_update(user_id)
        if credential is None or not _totp_on(credential):
            raise Problem(
                409,
                "totp-not-enrolled",
                "Tài khoản chưa đăng ký xác thực hai lớp",
                f"Turn TOTP on first ({_ENROL_OWN}, then {_ENROL_OWN}/confirm)",
            )
        locked = await auth.lockout.check(user.username, source_address)
        if locked is not None:
            uow.auth.audit(
                action="step-up",
                outcome="locked",
                actor_kind="user",
                actor_id=str(user.id),
                source_address=source_address,
                unit_id=user.home_unit_id,
                details={"purpose": purpose, "scope": locked.scope},
            )
            await uow.commit()
            raise _locked(locked.scope, locked.retry_after_seconds)
        now = auth.clock()
        method = _prove_second_factor(uow, auth, user, credential, code, now, source_address)
        if method is None:
            await _fail(
                uow,
                auth,
                user.username,
                source_address,
                user=user,
                reason="wrong-totp",
                action="step-up",
                details={"purpose": purpose},
            )
            raise _totp_invalid()
        lifetime = auth.settings.step_up_lifetime
        token, claims = mint_step_up_token(
            await auth.keys.ring(now),
            subject=str(user.id),
            purpose=purpose,
            issuer=auth.settings.token_issuer,
            audience=auth.settings.token_audience,
            now=now,
            lifetime=lifetime,
            family_id=principal.family_id,
        )
        uow.auth.audit(
            action="step-up",
            outcome="success",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
            unit_id=user.home_unit_id,
            details={"purpose": purpose, "method": method, "token_id": claims["jti"]},
        )
        # The spent step (or recovery code) is stored before the token leaves: no replay.
        await uow.commit()
    await auth.lockout.record_success(user.username)
    return StepUpToken(token, int(lifetime.total_seconds()))


# Password change ----------------------------------------------------------------------------------


def _change_token_refused() -> Problem:
    return Problem(
        401,
        "invalid-password-change-token",
        "Phiên đổi mật khẩu không còn hiệu lực",
        "The password change token is unknown, expired or already used; sign in again",
    )


def _check_new_password(user: UserRow, new_password: str) -> None:
    problems = check_password(
        new_password, user_context=PasswordContext(username=user.username, email=user.email or "")
    )
    if problems:
        raise Problem(
            422,
            "password-rejected",
            "Mật khẩu mới không đạt yêu cầu",
            "; ".join(p.message_vi for p in problems),
            extensions={"problems": [{"code": p.code, "message": p.message_vi} for p in problems]},
        )


async def change_password(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    new_password: str,
    source_address: str,
    password_change_token: str | None = None,
    principal: Principal | None = None,
    current_password: str | None = None,
) -> TokenPair | None:
    """Forced (``password_change_token`` from sign-in) or voluntary (``principal`` and
    ``current_password``) change. The forced one completes the sign-in: a token pair, or the
    TOTP step when the account has TOTP on; the voluntary one returns ``None`` and keeps the
    caller's own sign-in while every other one is revoked."""
    new_password = unicodedata.normalize("NFC", new_password)
    if password_change_token is not None:
        user_id = await _step_user(auth, PASSWORD_CHANGE, password_change_token)
        if user_id is None:
            raise _change_token_refused()
    elif principal is not None and principal.kind == "user" and principal.acting_for is None:
        try:
            user_id = uuid.UUID(principal.subject)
        except ValueError:
            raise _invalid_credentials() from None
    else:
        raise Problem(
            401,
            "unauthenticated",
            "Cần đăng nhập",
            "Send the password_change_token, or a user's Bearer token and current_password",
        )
    async with uow:
        user = await uow.auth.user(user_id)
        stored_hash = None if user is None else await uow.auth.password_hash(user_id)
    if user is None or stored_hash is None or user.status != Status.ACTIVE.value:
        raise _change_token_refused() if principal is None else _invalid_credentials()
    if principal is not None:
        await _prove_current_password(
            uow, auth, user, stored_hash, current_password, source_address
        )
    _check_new_password(user, new_password)
    if await auth.hasher.verify(stored_hash, new_password):
        raise Problem(
            422,
            "password-unchanged",
            "Mật khẩu mới phải khác mật khẩu hiện tại",
            "The new password is the current one",
        )
    new_hash = await auth.hasher.hash(new_password)
    if password_change_token is not None and (
        await _step_user(auth, PASSWORD_CHANGE, password_change_token, spend=True) != user_id
    ):
        raise _change_token_refused()  # spent concurrently: the token works once
    now = auth.clock()
    keep = None if principal is None else principal.family_id
    async with uow:
        credential = await uow.auth.credential_for_update(user_id)
        if credential is None or credential.password_hash != stored_hash:
            raise Problem(
                409,
                "password-changed-concurrently",
                "Mật khẩu vừa được thay đổi",
                "The password changed meanwhile; sign in again",
            )
        credential.password_hash = new_hash
        credential.password_changed_at = now
        credential.must_change_password = False
        revoked = await uow.auth.revoke_families_of(str(user_id), keep=keep)
        uow.auth.audit(
            action="password-changed",
            outcome="success",
            actor_kind="user",
            actor_id=str(user_id),
            source_address=source_address,
            unit_id=user.home_unit_id,
            details={"forced": principal is None, "sessions_revoked": len(revoked)},
        )
        await uow.commit()
    for family_id in revoked:
        await auth.revocations.revoke_family(family_id)
    if principal is None:
        # Every token issued before this second goes; none was issued since the reset (sign-in
        # and refresh refuse the account until now), and the pair minted below must survive.
        await auth.revocations.revoke_subject(str(user_id), now - timedelta(seconds=1))
        await auth.lockout.record_success(user.username)
        return await _complete_forced_change(uow, auth, user_id, source_address)
    return None


async def _prove_current_password(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    user: UserRow,
    stored_hash: str,
    current_password: str | None,
    source_address: str,
    *,
    action: str = "password-change",
) -> None:
    """A signed-in user proves the current password (a voluntary password change, a voluntary
    TOTP enrolment), under the sign-in lockout; a failure is audited as ``action``."""
    locked = await auth.lockout.check(user.username, source_address)
    if locked is not None:
        raise _locked(locked.scope, locked.retry_after_seconds)
    current = unicodedata.normalize("NFC", current_password or "")
    if not current or not await auth.hasher.verify(stored_hash, current):
        await auth.lockout.record_failure(user.username, source_address)
        async with uow:
            uow.auth.audit(
                action=action,
                outcome="failure",
                actor_kind="user",
                actor_id=str(user.id),
                source_address=source_address,
                unit_id=user.home_unit_id,
                details={"reason": "wrong-password"},
            )
            await uow.commit()
        raise Problem(
            401,
            "invalid-current-password",
            "Mật khẩu hiện tại không đúng",
            "The current password is wrong",
        )


async def _complete_forced_change(
    uow: IdentityUnitOfWork, auth: AuthServices, user_id: uuid.UUID, source_address: str
) -> TokenPair:
    """After a forced change, the sign-in goes on as ``sign_in`` would after the password."""
    async with uow:
        user = await uow.auth.user(user_id)
        credential = await uow.auth.credential_for_update(user_id)
        assert user is not None
        assert credential is not None
        now = auth.clock()
        grants, roles = await _grants(uow, user, now)
        if any(requires_totp(r) for r in roles) and not _totp_on(credential):
            await _refuse_for_enrolment(uow, auth, user, source_address)
        if _totp_on(credential):
            # Enrolled: the second factor is proved at sign-in, with the new password.
            raise Problem(
                401,
                "totp-required",
                "Cần mã xác thực hai lớp",
                "Password changed; sign in with the new password and a TOTP code",
            )
        pair = await _start_session(uow, auth, user, grants, now)
        uow.auth.audit(
            action="sign-in",
            outcome="success",
            actor_kind="user",
            actor_id=str(user.id),
            source_address=source_address,
            unit_id=user.home_unit_id,
            details={"after": "password-change"},
        )
        await uow.commit()
    return pair


# Refresh and logout -------------------------------------------------------------------------------


async def refresh(
    uow: IdentityUnitOfWork, auth: AuthServices, *, refresh_token: str, source_address: str
) -> TokenPair:
    """Spend a refresh token for a new pair; a spent one presented again revokes its family."""
    now = auth.clock()
    async with uow:
        store = DbRefreshStore(uow.auth)
        family = await store.find_by_token_hash(hash_refresh_token(refresh_token))
        if family is None:
            raise _refresh_refused("Unknown refresh token")
        decision = family.rotate(
            refresh_token, now, idle_lifetime=auth.settings.refresh_idle_lifetime
        )
        if isinstance(decision, Refused):
            raise _refresh_refused(f"Refresh refused: {decision.reason}")
        if isinstance(decision, ReuseDetected):
            await store.revoke(family.family_id)
            uow.auth.audit(
                action="refresh-token-reused",
                outcome="revoked",
                actor_kind="user",
                actor_id=family.subject,
                source_address=source_address,
                details={"family_id": family.family_id},
            )
            await uow.commit()
            await auth.revocations.revoke_family(decision.revoke_family_id)
            raise _refresh_refused(
                "This refresh token was already used; the session is revoked",
                code="refresh-token-reused",
            )
        assert isinstance(decision, Rotated)
        user = await uow.auth.user(uuid.UUID(family.subject))
        if user is None or user.status != Status.ACTIVE.value:
            await store.revoke(family.family_id)
            await uow.commit()
            await auth.revocations.revoke_family(family.family_id)
            raise _refresh_refused("The account is disabled")
        if await uow.auth.must_change_password(user.id):
            # Reset by an admin: no session outlives it; the new password is chosen at sign-in.
            await store.revoke(family.family_id)
            await uow.commit()
            await auth.revocations.revoke_family(family.family_id)
            raise _refresh_refused("The password was reset; sign in again")
        try:
            await store.save(decision.family, expected_generation=family.generation)
        except StaleFamilyError:
            raise _refresh_refused("The refresh token was used concurrently") from None
        grants, _ = await _grants(uow, user, now)
        access = await _mint_user_token(auth, family.subject, grants, now, family.family_id)
        await uow.commit()
    expires_in = int(auth.settings.access_token_lifetime.total_seconds())
    return TokenPair(access, expires_in, decision.token)


async def logout(
    uow: IdentityUnitOfWork, auth: AuthServices, *, principal: Principal, source_address: str
) -> None:
    """Revoke the presented access token and, for a user, its whole sign-in (refresh family)."""
    await auth.revocations.revoke_token(principal.token_id, principal.expires_at)
    async with uow:
        if principal.family_id is not None:
            store = DbRefreshStore(uow.auth)
            family = await store.get(principal.family_id)
            if family is not None and family.subject == principal.subject:
                await store.revoke(family.family_id)
        uow.auth.audit(
            action="logout",
            outcome="success",
            actor_kind=principal.kind,
            actor_id=principal.subject,
            source_address=source_address,
        )
        await uow.commit()
    if principal.family_id is not None:
        await auth.revocations.revoke_family(principal.family_id)


# Clients: school software and platform services ------------------------------------------------


class ClientKind(StrEnum):
    """What a client is bound to: school software to one school, a platform service (the
    archive) to the province."""

    SCHOOL = "school"
    PLATFORM = "platform"


def hash_client_secret(secret: str) -> str:
    # 256 random bits: a plain SHA-256 cannot be brute-forced, and argon2 on every token request
    # would hand anyone who knows a client id a cheap way to burn our CPU.
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def _client_scopes(scopes: list[str], allowed: frozenset[Role]) -> list[str]:
    wanted = sorted(set(scopes))
    bad = [s for s in wanted if s not in allowed]
    if not wanted or bad:
        raise Problem(
            422,
            "client-scope-invalid",
            "Phạm vi quyền của phần mềm không hợp lệ",
            f"scopes must be among {sorted(allowed)}; got {bad or 'none'}",
        )
    return wanted


def _add_client(
    uow: IdentityUnitOfWork,
    *,
    kind: ClientKind,
    name: str,
    unit_id: uuid.UUID,
    scopes: list[str],
    created_by: uuid.UUID,
    actor_kind: str,
) -> tuple[str, str]:
    client_id = f"hsdt-{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    uow.auth.add(
        ClientRow(
            id=uuid.uuid4(),
            client_id=client_id,
            kind=kind.value,
            name=name,
            secret_hash=hash_client_secret(secret),
            unit_id=unit_id,
            scopes=scopes,
            status="active",
            created_by=created_by,
        )
    )
    uow.auth.audit(
        action="client-created",
        outcome="success",
        actor_kind=actor_kind,
        actor_id=None if actor_kind == "platform" else str(created_by),
        source_address=None,
        unit_id=unit_id,
        target=client_id,
        details={"scopes": scopes, "kind": kind.value},
    )
    return client_id, secret


async def create_client(
    uow: IdentityUnitOfWork,
    *,
    name: str,
    school_id: uuid.UUID,
    scopes: list[str],
    created_by: uuid.UUID,
) -> tuple[str, str]:
    """Register school software; returns ``(client_id, client_secret)``, the secret shown once."""
    wanted = _client_scopes(scopes, CLIENT_SCOPES)
    async with uow:
        unit = await uow.auth.unit(school_id)
        if unit is None or unit.kind != OrgLevel.SCHOOL.value:
            raise Problem(
                422, "school-unknown", "Không tìm thấy trường", f"{school_id} is not a school"
            )
        client_id, secret = _add_client(
            uow,
            kind=ClientKind.SCHOOL,
            name=name,
            unit_id=school_id,
            scopes=wanted,
            created_by=created_by,
            actor_kind="user",
        )
        await uow.commit()
    return client_id, secret


def _client_exists(name: str, client_id: str | None) -> Problem:
    found = f"as {client_id}" if client_id else "(created concurrently)"
    return Problem(
        409,
        "client-exists",
        "Đã có dịch vụ nền tảng với tên này",
        f"platform client {name!r} exists already {found}",
        extensions={"client_id": client_id} if client_id else None,
    )


async def create_platform_client(
    uow: IdentityUnitOfWork,
    *,
    name: str,
    province_id: uuid.UUID,
    scopes: list[str],
    created_by: uuid.UUID = PLATFORM_ID,
) -> tuple[str, str]:
    """Register a platform service (the archive) bound to the province; returns ``(client_id,
    client_secret)``, the secret shown once. Its token grants each scope at the province
    (``archivist@<province_id>``); it may act for any active person of the province.

    The name is unique among platform clients (409 ``client-exists``, also when a concurrent
    create wins the race). Made by an operator (``python -m identity.cli platform-client``),
    never through the admin API: no person's role may hand out a platform role.
    """
    wanted = _client_scopes(scopes, PLATFORM_CLIENT_SCOPES)
    async with uow:
        unit = await uow.auth.unit(province_id)
        if unit is None or unit.kind != OrgLevel.PROVINCE.value:
            raise Problem(
                422,
                "province-unknown",
                "Không tìm thấy Sở GDĐT",
                f"{province_id} is not the province (Sở GDĐT)",
            )
        existing = await uow.auth.platform_client_by_name(name)
        if existing is not None:
            raise _client_exists(name, existing.client_id)
        client_id, secret = _add_client(
            uow,
            kind=ClientKind.PLATFORM,
            name=name,
            unit_id=province_id,
            scopes=wanted,
            created_by=created_by,
            actor_kind="platform" if created_by == PLATFORM_ID else "user",
        )
        try:
            await uow.commit()
        except IntegrityError:
            raise _client_exists(name, None) from None
    return client_id, secret


async def rotate_platform_client_secret(
    uow: IdentityUnitOfWork, *, name: str, rotated_by: uuid.UUID = PLATFORM_ID
) -> tuple[str, str]:
    """A new secret for the platform client ``name``; returns ``(client_id, client_secret)``.

    The old secret stops working at once. Tokens already issued live out their lifetime (at
    most 15 minutes), so a service that rotates routinely is not cut off mid-step; to cut them
    too, disable the client (``POST /clients/{client_id}/disable``, a province admin).
    """
    async with uow:
        row = await uow.auth.platform_client_by_name(name, for_update=True)
        if row is None:
            raise Problem(
                404, "client-unknown", "Không tìm thấy dịch vụ nền tảng", f"no client {name!r}"
            )
        if row.status != "active":
            raise Problem(
                409,
                "client-disabled",
                "Dịch vụ nền tảng đã bị vô hiệu hóa",
                f"{row.client_id} is disabled; create a client under another name",
            )
        secret = secrets.token_urlsafe(32)
        row.secret_hash = hash_client_secret(secret)
        platform = rotated_by == PLATFORM_ID
        uow.auth.audit(
            action="client-secret-rotated",
            outcome="success",
            actor_kind="platform" if platform else "user",
            actor_id=None if platform else str(rotated_by),
            source_address=None,
            unit_id=row.unit_id,
            target=row.client_id,
        )
        client_id = row.client_id
        await uow.commit()
    return client_id, secret


async def issue_client_token(
    uow: IdentityUnitOfWork,
    auth: AuthServices,
    *,
    client_id: str,
    client_secret: str,
    acting_for: str | None,
    source_address: str,
) -> ClientToken:
    """OAuth2 client credentials (RFC 6749 §4.4): a token with the client's scopes at its unit
    (the school of school software, the province of a platform client)."""
    now = auth.clock()
    async with uow:
        client = await uow.auth.client_by_client_id(client_id)
        presented = hash_client_secret(client_secret)
        ok = client is not None and hmac.compare_digest(client.secret_hash, presented)
        if client is None or not ok or client.status != "active":
            uow.auth.audit(
                action="client-token",
                outcome="failure",
                actor_kind="client",
                actor_id=client_id[:64],
                source_address=source_address,
            )
            await uow.commit()
            raise oauth_problem(
                401,
                "invalid_client",
                "Xác thực phần mềm không thành công",
                "Unknown client, wrong secret or disabled client",
            )
        acting_user: str | None = None
        if acting_for is not None:
            acting_user = await _check_acting_for(uow, client, acting_for, now)
        grants = tuple(sorted(f"{scope}@{client.unit_id}" for scope in client.scopes))
        ring = await auth.keys.ring(now)
        token, _ = mint_access_token(
            ring,
            subject=client.client_id,
            kind="client",
            grants=grants,
            issuer=auth.settings.token_issuer,
            audience=auth.settings.token_audience,
            now=now,
            lifetime=auth.settings.access_token_lifetime,
            acting_for=acting_user,
        )
        uow.auth.audit(
            action="client-token",
            outcome="success",
            actor_kind="client",
            actor_id=client.client_id,
            on_behalf_of=acting_user,
            source_address=source_address,
            unit_id=client.unit_id,
        )
        await uow.commit()
    return ClientToken(
        access_token=token,
        expires_in=int(auth.settings.access_token_lifetime.total_seconds()),
        scope=" ".join(client.scopes),
        acting_for=acting_user,
    )


async def _check_acting_for(
    uow: IdentityUnitOfWork, client: ClientRow, acting_for: str, now: datetime
) -> str:
    """School software acts for a teacher of its school; a platform client for any person who
    holds a role in its province (the leader who locked the term). Both: an active account."""
    platform = client.kind == ClientKind.PLATFORM
    refused = oauth_problem(
        400,
        "invalid_grant",
        "Phần mềm không được phép thao tác thay người dùng này",
        "acting_for must be an active person holding a role in the client's province"
        if platform
        else "acting_for must be an active teacher of the client's school",
    )
    try:
        user_id = uuid.UUID(acting_for)
    except ValueError:
        raise refused from None
    user = await uow.auth.user(user_id)
    if user is None or user.status != Status.ACTIVE.value:
        raise refused
    direct, memberships, via_groups = await uow.auth.grants_of_user(user.id)
    effective = effective_grants(user.id, direct, memberships, via_groups, now)
    if platform:
        allowed = holds_a_role_within(effective, await uow.auth.org_tree(), client.unit_id)
    else:
        allowed = any(g.role is Role.TEACHER and g.unit_id == client.unit_id for g in effective)
    if not allowed:
        raise refused
    return str(user.id)


__all__ = [
    "CLIENT_SCOPES",
    "PLATFORM_CLIENT_SCOPES",
    "PLATFORM_ID",
    "AuthServices",
    "ClientKind",
    "ClientToken",
    "KeyKeeper",
    "StepUpToken",
    "TokenPair",
    "TotpEnrolment",
    "build_auth_services",
    "change_password",
    "confirm_own_totp",
    "confirm_totp",
    "create_client",
    "create_platform_client",
    "enrol_own_totp",
    "enrol_totp",
    "issue_client_token",
    "logout",
    "refresh",
    "rotate_platform_client_secret",
    "sign_in",
    "step_up",
]
