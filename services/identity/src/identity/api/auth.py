"""Sign-in, tokens, JWKS, second factor and step-up, school-software clients.

Routes parse the request, call a handler in ``identity.handlers.auth`` and shape the answer;
every error is a problem+json with a stable ``code`` (documented per route).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, cast
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from common.auth import CurrentPrincipal, current_principal
from common.errors import problem_responses
from common.step_up import PURPOSE_PATTERN
from identity.bootstrap import IdentityDeps
from identity.handlers import auth as handlers
from identity.handlers.auth import AuthServices, TokenPair, oauth_problem, utcnow
from identity.uow import IdentityUnitOfWork

router = APIRouter(tags=["auth"])


def _deps(request: Request) -> IdentityDeps:
    return cast("IdentityDeps", request.app.state.deps)


def _uow(request: Request) -> IdentityUnitOfWork:
    return _deps(request).identity_uow()


def _auth(request: Request) -> AuthServices:
    return _deps(request).auth_services


def source_address(request: Request) -> str:
    """The caller's address: the gateway's last X-Forwarded-For hop, else the peer's."""
    if _deps(request).auth_services.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"


UowDep = Annotated[IdentityUnitOfWork, Depends(_uow)]
AuthDep = Annotated[AuthServices, Depends(_auth)]
SourceAddress = Annotated[str, Depends(source_address)]


# Schemas ----------------------------------------------------------------------------------------


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")
    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str


class JwksRead(BaseModel):
    keys: list[Jwk]


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp_code: str | None = Field(
        default=None,
        max_length=32,
        description="The 6-digit TOTP code, or a recovery code, when the account has TOTP on",
    )


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 — the scheme's name
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Opaque; spend it once at /auth/refresh")

    @classmethod
    def of(cls, pair: TokenPair) -> TokenRead:
        return cls(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        )


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class TotpEnrol(BaseModel):
    enrolment_token: str = Field(
        min_length=1, max_length=128, description="From the totp-enrolment-required problem"
    )


class TotpEnrolmentRead(BaseModel):
    provisioning_uri: str = Field(description="otpauth:// URI to show as a QR code")
    secret: str = Field(description="The same secret in base32, for typing in by hand")
    recovery_codes: list[str] = Field(description="Shown once; each works once at sign-in")


class TotpConfirm(TotpEnrol):
    code: str = Field(min_length=6, max_length=10)


class OwnTotpEnrol(BaseModel):
    current_password: str = Field(
        min_length=1,
        max_length=256,
        description="Proved (under the sign-in lockout) before a secret is made",
    )


class OwnTotpConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=10, description="A code of the new secret")


class StepUpRequest(BaseModel):
    code: str = Field(
        min_length=6, max_length=32, description="The 6-digit TOTP code, or a recovery code"
    )
    purpose: str = Field(
        min_length=1,
        max_length=100,
        pattern=PURPOSE_PATTERN,
        description='What the token confirms, as the service that checks it names it: "signing"',
    )


class StepUpRead(BaseModel):
    step_up_token: str = Field(
        description="Single-use; give it to the service that asked for a second factor"
    )
    expires_in: int = Field(description="Seconds the step-up token is valid")


class PasswordChange(BaseModel):
    password_change_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="From the password-change-required problem (forced change, no Bearer token)",
    )
    current_password: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="With a Bearer access token (voluntary change)",
    )
    new_password: str = Field(min_length=1, max_length=256)


