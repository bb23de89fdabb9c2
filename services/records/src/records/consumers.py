"""The events the records service handles: one list per service (eShop)."""

from __future__ import annotations

from common.events.attendance import MonthClosed
from common.events.identity import OrgUnitCreated
from common.messaging.consumer import Subscriptions
from records.handlers.attendance import record_month_closed
from records.handlers.calendar import record_org_unit

SUBSCRIPTIONS: Subscriptions = {
    OrgUnitCreated: [record_org_unit],
    MonthClosed: [record_month_closed],
}
