"""Integration events and their CloudEvents 1.0 envelope (structured JSON mode).

An integration event is the published contract between services: a frozen Pydantic model whose
class carries its versioned type (``vn.hsdt.records.term.locked.v1``). Consumers read tolerantly
(unknown fields are ignored); a breaking change is a new class with a ``.v2`` type.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

EVENT_TYPE_PATTERN = re.compile(r"^vn\.hsdt\.[a-z]+\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$")


class IntegrationEvent(BaseModel):
    """Base of every published event; subclasses set ``event_type`` and ``subject_field``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    # Name of the field that identifies the aggregate; it becomes the CloudEvent ``subject`` and
    # keys the per-aggregate ``sequence``.
    subject_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is not None and not EVENT_TYPE_PATTERN.match(event_type):
            raise ValueError(
                f"{cls.__name__}: event type {event_type!r} is not "
                "vn.hsdt.<service>.<entity>.<action>.v<N>"
            )

    @property
    def subject(self) -> str:
        return str(getattr(self, self.subject_field))

    @classmethod
    def source_service(cls) -> str:
        return cls.event_type.split(".")[2]


class CloudEvent(BaseModel):
    """The CloudEvents 1.0 envelope as it travels on the bus (structured content mode)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    traceparent: str | None = None
    tracestate: str | None = None
    # Relative order among this producer's events (CloudEvents ``sequence`` extension): a
    # zero-padded decimal string, so that comparing strings compares numbers.
    sequence: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: IntegrationEvent,
        *,
        source: str,
        event_id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        sequence: str | None = None,
    ) -> Self:
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=event.event_type,
            subject=event.subject,
            time=time or datetime.now(UTC),
            traceparent=traceparent,
            tracestate=tracestate,
            sequence=sequence,
            data=event.model_dump(mode="json"),
        )

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Self:
        return cls.model_validate_json(body)
