"""The events the attendance service handles: one list per service (eShop)."""

from __future__ import annotations

from attendance.handlers.copies import record_org_unit, record_roster, record_school_year
from common.events.identity import OrgUnitCreated
from common.events.records import ClassRosterChanged, SchoolYearScheduled
from common.messaging.consumer import Subscriptions

SUBSCRIPTIONS: Subscriptions = {
    OrgUnitCreated: [record_org_unit],
    SchoolYearScheduled: [record_school_year],
    ClassRosterChanged: [record_roster],
}
