"""Every published integration event, and the lookup from a CloudEvent ``type`` to its model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from common.events.archive import FixityFailed, PackageStored
from common.events.attendance import (
    MonthClosed,
    RollCallLate,
    RollCallMissing,
    RollCallSubmitted,
)
from common.events.base import IntegrationEvent
from common.events.identity import GrantChanged, OrgUnitCreated, UserCreated, UserDisabled
from common.events.records import (
    AssessmentChanged,
    ClassCreated,
    ClassRosterChanged,
    CorrectionApplied,
    ResultsApproved,
    SchoolYearScheduled,
    StudentTransferred,
    TermLocked,
    TermReopened,
)
from common.events.signing import (
    DocumentSigned,
    SigningRequestCompleted,
    SigningRequestRefused,
)

# Bump the minor version when an event or a field is added, the major one never: a breaking
# change is a new ``.vN`` type beside the old one. The AsyncAPI document carries this version.
CATALOGUE_VERSION = "1.7.0"

CATALOGUE: tuple[type[IntegrationEvent], ...] = (
    UserCreated,
    UserDisabled,
    GrantChanged,
    OrgUnitCreated,
    TermLocked,
    TermReopened,
    CorrectionApplied,
    StudentTransferred,
    ClassCreated,
    AssessmentChanged,
    ResultsApproved,
    ClassRosterChanged,
    SchoolYearScheduled,
    RollCallSubmitted,
    RollCallLate,
    RollCallMissing,
    MonthClosed,
    DocumentSigned,
    SigningRequestCompleted,
    SigningRequestRefused,
    PackageStored,
    FixityFailed,
)


class UnknownEventTypeError(KeyError):
    """A CloudEvent ``type`` that no model in the catalogue declares."""

    def __init__(self, event_type: str) -> None:
        super().__init__(event_type)
        self.event_type = event_type

    def __str__(self) -> str:
        return f"unknown event type {self.event_type!r}: no model in the catalogue declares it"


def index_by_type(
    events: Iterable[type[IntegrationEvent]],
) -> Mapping[str, type[IntegrationEvent]]:
    """Map each event type to its model, refusing duplicates and broken declarations.

    Class names must be unique too: the generated documents name schemas and messages by them.
    """
    by_type: dict[str, type[IntegrationEvent]] = {}
    names: set[str] = set()
    for cls in events:
        event_type = cls.__dict__.get("event_type")
        if not isinstance(event_type, str):
            raise TypeError(f"{cls.__qualname__} declares no event_type of its own")
        if cls.subject_field not in cls.model_fields:
            raise ValueError(f"{cls.__qualname__}: subject_field {cls.subject_field!r} is no field")
        if event_type in by_type:
            raise ValueError(
                f"event type {event_type!r} is declared by both "
                f"{by_type[event_type].__qualname__} and {cls.__qualname__}"
            )
        if cls.__name__ in names:
            raise ValueError(f"two events in the catalogue are named {cls.__name__}")
        by_type[event_type] = cls
        names.add(cls.__name__)
    return MappingProxyType(by_type)


_BY_TYPE = index_by_type(CATALOGUE)


def event_class(event_type: str) -> type[IntegrationEvent]:
    """The model of ``event_type``; raises ``UnknownEventTypeError`` (a ``KeyError``)."""
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None
