"""The shared runtime of every HSĐT service.

Each part is used by every service the same way: settings, logging, telemetry, the database,
the event envelope and catalogue, the outbox and its relay, the consumer runtime, token
verification, problem details and health.
"""
