"""The envelope the relay sends: sequence and trace fields, without a full parse per event."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.events.base import CloudEvent, IntegrationEvent
from common.messaging.relay import _trace_carrier, with_sequence
from common.messaging.topology import retry_queue_name


class Noted(IntegrationEvent):
    event_type = "vn.hsdt.test.note.written.v1"
    subject_field = "note_id"
    note_id: str
    text: str


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)


@given(
    text=texts,
    sequence=st.integers(min_value=1, max_value=2**63 - 1),
    traceparent=st.one_of(
        st.none(), st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ),
)
def test_sequence_is_added_to_any_envelope_and_orders_as_numbers(
    text: str, sequence: int, traceparent: str | None
) -> None:
    body = CloudEvent.wrap(
        Noted(note_id="n1", text=text), source="test", traceparent=traceparent
    ).to_json()
    sent = json.loads(with_sequence(body, sequence))
    assert sent["sequence"] == f"{sequence:020d}"
    assert sent["data"]["text"] == text
    assert CloudEvent.from_json(with_sequence(body, sequence)).sequence == sent["sequence"]
    assert _trace_carrier(body) == ({"traceparent": traceparent} if traceparent else {})


@given(a=st.integers(min_value=1, max_value=10**18), b=st.integers(min_value=1, max_value=10**18))
def test_sequence_strings_compare_like_their_numbers(a: int, b: int) -> None:
    assert (f"{a:020d}" < f"{b:020d}") == (a < b)


def test_trace_carrier_ignores_lookalike_text_in_data() -> None:
    # The envelope's own traceparent comes before data, so text inside data is never taken.
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = CloudEvent.wrap(
        Noted(note_id="n", text='"traceparent":"evil"'), source="t", traceparent=tp
    ).to_json()
    assert _trace_carrier(body)["traceparent"] == tp


def test_envelope_without_trace_has_no_carrier() -> None:
    body = CloudEvent.wrap(Noted(note_id="n", text='"traceparent":"x"'), source="t").to_json()
    # data text is escaped inside a JSON string, so it never looks like the attribute.
    assert _trace_carrier(body) == {}


def test_event_type_must_follow_the_naming_rule() -> None:
    with pytest.raises(ValueError, match=r"vn\.hsdt"):

        class Bad(IntegrationEvent):
            event_type = "records.term.locked"
            subject_field = "x"


def test_events_are_frozen_and_tolerant() -> None:
    event = Noted.model_validate({"note_id": "n", "text": "t", "added_later": 1})
    assert not hasattr(event, "added_later")
    with pytest.raises(ValueError, match="frozen"):
        event.text = "changed"  # type: ignore[misc]


def test_retry_queues_are_named_by_their_delay() -> None:
    assert retry_queue_name("archive", 0.05) == "archive.retry.50ms"
    assert retry_queue_name("archive", 60) == "archive.retry.60000ms"