class ClientTokenRead(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 — the scheme's name
    expires_in: int
    scope: str
    acting_for: str | None = None


# Routes -------------------------------------------------------------------------------------------


@router.get(
    "/.well-known/jwks.json",
    response_model=JwksRead,
    summary="Public keys that verify access tokens (RFC 7517)",
)
async def jwks(response: Response, auth: AuthDep) -> dict[str, Any]:
    ring = await auth.keys.ring(utcnow())
    response.headers["Cache-Control"] = f"public, max-age={auth.settings.jwks_max_age_seconds}"
    return ring.jwks(utcnow())


@router.post(
    "/auth/sign-in",
    response_model=TokenRead,
    summary="Sign in with user name, password and, when the account has TOTP on, a TOTP code",
    responses=problem_responses(401, 403, 422, 429),
)
async def sign_in(body: SignIn, uow: UowDep, auth: AuthDep, address: SourceAddress) -> TokenRead:
    """401 codes: ``invalid-credentials``, ``password-change-required`` (with
    ``password_change_token``, before any TOTP step), ``totp-required``, ``totp-invalid``,
    ``totp-enrolment-required`` (with ``enrolment_token``); 403 ``account-disabled``;
    429 ``sign-in-locked`` (the user name) or ``too-many-sign-in-failures`` (the address)."""
    pair = await handlers.sign_in(
        uow,
        auth,
        username=body.username,
        password=body.password,
        totp_code=body.totp_code,
        source_address=address,
    )
    return TokenRead.of(pair)


@router.post(
    "/auth/refresh",
    response_model=TokenRead,
    summary="Spend a refresh token for a new access and refresh token",
    responses=problem_responses(401, 422),
)
async def refresh(
    body: RefreshRequest, uow: UowDep, auth: AuthDep, address: SourceAddress
) -> TokenRead:
    """401 codes: ``invalid-refresh-token``; ``refresh-token-reused`` (the sign-in is revoked)."""
    pair = await handlers.refresh(
        uow, auth, refresh_token=body.refresh_token, source_address=address
    )
    return TokenRead.of(pair)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: revoke this access token and its refresh tokens",
    responses=problem_responses(401),
)
async def logout(
    principal: CurrentPrincipal, uow: UowDep, auth: AuthDep, address: SourceAddress
) -> Response:
    await handlers.logout(uow, auth, principal=principal, source_address=address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/totp/enrol",
    response_model=TotpEnrolmentRead,
    summary="Start TOTP enrolment: a secret to scan and recovery codes (shown once)",
    responses=problem_responses(401, 409, 422),
)
async def totp_enrol(
    body: TotpEnrol, uow: UowDep, auth: AuthDep, address: SourceAddress
) -> TotpEnrolmentRead:
    result = await handlers.enrol_totp(
        uow, auth, enrolment_token=body.enrolment_token, source_address=address
    )
    return TotpEnrolmentRead(
        provisioning_uri=result.provisioning_uri,
        secret=result.secret,
        recovery_codes=result.recovery_codes,
    )


@router.post(
    "/auth/totp/confirm",
    response_model=TokenRead,
    summary="Confirm TOTP with a first code; completes the sign-in",
    responses=problem_responses(401, 409, 422),
)
async def totp_confirm(
    body: TotpConfirm, uow: UowDep, auth: AuthDep, address: SourceAddress
) -> TokenRead:
    pair = await handlers.confirm_totp(
        uow, auth, enrolment_token=body.enrolment_token, code=body.code, source_address=address
    )
    return TokenRead.of(pair)


