"""Generate the published contract documents of the event catalogue.

``uv run hsdt-events-catalogue`` writes ``docs/events/schemas/<event type>.json`` (JSON Schema
2020-12 of each event's ``data``) and ``docs/events/asyncapi.yaml`` (AsyncAPI 3.0.0). With
``--check`` it writes nothing and exits 1 naming the stale files, which is what the test runs.
The output depends on the models only (no timestamps, fixed key order), so regenerating an
unchanged catalogue gives identical bytes.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from common.events.base import CloudEvent, IntegrationEvent
from common.events.catalogue import CATALOGUE, CATALOGUE_VERSION, index_by_type

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_PREFIX = "urn:hsdt:events:schema:"
EXCHANGE = "hsdt.events"
CONTENT_TYPE = "application/cloudevents+json"
AMQP_BINDING_VERSION = "0.3.0"
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.yaml"
ENVELOPE = "CloudEvent"

# What every envelope carries as the relay publishes it (``to_json`` drops only null fields).
ENVELOPE_REQUIRED = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "data",
}
ENVELOPE_DESCRIPTIONS = {
    "specversion": "CloudEvents version, always 1.0.",
    "id": "Unique id of the event; consumers de-duplicate on it (inbox).",
    "source": "The producing service.",
    "type": "Versioned event type, also the AMQP routing key and the AMQP `type` property.",
    "subject": "Id of the aggregate the event is about (its `subject_field`).",
    "time": "When the producer committed the event (UTC).",
    "datacontenttype": "Media type of `data`, always application/json.",
    "traceparent": "W3C trace context of the producing request (distributed tracing extension).",
    "tracestate": "W3C trace state accompanying `traceparent`.",
    "sequence": "Zero-padded decimal order of the producer's events (sequence extension).",
    "data": "The event itself; its schema depends on `type`.",
}


def event_schema(cls: type[IntegrationEvent]) -> dict[str, Any]:
    """Standalone JSON Schema of one event's ``data``, with ``$id`` and dialect first."""
    body = cls.model_json_schema(mode="serialization")
    head = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID_PREFIX + cls.event_type,
        "title": body.pop("title"),
        "description": body.pop("description"),
    }
    return head | body


def envelope_schema(ref_template: str) -> dict[str, Any]:
    schema = CloudEvent.model_json_schema(mode="serialization", ref_template=ref_template)
    for name, prop in schema["properties"].items():
        if name in ENVELOPE_DESCRIPTIONS:
            prop["description"] = ENVELOPE_DESCRIPTIONS[name]
    schema["required"] = [name for name in schema["properties"] if name in ENVELOPE_REQUIRED]
    return schema


def _doc(cls: type[IntegrationEvent]) -> str:
    return inspect.cleandoc(cls.__doc__ or cls.__name__)


def _summary(cls: type[IntegrationEvent]) -> str:
    return " ".join(_doc(cls).split("\n\n", 1)[0].split())


def _message(cls: type[IntegrationEvent], ref: str) -> dict[str, Any]:
    description = _doc(cls)
    return {
        "name": cls.__name__,
        "title": cls.__name__,
        "summary": _summary(cls),
        "description": f"{description}\n\nCloudEvents `subject`: `{cls.subject_field}`.",
        "contentType": CONTENT_TYPE,
        "correlationId": {
            "description": "W3C trace context carried through the bus.",
            "location": "$message.payload#/traceparent",
        },
        "payload": {
            "allOf": [
                {"$ref": f"{ref}{ENVELOPE}"},
                {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "type": {"const": cls.event_type},
                        "data": {"$ref": f"{ref}{cls.__name__}"},
                    },
                },
            ]
        },
        "bindings": {
            "amqp": {"messageType": cls.event_type, "bindingVersion": AMQP_BINDING_VERSION}
        },
    }


