"""The events the archive service handles: one list per service (eShop)."""

from __future__ import annotations

from archive.copies import record_org_unit
from archive.pipeline import (
    record_correction_applied,
    record_signing_completed,
    record_signing_refused,
    record_term_locked,
)
from common.events.identity import OrgUnitCreated
from common.events.records import CorrectionApplied, TermLocked
from common.events.signing import SigningRequestCompleted, SigningRequestRefused
from common.messaging.consumer import Subscriptions

SUBSCRIPTIONS: Subscriptions = {
    OrgUnitCreated: [record_org_unit],
    TermLocked: [record_term_locked],
    CorrectionApplied: [record_correction_applied],
    SigningRequestCompleted: [record_signing_completed],
    SigningRequestRefused: [record_signing_refused],
}
