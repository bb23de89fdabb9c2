"""The event catalogue: its contract documents are current, and every event survives the bus."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import common.events.records as records_events
from common.events import catalogue_docs
from common.events.base import CloudEvent, IntegrationEvent
from common.events.catalogue import CATALOGUE, UnknownEventTypeError, event_class, index_by_type
from common.events.records import SCHOOL_YEAR_PATTERN

PRODUCERS = ("identity", "records", "attendance", "signing", "archive")
TYPE_PATTERN = re.compile(
    rf"^vn\.hsdt\.(?:{'|'.join(PRODUCERS)})\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$"
)
# Field-name words that would mean personal data beyond ids is leaving its owner.
PERSONAL_WORDS = {"name", "birth", "dob", "national", "cccd", "phone", "email", "address", "gender"}
PERSONAL_WORDS |= {"score", "comment", "note", "text"}
# A class label ("6A1", "10 Chuyên Toán") names a group of children, never one child.
FREE_TEXT_ALLOWED = {
    ("PackageStored", "retention_basis"),
    ("ClassCreated", "label"),
    ("ClassRosterChanged", "label"),
}

ASYNCAPI_URI = "urn:hsdt:test:asyncapi"
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

each_event = pytest.mark.parametrize("cls", CATALOGUE, ids=lambda cls: cls.event_type)


# --- strategies: st.builds on each model, with the field types pydantic knows and Hypothesis not


# Hypothesis takes naive bounds and adds the zone itself.
aware_datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from(
        [
            UTC,
            timezone(timedelta(hours=7)),
            timezone(timedelta(hours=5, minutes=45)),
            timezone(timedelta(hours=-3, minutes=-30)),
        ]
    ),
)
school_years = st.integers(1990, 2200).map(lambda year: f"{year}-{year + 1}")


def _type_strategy(annotation: Any) -> st.SearchStrategy[Any]:
    if annotation is AwareDatetime:
        return aware_datetimes
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        return st.one_of(*(_type_strategy(arg) for arg in typing.get_args(annotation)))
    if typing.get_origin(annotation) is tuple:
        item, ellipsis = typing.get_args(annotation)
        assert ellipsis is Ellipsis
        return st.lists(_type_strategy(item), min_size=1, max_size=5).map(tuple)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # Nested value objects (a sheet's cell): their fields' patterns, as for events.
        fields = annotation.model_fields.items()
        return st.builds(annotation, **{n: _field_strategy(f) for n, f in fields})
    return st.from_type(annotation)


def _field_strategy(field: FieldInfo) -> st.SearchStrategy[Any]:
    pattern = next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)
    if pattern == SCHOOL_YEAR_PATTERN:
        return school_years
    if pattern is not None:
        return st.from_regex(pattern, fullmatch=True)
    if field.metadata and typing.get_origin(field.annotation) is not tuple:
        constrained: Any = Annotated[(field.annotation, *field.metadata)]
        return st.from_type(constrained)
    return _type_strategy(field.annotation)


def events_of(cls: type[IntegrationEvent]) -> st.SearchStrategy[IntegrationEvent]:
    return st.builds(
        cls, **{name: _field_strategy(field) for name, field in cls.model_fields.items()}
    )


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(catalogue_docs.render()["asyncapi.yaml"])
    return document


@pytest.fixture(scope="module")
def asyncapi_registry(asyncapi: dict[str, Any]) -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(
        ASYNCAPI_URI, DRAFT202012.create_resource(asyncapi)
    )
    return registry


# --- the committed documents


def test_committed_documents_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    docs = catalogue_docs.find_repo_root() / "docs" / "events"

    stale = catalogue_docs.stale_files(docs, catalogue_docs.render())

    assert stale == [], f"stale event contracts {stale}; run: uv run hsdt-events-catalogue"
    assert catalogue_docs.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_check_fails_and_names_files_when_a_model_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class TermLocked(records_events.TermLocked):
        """A school's term or year was locked, now with a field the documents do not know."""

        event_type: ClassVar[str] = records_events.TermLocked.event_type
        lock_window_id: int = Field(default=0, description="Added after the last generation.")

    changed = tuple(TermLocked if cls is records_events.TermLocked else cls for cls in CATALOGUE)
    catalogue_docs.write(tmp_path, catalogue_docs.render(changed))

    assert catalogue_docs.stale_files(tmp_path, catalogue_docs.render()) == [
        "asyncapi.yaml",
        "schemas/vn.hsdt.records.term.locked.v1.json",
    ]
    assert catalogue_docs.main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "asyncapi.yaml" in err
    assert "vn.hsdt.records.term.locked.v1.json" in err


