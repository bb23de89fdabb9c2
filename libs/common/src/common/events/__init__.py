"""The event envelope and the typed catalogue of integration events."""

from common.events.base import CloudEvent, IntegrationEvent

__all__ = ["CloudEvent", "IntegrationEvent"]