@router.post(
    "/auth/me/totp",
    response_model=TotpEnrolmentRead,
    summary="Turn on TOTP by choice: a secret to scan and recovery codes (shown once)",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def own_totp_enrol(
    body: OwnTotpEnrol,
    principal: CurrentPrincipal,
    uow: UowDep,
    auth: AuthDep,
    address: SourceAddress,
) -> TotpEnrolmentRead:
    """For a signed-in person whose roles do not need TOTP (a teacher who signs documents).
    401 ``unauthenticated``, ``invalid-current-password`` (counted as a failed sign-in);
    403 ``totp-needs-person`` (a school-software token), ``account-disabled``;
    409 ``totp-already-enrolled``; 429 as at sign-in. Calling it again before confirmation
    replaces the pending secret."""
    result = await handlers.enrol_own_totp(
        uow,
        auth,
        principal=principal,
        current_password=body.current_password,
        source_address=address,
    )
    return TotpEnrolmentRead(
        provisioning_uri=result.provisioning_uri,
        secret=result.secret,
        recovery_codes=result.recovery_codes,
    )


@router.post(
    "/auth/me/totp/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Confirm TOTP turned on by choice with a first code",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def own_totp_confirm(
    body: OwnTotpConfirm,
    principal: CurrentPrincipal,
    uow: UowDep,
    auth: AuthDep,
    address: SourceAddress,
) -> Response:
    """204: TOTP is on; from now on sign-in asks for a code, and ``/auth/step-up`` works.
    401 ``unauthenticated``, ``totp-invalid`` (counted as a failed sign-in); 403
    ``totp-needs-person``; 409 ``totp-not-enrolled`` (call ``/auth/me/totp`` first),
    ``totp-already-enrolled``; 429 as at sign-in."""
    await handlers.confirm_own_totp(
        uow, auth, principal=principal, code=body.code, source_address=address
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/step-up",
    response_model=StepUpRead,
    summary="Prove the second factor again for one action: a short-lived, single-use token",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def step_up(
    body: StepUpRequest,
    principal: CurrentPrincipal,
    uow: UowDep,
    auth: AuthDep,
    address: SourceAddress,
) -> StepUpRead:
    """The code is checked as at sign-in (a TOTP step or a recovery code works once; a wrong
    code counts as a failed sign-in). The token is verified and spent by the service that asked
    for it (``common.step_up.verify_step_up``). 401 ``unauthenticated``, ``totp-invalid``;
    403 ``step-up-needs-person`` (a school-software token), ``account-disabled``; 409
    ``totp-not-enrolled``; 429 ``sign-in-locked``, ``too-many-sign-in-failures``."""
    result = await handlers.step_up(
        uow,
        auth,
        principal=principal,
        code=body.code,
        purpose=body.purpose,
        source_address=address,
    )
    return StepUpRead(step_up_token=result.token, expires_in=result.expires_in)


_optional_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


@router.post(
    "/auth/password/change",
    response_model=TokenRead,
    summary="Change the password: forced after an admin's reset, or voluntary when signed in",
    responses={
        204: {"description": "Voluntary change done"},
        **problem_responses(401, 409, 422, 429),
    },
)
async def password_change(
    *,
    body: PasswordChange,
    request: Request,
    uow: UowDep,
    auth: AuthDep,
    address: SourceAddress,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
) -> TokenRead | Response:
    """Public: the forced path has no access token. With ``password_change_token`` a token pair
    (or the TOTP step: 401 ``totp-required``, ``totp-enrolment-required``); with a Bearer
    token and ``current_password`` 204, the other sign-ins revoked. 401
    ``invalid-password-change-token``, ``invalid-current-password``, ``unauthenticated``;
    409 ``password-changed-concurrently``; 422 ``password-rejected`` (``problems``),
    ``password-unchanged``; 429 as at sign-in."""
    principal = None
    if body.password_change_token is None:
        principal = await current_principal(request, credentials)
    pair = await handlers.change_password(
        uow,
        auth,
        new_password=body.new_password,
        source_address=address,
        password_change_token=body.password_change_token,
        principal=principal,
        current_password=body.current_password,
    )
    if pair is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return TokenRead.of(pair)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both are form-urlencoded before the Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    "/oauth/token",
    response_model=ClientTokenRead,
    summary="OAuth2 client credentials for school software (RFC 6749 §4.4)",
    responses=problem_responses(400, 401),
)
async def oauth_token(
    *,
    request: Request,
    uow: UowDep,
    auth: AuthDep,
    address: SourceAddress,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    acting_for: Annotated[
        str | None, Form(description="Id of the teacher the client acts for")
    ] = None,
) -> ClientTokenRead:
    """Client authentication by HTTP Basic or by ``client_id`` and ``client_secret`` in the
    form. Errors carry RFC 6749's ``error`` member: ``invalid_request``,
    ``unsupported_grant_type``, ``invalid_client`` (401), ``invalid_grant`` (a refused
    ``acting_for``)."""
    if grant_type is None:
        raise oauth_problem(
            400, "invalid_request", "Yêu cầu cấp mã truy cập không hợp lệ", "grant_type missing"
        )
    if grant_type != "client_credentials":
        raise oauth_problem(
            400,
            "unsupported_grant_type",
            "Kiểu cấp quyền không được hỗ trợ",
            "Only grant_type=client_credentials is supported",
        )
    basic = _basic_credentials(request)
    if basic is not None and (client_id is not None or client_secret is not None):
        raise oauth_problem(
            400,
            "invalid_request",
            "Yêu cầu cấp mã truy cập không hợp lệ",
            "Authenticate by HTTP Basic or in the body, not both",
        )
    credentials = basic or (client_id, client_secret)
    if credentials[0] is None or credentials[1] is None:
        raise oauth_problem(
            401,
            "invalid_client",
            "Xác thực phần mềm không thành công",
            "Client credentials missing",
        )
    token = await handlers.issue_client_token(
        uow,
        auth,
        client_id=credentials[0],
        client_secret=credentials[1],
        acting_for=acting_for or None,
        source_address=address,
    )
    return ClientTokenRead(
        access_token=token.access_token,
        expires_in=token.expires_in,
        scope=token.scope,
        acting_for=token.acting_for,
    )
