"""Use cases of the attendance service: each opens the unit of work, checks, writes, emits."""
