"""The signer chain of a document and the order its signatures are collected in.

DOMAIN §6.2 and R21–R22: subject teachers sign their subject's results, the homeroom teacher the
class's, the school leader confirms, and the school's organisation certificate (the seal) comes
last. Which of these a kind of document needs varies by province (whether every subject teacher
signs a transcript, for instance), so a province sets a ``ChainRule`` per document kind and a
request's signers are checked against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from common.events.archive import DocumentKind
from common.events.signing import SignerRole

# The order roles take in every chain; a province chooses which of them a kind needs.
ROLE_ORDER: tuple[SignerRole, ...] = (
    SignerRole.SUBJECT_TEACHER,
    SignerRole.HOMEROOM_TEACHER,
    SignerRole.SCHOOL_LEADER,
    SignerRole.SCHOOL_SEAL,
)

ROLE_LABELS_VI: dict[SignerRole, str] = {
    SignerRole.SUBJECT_TEACHER: "Giáo viên bộ môn",
    SignerRole.HOMEROOM_TEACHER: "Giáo viên chủ nhiệm",
    SignerRole.SCHOOL_LEADER: "Hiệu trưởng",
    SignerRole.SCHOOL_SEAL: "Chữ ký số của nhà trường",
}


@dataclass(frozen=True, slots=True)
class ChainRule:
    """The roles a kind of document is signed by, in ``ROLE_ORDER``."""

    roles: tuple[SignerRole, ...]

    @classmethod
    def of(cls, roles: Sequence[SignerRole]) -> ChainRule:
        unique = set(roles)
        return cls(tuple(r for r in ROLE_ORDER if r in unique))


# The defaults until a province sets its own (Bình Phước's: everyone signs, R21 "required").
DEFAULT_CHAINS: dict[DocumentKind, ChainRule] = {
    DocumentKind.TRANSCRIPT: ChainRule(ROLE_ORDER),
    DocumentKind.TRACKING_BOOK: ChainRule(ROLE_ORDER),
    DocumentKind.CLASS_SUMMARY: ChainRule(ROLE_ORDER),
    DocumentKind.CLASS_LOG: ChainRule(
        (SignerRole.HOMEROOM_TEACHER, SignerRole.SCHOOL_LEADER, SignerRole.SCHOOL_SEAL)
    ),
    DocumentKind.TEACHING_PLAN: ChainRule(
        (SignerRole.SUBJECT_TEACHER, SignerRole.SCHOOL_LEADER, SignerRole.SCHOOL_SEAL)
    ),
}


@dataclass(frozen=True, slots=True)
class PlannedSigner:
    """One place in a request's chain: a person (``user_id``) or the school's seal."""

    role: SignerRole
    user_id: uuid.UUID | None
    field: str


@dataclass(frozen=True, slots=True)
class ChainIssue:
    index: int | None
    code: str
    message_vi: str


def check_chain(signers: Sequence[PlannedSigner], rule: ChainRule) -> list[ChainIssue]:
    """Every problem of a request's signer list against the province's rule (empty: fine).

    The roles must follow ``ROLE_ORDER``, each role of the rule must appear, no other role may;
    the seal is one place with no person, everyone else is a named person, and field names are
    unique in the document.
    """
    issues: list[ChainIssue] = []
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    fields: set[str] = set()
    people: set[tuple[SignerRole, uuid.UUID]] = set()
    for i, signer in enumerate(signers):
        if signer.role not in rule.roles:
            issues.append(
                ChainIssue(i, "role-not-in-chain", f"Vai trò {signer.role} không có trong chuỗi ký")
            )
        if i and rank[signer.role] < rank[signers[i - 1].role]:
            issues.append(ChainIssue(i, "out-of-order", "Thứ tự người ký không đúng quy định"))
        if signer.role is SignerRole.SCHOOL_SEAL:
            if signer.user_id is not None:
                issues.append(
                    ChainIssue(
                        i, "seal-has-no-person", "Chữ ký số của nhà trường không gắn với người"
                    )
                )
        elif signer.user_id is None:
            issues.append(ChainIssue(i, "signer-required", "Thiếu người ký"))
        elif (signer.role, signer.user_id) in people:
            issues.append(ChainIssue(i, "duplicate-signer", "Một người ký hai lần cùng vai trò"))
        else:
            people.add((signer.role, signer.user_id))
        if signer.field in fields:
            issues.append(ChainIssue(i, "duplicate-field", f"Trường ký {signer.field} bị trùng"))
        fields.add(signer.field)
    present = {s.role for s in signers}
    issues.extend(
        ChainIssue(None, "role-missing", f"Thiếu {ROLE_LABELS_VI[role].lower()} trong chuỗi ký")
        for role in rule.roles
        if role not in present
    )
    if sum(s.role is SignerRole.SCHOOL_SEAL for s in signers) > 1:
        issues.append(ChainIssue(None, "seal-twice", "Chữ ký số của nhà trường chỉ có một"))
    return issues


class StepState(StrEnum):
    WAITING = "waiting"
    SIGNED = "signed"
    REFUSED = "refused"


class RequestState(StrEnum):
    OPEN = "open"  # collecting signatures in order
    REFUSED = "refused"  # a signer refused; waits for the owner to fix and restart it
    COMPLETED = "completed"  # every signature is in and the document is B-LTA
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Step:
    position: int  # from 1
    role: SignerRole
    user_id: uuid.UUID | None
    state: StepState


class TurnError(Exception):
    def __init__(self, code: str, message_vi: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message_vi = message_vi
        self.detail = detail


def current_step(steps: Sequence[Step]) -> Step | None:
    """The first place still waiting, in chain order; None when every signature is in."""
    for step in sorted(steps, key=lambda s: s.position):
        if step.state is not StepState.SIGNED:
            return step
    return None


def turn_of(
    state: RequestState,
    steps: Sequence[Step],
    user_id: uuid.UUID,
    *,
    may_seal: bool,
) -> Step:
    """The step ``user_id`` may act on now, or why not.

    A person acts only on the current step: their own place, or the seal when they may apply it
    (the school leader). Out-of-turn signing is refused, not queued: signatures are incremental
    updates, so their order is the document's order.
    """
    if state is RequestState.REFUSED:
        raise TurnError(
            "request-refused",
            "Yêu cầu ký đã bị từ chối, chờ chỉnh sửa",
            "A signer refused; the owner must fix and restart the request",
        )
    if state is not RequestState.OPEN:
        raise TurnError("request-closed", "Yêu cầu ký đã kết thúc", f"The request is {state}")
    step = current_step(steps)
    if step is None:  # pragma: no cover - an open request always has a waiting step
        raise TurnError("request-closed", "Yêu cầu ký đã kết thúc", "Every signature is in")
    mine = step.user_id == user_id or (step.role is SignerRole.SCHOOL_SEAL and may_seal)
    if mine:
        return step
    if any(s.user_id == user_id and s.state is StepState.WAITING for s in steps):
        raise TurnError(
            "not-your-turn",
            "Chưa đến lượt ký của bạn",
            f"Position {step.position} ({step.role}) signs first",
        )
    raise TurnError("not-a-signer", "Bạn không có trong chuỗi ký của tài liệu này", "Not a signer")
