"""The signer chain's rules (R21, R22, DOMAIN §6.2): the order of roles, the seal last, whose
turn it is — worked cases, then properties over generated chains."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.events.archive import DocumentKind
from common.events.signing import SignerRole
from signing.domain.chain import (
    DEFAULT_CHAINS,
    ROLE_ORDER,
    ChainRule,
    PlannedSigner,
    RequestState,
    Step,
    StepState,
    TurnError,
    check_chain,
    current_step,
    turn_of,
)

S, H, L, SEAL = (
    SignerRole.SUBJECT_TEACHER,
    SignerRole.HOMEROOM_TEACHER,
    SignerRole.SCHOOL_LEADER,
    SignerRole.SCHOOL_SEAL,
)
FULL = DEFAULT_CHAINS[DocumentKind.TRANSCRIPT]


def planned(*roles: SignerRole) -> list[PlannedSigner]:
    return [
        PlannedSigner(r, None if r is SEAL else uuid.uuid4(), f"F{i}") for i, r in enumerate(roles)
    ]


def codes(signers: list[PlannedSigner], rule: ChainRule = FULL) -> set[str]:
    return {i.code for i in check_chain(signers, rule)}


def test_a_transcript_with_two_subject_teachers_then_the_rest_is_fine() -> None:
    assert check_chain(planned(S, S, H, L, SEAL), FULL) == []


@pytest.mark.parametrize(
    ("roles", "code"),
    [
        ((H, S, L, SEAL), "out-of-order"),
        ((S, H, L), "role-missing"),  # no seal: no legal value (DOMAIN §6.2)
        ((S, H, SEAL, L), "out-of-order"),  # the seal is last
        ((S, H, L, SEAL, SEAL), "seal-twice"),
    ],
)
def test_chains_against_the_rule_are_refused(roles: tuple[SignerRole, ...], code: str) -> None:
    assert code in codes(planned(*roles))


def test_a_province_that_drops_subject_teachers_refuses_them() -> None:
    rule = ChainRule.of([SEAL, H, L])  # given in any order, kept in the standard one
    assert rule.roles == (H, L, SEAL)
    assert "role-not-in-chain" in codes(planned(S, H, L, SEAL), rule)
    assert check_chain(planned(H, L, SEAL), rule) == []


def test_people_fields_and_the_seal_are_checked() -> None:
    person = uuid.uuid4()
    twice = [PlannedSigner(S, person, "A"), PlannedSigner(S, person, "B")]
    assert "duplicate-signer" in codes([*twice, *planned(H, L, SEAL)])
    same_field = [PlannedSigner(S, uuid.uuid4(), "A"), PlannedSigner(H, uuid.uuid4(), "A")]
    assert "duplicate-field" in codes([*same_field, *planned(L, SEAL)])
    assert "seal-has-no-person" in codes(
        [*planned(S, H, L), PlannedSigner(SEAL, uuid.uuid4(), "Z")]
    )
    assert "signer-required" in codes([PlannedSigner(S, None, "A"), *planned(H, L, SEAL)])


def steps_of(signers: list[PlannedSigner], signed: int) -> list[Step]:
    return [
        Step(i, s.role, s.user_id, StepState.SIGNED if i <= signed else StepState.WAITING)
        for i, s in enumerate(signers, start=1)
    ]


def test_only_the_current_place_signs() -> None:
    signers = planned(S, H, L, SEAL)
    steps = steps_of(signers, 1)
    homeroom, leader = signers[1].user_id, signers[2].user_id
    assert homeroom is not None
    assert leader is not None
    assert turn_of(RequestState.OPEN, steps, homeroom, may_seal=False).position == 2
    with pytest.raises(TurnError) as early:
        turn_of(RequestState.OPEN, steps, leader, may_seal=True)
    assert early.value.code == "not-your-turn"
    with pytest.raises(TurnError) as outsider:
        turn_of(RequestState.OPEN, steps, uuid.uuid4(), may_seal=False)
    assert outsider.value.code == "not-a-signer"
    # The seal's turn: a leader applies it, a teacher does not.
    at_seal = steps_of(signers, 3)
    assert turn_of(RequestState.OPEN, at_seal, uuid.uuid4(), may_seal=True).role is SEAL
    with pytest.raises(TurnError):
        turn_of(RequestState.OPEN, at_seal, homeroom, may_seal=False)
    with pytest.raises(TurnError) as refused:
        turn_of(RequestState.REFUSED, steps, homeroom, may_seal=False)
    assert refused.value.code == "request-refused"


chains = st.lists(st.sampled_from([S, H, L]), min_size=1, max_size=8).map(
    lambda roles: [*sorted(roles, key=ROLE_ORDER.index), SEAL]
)


@given(chains, st.data())
def test_any_chain_in_order_is_fine_and_any_swap_of_roles_is_not(
    roles: list[SignerRole], data: st.DataObject
) -> None:
    signers = planned(*roles)
    rule = ChainRule.of(roles)
    assert check_chain(signers, rule) == []
    i = data.draw(st.integers(0, len(signers) - 2))
    if ROLE_ORDER.index(roles[i]) < ROLE_ORDER.index(roles[i + 1]):
        swapped = [*signers[:i], signers[i + 1], signers[i], *signers[i + 2 :]]
        assert "out-of-order" in codes(swapped, rule)


@given(chains, st.data())
def test_exactly_one_person_may_act_at_any_point(
    roles: list[SignerRole], data: st.DataObject
) -> None:
    signers = planned(*roles)
    signed = data.draw(st.integers(0, len(signers) - 1))
    steps = steps_of(signers, signed)
    current = current_step(steps)
    assert current is not None
    assert current.position == signed + 1
    allowed = []
    for s in signers:
        if s.user_id is None:
            continue
        try:
            turn_of(RequestState.OPEN, steps, s.user_id, may_seal=False)
        except TurnError:
            continue
        allowed.append(s.user_id)
    expected = [] if current.role is SEAL else [current.user_id]
    assert allowed == expected
