"""The composition root of the archive service: settings in, clients, stores and the other
services' clients out."""

from __future__ import annotations

from dataclasses import dataclass, fields

import httpx

from archive.clients import ClientCredentials, RecordsClient, SigningClient
from archive.pipeline import Services
from archive.settings import ArchiveSettings
from archive.storage.store import ObjectStore
from archive.uow import ArchiveUnitOfWork
from common.bootstrap import Deps, build_deps

# Rendering and storing a class takes seconds; reading a snapshot of 40 students is large.
SERVICE_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass
class ArchiveDeps(Deps):
    services: Services | None = None
    service_http: tuple[httpx.AsyncClient, ...] = ()

    def pipeline(self) -> Services:
        assert self.services is not None
        return self.services

    async def aclose(self) -> None:
        for client in self.service_http:
            await client.aclose()
        await super().aclose()


def object_store(settings: ArchiveSettings, *, replica: bool = False) -> ObjectStore | None:
    if replica:
        if not settings.replica_s3_endpoint:
            return None
        return ObjectStore(
            settings.replica_s3_endpoint,
            settings.replica_s3_access_key,
            settings.replica_s3_secret_key.get_secret_value(),
            settings.replica_s3_bucket,
            region=settings.s3_region,
        )
    return ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        region=settings.s3_region,
    )


def services_of(settings: ArchiveSettings) -> tuple[Services, tuple[httpx.AsyncClient, ...]]:
    identity = httpx.AsyncClient(timeout=SERVICE_TIMEOUT)
    records = httpx.AsyncClient(base_url=settings.records_url, timeout=SERVICE_TIMEOUT)
    signing = httpx.AsyncClient(base_url=settings.signing_url, timeout=SERVICE_TIMEOUT)
    tokens = ClientCredentials(
        identity,
        settings.identity_token_url,
        settings.client_id,
        settings.client_secret.get_secret_value(),
    )
    store = object_store(settings)
    assert store is not None
    services = Services(
        records=RecordsClient(records, tokens),
        signing=SigningClient(signing, tokens),
        store=store,
        replica=object_store(settings, replica=True),
        verify_url=settings.public_validation_url,
    )
    return services, (identity, records, signing)


def bootstrap(settings: ArchiveSettings | None = None) -> ArchiveDeps:
    settings = settings or ArchiveSettings()
    base = build_deps(settings, ArchiveUnitOfWork)
    services, http = services_of(settings)
    made = {f.name: getattr(base, f.name) for f in fields(Deps)}
    return ArchiveDeps(**made, services=services, service_http=http)
