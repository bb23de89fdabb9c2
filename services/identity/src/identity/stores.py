"""Database adapters of the ``KeyStore`` and ``RefreshStore`` ports, on an open unit of work.

Both write through the unit of work's session and never commit: the handler that uses them
commits once, with its audit row.
"""

from __future__ import annotations

import uuid

from identity.keys import StoredKey
from identity.models import RefreshFamilyRow, SigningKeyRow
from identity.repository.auth import AuthRepository
from identity.tokens import RefreshFamily, StaleFamilyError


class DbKeyStore:
    """``identity.keys.KeyStore`` on the ``signing_keys`` table."""

    def __init__(self, repo: AuthRepository) -> None:
        self._repo = repo

    async def load_all(self) -> list[StoredKey]:
        return [
            StoredKey(
                kid=r.kid,
                created_at=r.created_at,
                not_after=r.not_after,
                retired_at=r.retired_at,
                private_pem=r.private_pem,
            )
            for r in await self._repo.signing_keys()
        ]

    async def save(self, key: StoredKey) -> None:
        row = await self._repo.signing_key(key.kid)
        if row is None:
            self._repo.add(
                SigningKeyRow(
                    kid=key.kid,
                    created_at=key.created_at,
                    not_after=key.not_after,
                    retired_at=key.retired_at,
                    private_pem=key.private_pem,
                )
            )
        else:
            row.retired_at = key.retired_at
        await self._repo.session.flush()

    async def delete(self, kid: str) -> None:
        await self._repo.delete_signing_key(kid)


class DbRefreshStore:
    """``identity.tokens.RefreshStore`` on the ``refresh_families`` table."""

    def __init__(self, repo: AuthRepository) -> None:
        self._repo = repo

    async def find_by_token_hash(self, token_hash: str) -> RefreshFamily | None:
        row = await self._repo.refresh_family_by_hash(token_hash)
        return None if row is None else _family(row)

    async def get(self, family_id: str) -> RefreshFamily | None:
        row = await self._repo.refresh_family(uuid.UUID(family_id))
        return None if row is None else _family(row)

    async def add(self, family: RefreshFamily) -> None:
        self._repo.add(RefreshFamilyRow(family_id=uuid.UUID(family.family_id), **_values(family)))
        await self._repo.session.flush()

    async def save(self, family: RefreshFamily, *, expected_generation: int) -> None:
        saved = await self._repo.save_refresh_family_if(
            _values(family), uuid.UUID(family.family_id), expected_generation
        )
        if not saved:
            raise StaleFamilyError(family.family_id)

    async def revoke(self, family_id: str) -> None:
        await self._repo.revoke_family(uuid.UUID(family_id))

    async def revoke_all_for_subject(self, subject: str) -> list[str]:
        return await self._repo.revoke_families_of(subject)


def _values(family: RefreshFamily) -> dict[str, object]:
    return {
        "subject": family.subject,
        "current_hash": family.current_hash,
        "generation": family.generation,
        "created_at": family.created_at,
        "expires_at": family.expires_at,
        "current_expires_at": family.current_expires_at,
        "spent_hashes": sorted(family.spent_hashes),
        "revoked": family.revoked,
    }


def _family(row: RefreshFamilyRow) -> RefreshFamily:
    return RefreshFamily(
        family_id=str(row.family_id),
        subject=row.subject,
        current_hash=row.current_hash,
        generation=row.generation,
        created_at=row.created_at,
        expires_at=row.expires_at,
        current_expires_at=row.current_expires_at,
        spent_hashes=frozenset(row.spent_hashes),
        revoked=row.revoked,
    )
