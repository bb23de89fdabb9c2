"""Archive's calls to the services whose current state it needs (DESIGN: "by that service's
HTTP API with a service token"): records for a locked snapshot, signing for the signing round.

The token is identity's for the archive's platform client (role ``archivist`` at the province),
acting for the person who locked the term or applied the correction (R23), so every write the
archive makes in another service is attributed to that person and to the archive.

Failures are two kinds: ``ServiceUnavailableError`` (the service is down or answered 5xx: the
step waits and is retried with back-off) and ``ServiceRefusedError`` (a 4xx that retrying will
not change by itself: the step keeps the error for an operator and backs off too).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any, Protocol

import httpx

from archive.render import Snapshot


class ServiceUnavailableError(Exception):
    """The other service did not answer, or answered 5xx: try again later."""


class ServiceRefusedError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class TokenSource(Protocol):
    async def token(self, acting_for: uuid.UUID) -> str: ...


class ClientCredentials:
    """Tokens from identity's ``POST /oauth/token`` (client credentials), one per person acted
    for, kept until a minute before they expire."""

    def __init__(
        self, http: httpx.AsyncClient, token_url: str, client_id: str, client_secret: str
    ) -> None:
        self._http = http
        self._url = token_url
        self._auth = (client_id, client_secret)
        self._cache: dict[uuid.UUID, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def token(self, acting_for: uuid.UUID) -> str:
        async with self._lock:
            cached = self._cache.get(acting_for)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            try:
                response = await self._http.post(
                    self._url,
                    data={"grant_type": "client_credentials", "acting_for": str(acting_for)},
                    auth=self._auth,
                )
            except httpx.HTTPError as error:
                raise ServiceUnavailableError(f"identity: {type(error).__name__}") from error
            body = _answer(response, "identity")
            token = str(body["access_token"])
            self._cache[acting_for] = (token, time.monotonic() + int(body["expires_in"]) - 60)
            return token


def _answer(response: httpx.Response, service: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ServiceUnavailableError(f"{service} answered {response.status_code}")
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        raise ServiceRefusedError(
            response.status_code,
            str(problem.get("code") or problem.get("error") or "refused"),
            str(problem.get("detail") or response.text[:300]),
        )
    body: dict[str, Any] = response.json()
    return body


class _Service:
    name = "service"

    def __init__(self, http: httpx.AsyncClient, tokens: TokenSource) -> None:
        self._http = http
        self._tokens = tokens

    async def _call(
        self, method: str, path: str, acting_for: uuid.UUID, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self._tokens.token(acting_for)}"}
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"{self.name}: {type(error).__name__}") from error


class RecordsClient(_Service):
    name = "records"

    async def snapshot(
        self, class_id: uuid.UUID, period: str, version: int, *, acting_for: uuid.UUID
    ) -> Snapshot:
        response = await self._call(
            "GET",
            f"/classes/{class_id}/snapshots/{period}",
            acting_for,
            params={"version": version},
        )
        return Snapshot.model_validate(_answer(response, self.name))

    async def class_(self, class_id: uuid.UUID, *, acting_for: uuid.UUID) -> dict[str, Any]:
        return _answer(await self._call("GET", f"/classes/{class_id}", acting_for), self.name)

    async def assignments(
        self, class_id: uuid.UUID, *, acting_for: uuid.UUID
    ) -> list[dict[str, Any]]:
        response = await self._call("GET", f"/classes/{class_id}/assignments", acting_for)
        if response.status_code != 200:
            _answer(response, self.name)
        found: list[dict[str, Any]] = response.json()
        return found


class SigningClient(_Service):
    name = "signing"

    async def chain(self, province_id: uuid.UUID, *, acting_for: uuid.UUID) -> dict[str, list[str]]:
        """The province's signer chain (roles in order) by kind of document."""
        response = await self._call("GET", f"/provinces/{province_id}/signer-chains", acting_for)
        if response.status_code != 200:
            _answer(response, self.name)
        return {c["kind"]: list(c["roles"]) for c in response.json()}

    async def open_request(self, body: dict[str, Any], *, acting_for: uuid.UUID) -> uuid.UUID:
        """The request's id; the one already open for the document if a retry finds it."""
        response = await self._call("POST", "/signing-requests", acting_for, json=body)
        if response.status_code == 409:
            problem = response.json()
            if problem.get("code") == "request-exists" and problem.get("request_id"):
                return uuid.UUID(problem["request_id"])
        return uuid.UUID(_answer(response, self.name)["id"])

    async def request(self, request_id: uuid.UUID, *, acting_for: uuid.UUID) -> dict[str, Any]:
        response = await self._call("GET", f"/signing-requests/{request_id}", acting_for)
        return _answer(response, self.name)

    async def document(self, request_id: uuid.UUID, *, acting_for: uuid.UUID) -> bytes:
        response = await self._call("GET", f"/signing-requests/{request_id}/document", acting_for)
        if response.status_code != 200:
            _answer(response, self.name)
        return response.content

    async def restart(
        self, request_id: uuid.UUID, document: bytes | None, *, acting_for: uuid.UUID
    ) -> None:
        body = {"document": base64.b64encode(document).decode() if document else None}
        response = await self._call(
            "POST", f"/signing-requests/{request_id}/restart", acting_for, json=body
        )
        _answer(response, self.name)
