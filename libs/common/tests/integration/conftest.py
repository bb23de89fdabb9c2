from __future__ import annotations

import pytest_asyncio

from common.testing import DatabaseFactory, Unique

from .support import prepare_database


@pytest_asyncio.fixture
async def database_url(make_database: DatabaseFactory, unique: Unique) -> str:
    url = await make_database(unique("msg").replace("-", "_"))
    await prepare_database(url)
    return url
