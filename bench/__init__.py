"""Benchmarks of the platform, reported as ratios against raw baselines measured in the same run.

``python -m bench.events`` measures the event pipeline (UnitOfWork → outbox → relay → consumer)
against bare aio-pika and bare asyncpg; see docs/benchmarks.md.
"""
