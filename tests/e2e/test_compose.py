"""docker-compose.yml, the Dockerfiles and the compose-side gateway, checked without Docker.

The development machines have no Docker engine, so the file is validated against the Compose
Specification's JSON Schema (vendored in data/compose-spec.json, from check-jsonschema's copy,
Apache-2.0) and its cross-references are checked here: what Compose itself would refuse or
what would only fail at `docker compose up`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SERVICES = ("identity", "records", "attendance", "signing", "archive")
INFRA = ("postgres", "rabbitmq", "redis", "minio", "otel-collector", "jaeger", "gateway")
PER_SERVICE_ENV = ("DATABASE_URL", "AMQP_URL", "REDIS_URL", "REDIS_PREFIX", "ROOT_PATH", "JWKS_URL")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded = json.loads((DATA / "compose-spec.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on in either form, as {target: condition}."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _expand_defaults(text: str) -> str:
    """${VAR:-default} -> default, as Compose does when VAR is unset."""
    return INTERPOLATION.sub(lambda m: m.group("default") or "", text)


def test_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_rejects_what_compose_rejects(schema: dict[str, Any]) -> None:
    # A control: the vendored schema is strict enough to catch a misspelt key.
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"services": {"api": {"image": "x", "depends_onn": ["db"]}}}
    assert not validator.is_valid(bad)


def test_infrastructure_and_every_service_are_there(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in INFRA:
        assert name in services, name
    for svc in SERVICES:
        for role in ("api", "worker", "migrate"):
            assert f"{svc}-{role}" in services, f"{svc}-{role}"


def test_every_container_has_an_image_or_a_build(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        assert "image" in service or "build" in service, name


def test_api_worker_and_migrations_share_one_image_per_service(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for svc in SERVICES:
        api, worker, migrate = (services[f"{svc}-{role}"] for role in ("api", "worker", "migrate"))
        assert api["image"] == worker["image"] == migrate["image"] == f"hsdt/{svc}:dev"
        for container in (api, worker, migrate):
            assert container["build"] == {
                "context": ".",
                "dockerfile": f"services/{svc}/Dockerfile",
            }
        assert "command" not in api  # the image's CMD is the API
        assert worker["command"] == ["python", "-m", f"{svc}.worker"]
        assert migrate["command"] == [
            "alembic",
            "-c",
            f"services/{svc}/alembic.ini",
            "upgrade",
            "head",
        ]
        assert migrate["restart"] == "no"


def test_services_get_their_prefixed_settings(compose: dict[str, Any]) -> None:
    services = _services(compose)
    init_script = (ROOT / "deploy/compose/postgres/init-databases.sh").read_text(encoding="utf-8")
    for svc in SERVICES:
        prefix = svc.upper() + "_"
        for role in ("api", "worker", "migrate"):
            env = services[f"{svc}-{role}"]["environment"]
            for key in PER_SERVICE_ENV:
                assert prefix + key in env, f"{svc}-{role}: {prefix + key}"
            assert env[prefix + "DATABASE_URL"].endswith(f"@postgres:5432/hsdt_{svc}")
            assert env[prefix + "ROOT_PATH"] == f"/{svc}"
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        # The database the service is pointed at is one the init script creates.
        assert svc in init_script.split("for svc in", 1)[1].split(";", 1)[0]


def test_every_dependency_exists_and_its_condition_can_be_met(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert target != name
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} is one-shot"


def test_dependencies_have_no_cycle(compose: dict[str, Any]) -> None:
    services = _services(compose)
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", " -> ".join((*path, name))
        state[name] = "visiting"
        for target in _depends_on(services[name]):
            visit(target, (*path, name))
        state[name] = "done"

    for name in services:
        visit(name, ())


def test_apis_wait_for_their_migrations_and_the_gateway_for_healthy_apis(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    gateway_deps = _depends_on(services["gateway"])
    for svc in SERVICES:
        for role in ("api", "worker"):
            deps = _depends_on(services[f"{svc}-{role}"])
            assert deps[f"{svc}-migrate"] == "service_completed_successfully"
            assert deps["rabbitmq"] == "service_healthy"
        assert "healthcheck" in services[f"{svc}-api"]
        assert gateway_deps[f"{svc}-api"] == "service_healthy"
    assert _depends_on(services["archive-api"])["minio-init"] == "service_completed_successfully"


def test_published_host_ports_are_unique_and_loopback_only(compose: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, service in _services(compose).items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: write ports as strings"
            host_ip, host_port, _container = _expand_defaults(port).rsplit(":", 2)
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            assert host_port not in seen, f"{name} and {seen.get(host_port)} both use {host_port}"
            seen[host_port] = name
    assert "8080" in seen  # the gateway


def test_named_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set((compose.get("volumes") or {}).keys())
    used = set()
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"


def test_dockerfiles_exist_and_copy_only_what_the_repository_has(compose: dict[str, Any]) -> None:
    dockerfiles = {s["build"]["dockerfile"] for s in _services(compose).values() if "build" in s}
    assert dockerfiles == {f"services/{svc}/Dockerfile" for svc in SERVICES}
    for dockerfile in dockerfiles:
        path = ROOT / dockerfile
        assert path.is_file(), dockerfile
        svc = path.parent.name
        text = path.read_text(encoding="utf-8")
        assert f"--package hsdt-{svc}" in text
        assert "--no-install-workspace" in text
        assert re.search(r"^USER (?!root)", text, re.MULTILINE), f"{dockerfile} runs as root"
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
            *sources, _dest = line.split()
            for source in sources:
                if source != ".":
                    assert (ROOT / source).exists(), f"{dockerfile} copies missing {source}"
        pyproject = (path.parent / "pyproject.toml").read_text(encoding="utf-8")
        assert f'name = "hsdt-{svc}"' in pyproject


def test_dockerignore_keeps_local_state_out_of_the_images() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", ".run", "**/__pycache__", ".env"):
        assert entry in ignored, entry


def test_gateway_renders_the_one_template_with_every_placeholder_set(
    compose: dict[str, Any],
) -> None:
    gateway = _services(compose)["gateway"]
    assert (
        "./deploy/nginx/gateway.conf.template:/etc/nginx/templates/gateway.conf.template:ro"
        in gateway["volumes"]
    )
    template = (ROOT / "deploy/nginx/gateway.conf.template").read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\$\{(HSDT_GW_[A-Z_]+)\}", template))
    assert placeholders == set(gateway["environment"])
    for svc in SERVICES:
        assert gateway["environment"][f"HSDT_GW_{svc.upper()}"] == f"{svc}-api:8000"
    # nginx's own variables are lower-case, so the image's envsubst cannot touch them.
    assert not re.findall(r"\$\{?(?!HSDT_GW_)[A-Z][A-Z0-9_]*", template)


def test_env_example_lists_every_variable_compose_reads(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = {m.group("name") for m in INTERPOLATION.finditer(text)}
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"
