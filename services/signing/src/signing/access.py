"""Who may call what in signing: the role at a scope, then the request's own check.

``ENDPOINT_RULES`` is the one table of it; the authorization-matrix test generates its cases
from it. On top of the role, a signing request knows its signers: a teacher sees only requests
they are in the chain of, and signs or refuses only at their turn (``signing.domain.chain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from common.access import Actor, Forbidden
from common.events.identity import Role

SCHOOL_KEEPERS: Final = frozenset({Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN})
SUPERVISORS: Final = frozenset(
    {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}
)
INSPECTORS: Final = frozenset({Role.PROVINCE_INSPECTOR, Role.DISTRICT_INSPECTOR})
READERS: Final = SUPERVISORS | SCHOOL_KEEPERS
SIGNERS: Final = frozenset({Role.TEACHER, Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN, Role.STAFF})
SCHOOL_STAFF: Final = READERS | {Role.TEACHER, Role.STAFF}
# The archive's platform client (archivist at the province), acting for the leader who locked
# the term (R23: the writes are theirs): opens and restarts the requests of the documents it
# rendered and reads them back. It never signs, refuses or batches: it is no signer.
ARCHIVIST: Final = frozenset({Role.ARCHIVIST})
# Includes the archivist: the province's chains say whom a request must name.
ANY_ROLE: Final = frozenset(Role)


class Owner(StrEnum):
    NONE = "none"
    # Readers see every request of their scope; a teacher or staff member only those whose
    # chain names them.
    IN_CHAIN = "in_chain"
    # Only the signer whose turn it is (or the school leader for the seal).
    TURN = "turn"


class Scope(StrEnum):
    SCHOOL = "school"  # a grant at the resource's school or above it
    UNIT = "unit"  # a grant at the unit the request names, or above it
    PROVINCE = "province"  # any grant in the resource's province
    MINE = "mine"  # any grant at all
    PUBLIC = "public"  # no token: anyone holding a document may validate it


@dataclass(frozen=True, slots=True)
class EndpointRule:
    roles: frozenset[Role]
    scope: Scope
    owner: Owner
    writes: bool


R = EndpointRule
ENDPOINT_RULES: Final[dict[tuple[str, str], EndpointRule]] = {
    # The province's signer chain per kind of document.
    ("GET", "/provinces/{province_id}/signer-chains"): R(
        ANY_ROLE, Scope.PROVINCE, Owner.NONE, False
    ),
    ("PUT", "/provinces/{province_id}/signer-chains/{kind}"): R(
        frozenset({Role.PROVINCE_ADMIN}), Scope.UNIT, Owner.NONE, True
    ),
    # Certificates of a school's signers and its organisation certificate (the seal).
    ("GET", "/schools/{school_id}/certificates"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
    ("PUT", "/schools/{school_id}/certificates/people/{user_id}"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True
    ),
    ("PUT", "/schools/{school_id}/certificates/seal"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True
    ),
    # Signing requests: opened by the school's board, or by the archive acting for it.
    ("POST", "/signing-requests"): R(SCHOOL_KEEPERS | ARCHIVIST, Scope.SCHOOL, Owner.NONE, True),
    ("GET", "/signing-requests"): R(SCHOOL_STAFF | ARCHIVIST, Scope.SCHOOL, Owner.IN_CHAIN, False),
    ("GET", "/signing-requests/{request_id}"): R(
        SCHOOL_STAFF | ARCHIVIST, Scope.SCHOOL, Owner.IN_CHAIN, False
    ),
    ("GET", "/signing-requests/{request_id}/document"): R(
        SCHOOL_STAFF | ARCHIVIST, Scope.SCHOOL, Owner.IN_CHAIN, False
    ),
    ("POST", "/signing-requests/{request_id}/sign"): R(SIGNERS, Scope.SCHOOL, Owner.TURN, True),
    ("POST", "/signing-requests/{request_id}/external-signatures"): R(
        SIGNERS, Scope.SCHOOL, Owner.TURN, True
    ),
    ("POST", "/signing-requests/{request_id}/external-signatures/{session_id}"): R(
        SIGNERS, Scope.SCHOOL, Owner.TURN, True
    ),
    ("POST", "/signing-requests/{request_id}/refuse"): R(SIGNERS, Scope.SCHOOL, Owner.TURN, True),
    ("POST", "/signing-requests/{request_id}/restart"): R(
        SCHOOL_KEEPERS | ARCHIVIST, Scope.SCHOOL, Owner.NONE, True
    ),
    # Batch signing: everything waiting for the caller in a class or a school.
    ("POST", "/signing-batches"): R(SIGNERS, Scope.SCHOOL, Owner.NONE, True),
    ("GET", "/signing-batches/{batch_id}"): R(SIGNERS, Scope.MINE, Owner.NONE, False),
    # Anyone holding an exported PDF may check it.
    ("POST", "/validation"): R(frozenset(), Scope.PUBLIC, Owner.NONE, False),
}
del R
# Inspectors read, never write: checked once here rather than trusted to every row.
assert all(not (rule.roles & INSPECTORS) for rule in ENDPOINT_RULES.values() if rule.writes)
# The archive is no signer: nothing that signs, refuses or batches admits it.
assert all(
    Role.ARCHIVIST not in rule.roles
    for rule in ENDPOINT_RULES.values()
    if rule.owner is Owner.TURN or rule.roles == SIGNERS
)


def rule(method: str, path: str) -> EndpointRule:
    return ENDPOINT_RULES[(method, path)]


def not_in_chain() -> Forbidden:
    return Forbidden(
        "Only the request's signers and the school's board see it",
        code="not-in-chain",
        title="Bạn không có trong chuỗi ký của tài liệu này",
    )


__all__ = ["ENDPOINT_RULES", "Actor", "EndpointRule", "Forbidden", "Owner", "Scope", "rule"]
