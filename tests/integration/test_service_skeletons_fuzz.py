"""The skeleton services' OpenAPI fuzzing used to live here: a service that answered only
/healthz, /readyz and /api/v1/me was fuzzed with Schemathesis, unauthenticated and with a
teacher's token, until it had an API and a fuzz test of its own.

Attendance left the list with #6, signing after it, archive last: every service now fuzzes its
own API (``services/<svc>/tests/integration/test_<svc>_fuzz.py``, through ``common.fuzzing``),
with the ids of a populated world so that requests get past the 404s. What stays here is the
guard that keeps it so: a new service must come with its own fuzz test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]


def _services() -> list[str]:
    return sorted(
        path.name for path in (REPO / "services").iterdir() if (path / "pyproject.toml").is_file()
    )


def test_every_service_has_its_own_fuzz_test() -> None:
    services = _services()
    missing = [
        service
        for service in services
        if not (
            REPO / "services" / service / "tests" / "integration" / f"test_{service}_fuzz.py"
        ).is_file()
    ]

    assert services, "no service found under services/"
    assert missing == [], (
        f"services without services/<svc>/tests/integration/test_<svc>_fuzz.py: {missing}"
    )