def asyncapi_document(events: Sequence[type[IntegrationEvent]]) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``events``: one channel and one send operation each."""
    by_type = index_by_type(events)
    ordered = [by_type[event_type] for event_type in sorted(by_type)]
    ref = "#/components/schemas/"
    _, defs = models_json_schema(
        [(cls, "serialization") for cls in ordered], ref_template=ref + "{model}"
    )
    schemas = {ENVELOPE: envelope_schema(ref + "{model}")} | dict(sorted(defs["$defs"].items()))
    producers = sorted({cls.source_service() for cls in ordered})
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in ordered:
        name, address, service = cls.__name__, cls.event_type, cls.source_service()
        channels[address] = {
            "address": address,
            "title": name,
            "summary": _summary(cls),
            "servers": [{"$ref": "#/servers/rabbitmq"}],
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": EXCHANGE,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
        operations[f"send{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{address}"},
            "title": f"{service} publishes {name}",
            "tags": [{"name": service}],
            "messages": [{"$ref": f"#/channels/{address}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION}},
        }
        messages[name] = _message(cls, ref)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "HSĐT events",
            "version": CATALOGUE_VERSION,
            "description": (
                "Integration events of the HSĐT platform, generated from the typed models in "
                "`libs/common/src/common/events/`. Each message is a CloudEvents 1.0 envelope in "
                "structured JSON mode whose `data` is the event. Consumers ignore unknown fields; "
                "a breaking change is a new `.vN` type published beside the old one."
            ),
            "tags": [
                {"name": service, "description": f"Published by services/{service}."}
                for service in producers
            ],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "title": "RabbitMQ",
                "description": (
                    f"Every event goes to the durable topic exchange `{EXCHANGE}` as a persistent "
                    "message with publisher confirms; the routing key is the event type. Each "
                    "consumer binds its own durable quorum queue by the types it handles."
                ),
                "variables": {
                    "host": {"default": "localhost", "description": "Broker host name."},
                    "port": {"default": "5672", "description": "AMQP port."},
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


class _Dumper(yaml.SafeDumper):
    # Repeated sub-objects must be spelled out, not turned into YAML anchors that readers trip on.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Docstrings keep their line breaks; a literal block shows them as written.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(events: Sequence[type[IntegrationEvent]] = CATALOGUE) -> dict[str, bytes]:
    """Every generated file, by path relative to the output directory."""
    index_by_type(events)  # refuse duplicate types before they overwrite each other's files
    files = {
        f"{SCHEMAS_DIR}/{cls.event_type}.json": (
            json.dumps(event_schema(cls), indent=2, ensure_ascii=False) + "\n"
        ).encode()
        for cls in events
    }
    files[ASYNCAPI_FILE] = yaml.dump(
        asyncapi_document(events),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    ).encode()
    return dict(sorted(files.items()))


def _managed_files(out_dir: Path) -> set[str]:
    """Generated files already on disk; hand-written ones (README.md) are never touched."""
    found = {f"{SCHEMAS_DIR}/{p.name}" for p in (out_dir / SCHEMAS_DIR).glob("*.json")}
    if (out_dir / ASYNCAPI_FILE).exists():
        found.add(ASYNCAPI_FILE)
    return found


def stale_files(out_dir: Path, rendered: Mapping[str, bytes]) -> list[str]:
    """Paths under ``out_dir`` that are missing, differ, or belong to no event any more."""
    stale = {
        name
        for name, content in rendered.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != content
    }
    stale |= _managed_files(out_dir) - rendered.keys()
    return sorted(stale)


def write(out_dir: Path, rendered: Mapping[str, bytes]) -> list[str]:
    """Bring ``out_dir`` up to date; returns the paths it changed or removed."""
    changed = stale_files(out_dir, rendered)
    for name in changed:
        path = out_dir / name
        if name in rendered:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rendered[name])
        else:
            path.unlink()
    return changed


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory above ``start`` (this file) holding ``uv.lock``."""
    here = (start or Path(__file__)).resolve()
    for directory in (here, *here.parents):
        if (directory / "uv.lock").is_file():
            return directory
    raise FileNotFoundError(f"no uv.lock above {here}; pass --out DIR")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hsdt-events-catalogue", description="Generate the event contract documents."
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    parser.add_argument("--out", type=Path, help="output directory (default: <repo>/docs/events)")
    args = parser.parse_args(argv)
    try:
        out_dir: Path = args.out or find_repo_root() / "docs" / "events"
    except FileNotFoundError as exc:
        parser.error(str(exc))
    rendered = render()
    if args.check:
        stale = stale_files(out_dir, rendered)
        for name in stale:
            print(f"stale: {out_dir / name}", file=sys.stderr)
        if stale:
            print("regenerate with: uv run hsdt-events-catalogue", file=sys.stderr)
            return 1
        return 0
    for name in write(out_dir, rendered):
        print(f"{'wrote' if name in rendered else 'removed'}: {out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