def test_an_event_dropped_from_the_catalogue_leaves_a_stale_schema(tmp_path: Path) -> None:
    catalogue_docs.write(tmp_path, catalogue_docs.render())
    (tmp_path / "README.md").write_text("hand-written\n")
    dropped = CATALOGUE[-1]

    changed = catalogue_docs.write(tmp_path, catalogue_docs.render(CATALOGUE[:-1]))

    assert f"schemas/{dropped.event_type}.json" in changed
    assert not (tmp_path / "schemas" / f"{dropped.event_type}.json").exists()
    assert (tmp_path / "README.md").read_text() == "hand-written\n"


def test_regenerating_an_unchanged_catalogue_gives_identical_bytes(tmp_path: Path) -> None:
    assert catalogue_docs.render() == catalogue_docs.render()
    assert catalogue_docs.main(["--out", str(tmp_path)]) == 0

    assert catalogue_docs.write(tmp_path, catalogue_docs.render()) == []
    assert catalogue_docs.main(["--check", "--out", str(tmp_path)]) == 0


def test_repo_root_is_the_directory_holding_uv_lock(tmp_path: Path) -> None:
    assert (catalogue_docs.find_repo_root() / "uv.lock").is_file()
    with pytest.raises(FileNotFoundError, match="--out"):
        catalogue_docs.find_repo_root(tmp_path)


# --- the catalogue itself


@each_event
def test_event_type_follows_the_naming_pattern(cls: type[IntegrationEvent]) -> None:
    assert TYPE_PATTERN.match(cls.event_type), cls.event_type
    assert cls.__module__ == f"common.events.{cls.source_service()}"
    assert cls.subject_field in cls.model_fields


def test_event_types_and_names_are_unique() -> None:
    types_ = [cls.event_type for cls in CATALOGUE]
    assert len(set(types_)) == len(types_) == 22
    assert len({cls.__name__ for cls in CATALOGUE}) == len(CATALOGUE)
    with pytest.raises(ValueError, match="declared by both"):
        index_by_type((*CATALOGUE, CATALOGUE[0]))


