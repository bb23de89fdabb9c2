"""Events on the bus: topology, the outbox relay, the consumer runtime, dead letters."""
