"""The events the records service handles: one list per service (eShop)."""

from __future__ import annotations

from common.messaging.consumer import Subscriptions

SUBSCRIPTIONS: Subscriptions = {}
