"""Metric instruments shared by every service's messaging code.

The instruments come from the global OpenTelemetry meter. They may be created before
``setup_telemetry`` runs: the API hands out proxies that start recording once the real
``MeterProvider`` is set, and until then a call costs one attribute check. Callers pass a small
attribute dict, e.g. ``metrics.events_published.add(n, {"event_type": t})``; keep label values
low-cardinality (event types, outcomes, queue names — never ids).
"""

from __future__ import annotations

from typing import Final

from opentelemetry import metrics

METER_NAME: Final = "hsdt.common"

# Seconds; from a fast in-memory handler (~1 ms) to a slow rendering or signing job.
DURATION_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
# Seconds from an event's ``time`` to its handling: retries and back-off push it to minutes.
LAG_BUCKETS: Final = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

_meter = metrics.get_meter(METER_NAME)

# Rows in the outbox not yet published; the relay sets it after each poll. Attributes: service.
outbox_backlog: Final = _meter.create_gauge(
    "hsdt.outbox.backlog",
    unit="{event}",
    description="Events written to the outbox and not yet published",
)
# Attributes: event_type.
events_published: Final = _meter.create_counter(
    "hsdt.events.published",
    unit="{event}",
    description="Events published to the broker and confirmed",
)
# Attributes: event_type, queue, outcome ("ok", "retry", "dead_letter", "duplicate").
events_consumed: Final = _meter.create_counter(
    "hsdt.events.consumed",
    unit="{event}",
    description="Events taken from a queue, by outcome",
)
# Attributes: event_type, queue.
dead_letters: Final = _meter.create_counter(
    "hsdt.events.dead_letters",
    unit="{event}",
    description="Events moved to a dead-letter queue after the last retry",
)
# Attributes: event_type, queue, outcome.
consumer_duration: Final = _meter.create_histogram(
    "hsdt.consumer.duration",
    unit="s",
    description="Time a consumer spent handling one event",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
)
# Attributes: event_type, queue. Consumer lag as seen by the consumer.
event_lag: Final = _meter.create_histogram(
    "hsdt.events.lag",
    unit="s",
    description="Time from an event's creation to the start of its handling",
    explicit_bucket_boundaries_advisory=LAG_BUCKETS,
)

__all__ = [
    "consumer_duration",
    "dead_letters",
    "event_lag",
    "events_consumed",
    "events_published",
    "outbox_backlog",
]
