"""The one error type of the records domain: a stable English code and a Vietnamese title.

Handlers turn a ``DomainError`` into a problem+json answer; the code is what clients and tests
match on, the title is what a person reads.
"""

from __future__ import annotations


class DomainError(Exception):
    """A domain rule refused an input or a state change."""

    def __init__(self, code: str, title_vi: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or title_vi}")
        self.code = code
        self.title_vi = title_vi
        self.detail = detail