def test_every_event_model_in_the_package_is_catalogued() -> None:
    def subclasses(cls: type[IntegrationEvent]) -> set[type[IntegrationEvent]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    declared = {
        cls
        for cls in subclasses(IntegrationEvent)
        if cls.__module__.startswith("common.events.") and "event_type" in cls.__dict__
    }
    assert declared == set(CATALOGUE)


@each_event
def test_event_class_finds_each_type(cls: type[IntegrationEvent]) -> None:
    assert event_class(cls.event_type) is cls


def test_an_unknown_type_is_a_clear_key_error() -> None:
    with pytest.raises(KeyError) as raised:
        event_class("vn.hsdt.records.term.exploded.v1")

    assert isinstance(raised.value, UnknownEventTypeError)
    assert str(raised.value) == (
        "unknown event type 'vn.hsdt.records.term.exploded.v1': "
        "no model in the catalogue declares it"
    )


@each_event
def test_models_are_frozen_tolerant_and_self_documenting(cls: type[IntegrationEvent]) -> None:
    assert cls.model_config.get("frozen") is True
    assert cls.model_config.get("extra") == "ignore"
    assert "Published" in (inspect.getdoc(cls) or "")
    for name, field in cls.model_fields.items():
        assert field.description, f"{cls.__name__}.{name} has no description"
        assert field.annotation is not datetime, f"{cls.__name__}.{name} must be AwareDatetime"


@each_event
def test_events_carry_no_personal_data_beyond_ids(cls: type[IntegrationEvent]) -> None:
    for name, field in cls.model_fields.items():
        # An institution's official name (Trường THCS Lê Quý Đôn) is public; archive prints it.
        institution = (cls.__name__, name) == ("OrgUnitCreated", "name")
        assert institution or not PERSONAL_WORDS & set(name.split("_")), f"{cls.__name__}.{name}"
        free_text = field.annotation is str and not any(
            getattr(m, "pattern", None) for m in field.metadata
        )
        if free_text:
            assert (cls.__name__, name) in FREE_TEXT_ALLOWED, f"{cls.__name__}.{name} is free text"


@each_event
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_frozen_event_refuses_changes(cls: type[IntegrationEvent], data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    with pytest.raises(ValidationError):
        setattr(event, cls.subject_field, None)


def test_school_years_span_consecutive_years() -> None:
    with pytest.raises(ValidationError, match="consecutive"):
        records_events.TermReopened.model_validate({"school_year": "2025-2027"})
    with pytest.raises(ValidationError, match="pattern"):
        records_events.TermReopened.model_validate({"school_year": "٢٠٢٥-٢٠٢٦"})


# --- round trips through the envelope, checked against the published documents


@each_event
@PROPERTY_SETTINGS
@given(data=st.data())
def test_every_event_survives_the_envelope(
    cls: type[IntegrationEvent],
    data: st.DataObject,
    asyncapi_registry: Registry[Any],
) -> None:
    event = data.draw(events_of(cls))
    envelope = CloudEvent.wrap(
        event,
        source=f"hsdt.{cls.source_service()}",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        sequence=f"{data.draw(st.integers(1, 10**12)):020d}",
    )

    body = envelope.to_json()
    received = CloudEvent.from_json(body)
    decoded = event_class(received.type).model_validate(received.data)

    assert decoded == event
    assert received.subject == str(getattr(event, cls.subject_field))
    Draft202012Validator(catalogue_docs.event_schema(cls)).validate(received.data)
    payload_ref = f"{ASYNCAPI_URI}#/components/messages/{cls.__name__}/payload"
    Draft202012Validator({"$ref": payload_ref}, registry=asyncapi_registry).validate(
        json.loads(body)
    )


@each_event
@PROPERTY_SETTINGS
@given(data=st.data())
def test_unknown_fields_in_incoming_data_are_ignored(
    cls: type[IntegrationEvent], data: st.DataObject
) -> None:
    event = data.draw(events_of(cls))
    incoming = event.model_dump(mode="json") | {
        "added_in_a_later_minor": {"nested": [1, 2]},
        "reason_text": "from a newer producer",
    }

    decoded = cls.model_validate(incoming)

    assert decoded == event
    assert "added_in_a_later_minor" not in decoded.model_dump()


# --- the AsyncAPI document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert key in node, f"{ref} does not resolve"
        node = node[key]
    return node


def test_asyncapi_document_is_structurally_valid(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] == "HSĐT events"
    assert asyncapi["servers"]["rabbitmq"]["protocol"] == "amqp"
    assert set(asyncapi["channels"]) == {cls.event_type for cls in CATALOGUE}
    for ref in _refs(asyncapi):
        _resolve(asyncapi, ref)

    operations_by_channel = {op["channel"]["$ref"]: op for op in asyncapi["operations"].values()}
    for address, channel in asyncapi["channels"].items():
        assert channel["address"] == address
        exchange = channel["bindings"]["amqp"]["exchange"]
        assert (exchange["name"], exchange["type"], exchange["durable"]) == (
            "hsdt.events",
            "topic",
            True,
        )
        operation = operations_by_channel[f"#/channels/{address}"]
        assert operation["action"] == "send"
        assert operation["bindings"]["amqp"]["deliveryMode"] == 2
        for message_ref in operation["messages"]:
            assert message_ref["$ref"].startswith(f"#/channels/{address}/messages/")


def test_asyncapi_messages_carry_the_event_schema_as_data(asyncapi: dict[str, Any]) -> None:
    for cls in CATALOGUE:
        message = asyncapi["components"]["messages"][cls.__name__]
        envelope, specific = message["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
        assert specific["properties"]["type"] == {"const": cls.event_type}
        assert specific["properties"]["data"] == {"$ref": f"#/components/schemas/{cls.__name__}"}


@each_event
def test_published_json_schema_is_valid_draft_2020_12(cls: type[IntegrationEvent]) -> None:
    schema = json.loads(catalogue_docs.render()[f"schemas/{cls.event_type}.json"])

    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(cls.event_type)
    assert schema["title"] == cls.__name__
    assert schema["description"]
