"""The events the signing service handles: one list per service (eShop)."""

from __future__ import annotations

from common.events.identity import OrgUnitCreated
from common.messaging.consumer import Subscriptions
from signing.handlers.copies import record_org_unit

SUBSCRIPTIONS: Subscriptions = {
    OrgUnitCreated: [record_org_unit],
}
