"""Worked examples of roles, effective grants, granting without escalation and the token claim."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from common.auth import Grant as TokenGrant
from common.events.identity import GranteeKind, OrgLevel, Role
from identity.domain import (
    PLATFORM_ROLES,
    ROLE_POLICIES,
    DomainError,
    Grant,
    Grantee,
    GrantRefusedError,
    GroupMembership,
    OrgTree,
    Status,
    any_requires_totp,
    can_grant,
    can_revoke,
    check_grantable_to_people,
    check_role_at,
    compact_grants,
    effective_grants,
    grantable_roles,
    holds_a_role_within,
    is_at_or_below,
    is_platform_role,
    is_role_valid_at,
    requires_totp,
)

NOW = datetime(2025, 9, 5, 7, 30, tzinfo=UTC)
DAY = timedelta(days=1)
ALICE = uuid.UUID(int=1)
BOB = uuid.UUID(int=2)
TEAM_MATHS = uuid.UUID(int=100)  # tổ Toán


def _grant(
    role: Role,
    unit_id: uuid.UUID,
    grantee: Grantee | None = None,
    *,
    valid_from: datetime = NOW - DAY,
    valid_to: datetime | None = None,
) -> Grant:
    return Grant(
        id=uuid.uuid4(),
        role=role,
        unit_id=unit_id,
        grantee=grantee or Grantee.user(ALICE),
        valid_from=valid_from,
        granted_by=BOB,
        valid_to=valid_to,
    )


def _held(
    tree: OrgTree,
    role: Role,
    code: str,
    *,
    valid_from: datetime = NOW - DAY,
    valid_to: datetime | None = None,
) -> list[Grant]:
    """The grantor's grants: one ``role`` at the unit with ``code``."""
    return [_grant(role, tree.by_code(code).id, valid_from=valid_from, valid_to=valid_to)]


# --- roles -------------------------------------------------------------------------------------


def test_every_role_has_exactly_one_policy_row() -> None:
    assert set(ROLE_POLICIES) == set(Role)


def test_ranks_run_from_province_admin_down_to_staff() -> None:
    order = [
        Role.PROVINCE_ADMIN,
        Role.PROVINCE_INSPECTOR,
        Role.DISTRICT_ADMIN,
        Role.DISTRICT_INSPECTOR,
        Role.SCHOOL_LEADER,
        Role.SCHOOL_ADMIN,
        Role.TEACHER,
        Role.STAFF,
    ]
    people = set(Role) - PLATFORM_ROLES
    assert sorted(people, key=lambda r: ROLE_POLICIES[r].rank, reverse=True) == order
    assert len({p.rank for p in ROLE_POLICIES.values()}) == len(Role)


# --- the platform role ---------------------------------------------------------------------


def test_the_archivist_is_a_province_role_nobody_grants_and_needs_no_second_factor() -> None:
    policy = ROLE_POLICIES[Role.ARCHIVIST]

    assert {Role.ARCHIVIST} == PLATFORM_ROLES
    assert is_platform_role(Role.ARCHIVIST)
    assert not any(is_platform_role(r) for r in set(Role) - PLATFORM_ROLES)
    assert (policy.unit_kind, policy.may_grant, policy.requires_totp) == (
        OrgLevel.PROVINCE,
        frozenset(),
        False,
    )
    assert all(Role.ARCHIVIST not in grantable_roles(r) for r in Role)


def test_no_grant_of_the_archivist_to_a_person_or_a_group_can_exist(tree: OrgTree) -> None:
    department = tree.by_code("79").id

    for grantee in (Grantee.user(ALICE), Grantee.group(TEAM_MATHS, GranteeKind.TEAM)):
        with pytest.raises(DomainError) as refused:
            _grant(Role.ARCHIVIST, department, grantee)
        assert refused.value.code == "role_platform_only"
    with pytest.raises(DomainError):
        check_grantable_to_people(Role.ARCHIVIST)
    check_grantable_to_people(Role.PROVINCE_ADMIN)


def test_not_even_the_province_admin_may_grant_the_archivist(tree: OrgTree) -> None:
    held = _held(tree, Role.PROVINCE_ADMIN, "79")

    decision = can_grant(held, Role.ARCHIVIST, tree.by_code("79"), tree, NOW)

    assert not decision.allowed
    assert decision.code == "role_platform_only"
    assert can_grant(held, Role.PROVINCE_INSPECTOR, tree.by_code("79"), tree, NOW).allowed


def test_a_platform_client_acts_only_for_someone_holding_a_role_in_its_province(
    tree: OrgTree,
) -> None:
    department = tree.by_code("79").id
    leader = _held(tree, Role.SCHOOL_LEADER, "76001")
    # A grant at a unit this tree does not hold: a school of another province.
    elsewhere = [_grant(Role.SCHOOL_LEADER, uuid.UUID(int=999))]

    assert holds_a_role_within(leader, tree, department)
    assert holds_a_role_within(leader, tree, tree.by_code("760").id)
    assert not holds_a_role_within(leader, tree, tree.by_code("761").id)
    assert not holds_a_role_within(elsewhere, tree, department)
    assert not holds_a_role_within([], tree, department)


@pytest.mark.parametrize("role", list(Role))
def test_a_role_grants_only_roles_at_or_below_it(role: Role) -> None:
    assert all(is_at_or_below(granted, role) for granted in grantable_roles(role))


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PROVINCE_ADMIN])
def test_only_the_province_admin_grants_its_own_role(role: Role) -> None:
    assert role not in grantable_roles(role)
    assert Role.PROVINCE_ADMIN in grantable_roles(Role.PROVINCE_ADMIN)


def test_district_admin_grants_school_roles_but_not_district_admin() -> None:
    assert grantable_roles(Role.DISTRICT_ADMIN) == {
        Role.DISTRICT_INSPECTOR,
        Role.SCHOOL_LEADER,
        Role.SCHOOL_ADMIN,
        Role.TEACHER,
        Role.STAFF,
    }


def test_school_leader_appoints_the_school_admin_and_not_the_reverse() -> None:
    assert Role.SCHOOL_ADMIN in grantable_roles(Role.SCHOOL_LEADER)
    assert Role.SCHOOL_LEADER not in grantable_roles(Role.SCHOOL_ADMIN)
    assert grantable_roles(Role.SCHOOL_ADMIN) == {Role.TEACHER, Role.STAFF}


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STAFF])
def test_teachers_and_staff_grant_nothing(role: Role) -> None:
    assert grantable_roles(role) == frozenset()


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        (Role.PROVINCE_ADMIN, OrgLevel.PROVINCE),
        (Role.DISTRICT_ADMIN, OrgLevel.DISTRICT),
        (Role.SCHOOL_LEADER, OrgLevel.SCHOOL),
        (Role.SCHOOL_ADMIN, OrgLevel.SCHOOL),
        (Role.TEACHER, OrgLevel.SCHOOL),
        (Role.STAFF, OrgLevel.SCHOOL),
    ],
)
def test_each_role_is_granted_at_one_tier(role: Role, kind: OrgLevel) -> None:
    assert [k for k in OrgLevel if is_role_valid_at(role, k)] == [kind]


def test_a_teacher_role_at_a_district_is_refused(tree: OrgTree) -> None:
    with pytest.raises(DomainError) as caught:
        check_role_at(Role.TEACHER, tree.by_code("760"))
    assert caught.value.code == "role_not_valid_at_unit"
    check_role_at(Role.TEACHER, tree.by_code("76001"))


@pytest.mark.parametrize(
    ("role", "needs_totp"),
    [
        (Role.PROVINCE_ADMIN, True),
        (Role.DISTRICT_ADMIN, True),
        (Role.SCHOOL_LEADER, True),
        (Role.SCHOOL_ADMIN, True),
        (Role.TEACHER, False),
        (Role.STAFF, False),
    ],
)
def test_leaders_and_admins_need_totp(role: Role, needs_totp: bool) -> None:
    assert requires_totp(role) is needs_totp


def test_an_account_with_any_admin_role_needs_totp() -> None:
    assert any_requires_totp([Role.TEACHER, Role.SCHOOL_ADMIN])
    assert not any_requires_totp([Role.TEACHER, Role.STAFF])
    assert not any_requires_totp([])


# --- grants as values --------------------------------------------------------------------------


def test_grant_is_valid_from_its_start_until_just_before_its_end() -> None:
    grant = _grant(Role.TEACHER, uuid.uuid4(), valid_from=NOW, valid_to=NOW + DAY)
    assert grant.is_valid_at(NOW)
    assert grant.is_valid_at(NOW + DAY - timedelta(microseconds=1))
    assert not grant.is_valid_at(NOW + DAY)
    assert not grant.is_valid_at(NOW - timedelta(microseconds=1))


def test_grant_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        _grant(Role.TEACHER, uuid.uuid4(), valid_from=NOW, valid_to=NOW)
    assert caught.value.code == "grant_window_empty"


def test_grant_with_a_naive_time_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        _grant(Role.TEACHER, uuid.uuid4(), valid_from=datetime(2025, 9, 5))  # noqa: DTZ001
    assert caught.value.code == "time_not_aware"


def test_a_user_cannot_be_a_group_grantee() -> None:
    with pytest.raises(DomainError) as caught:
        Grantee.group(TEAM_MATHS, GranteeKind.USER)
    assert caught.value.code == "grantee_not_group"


# --- effective grants --------------------------------------------------------------------------


def test_effective_grants_are_the_users_own_and_their_groups() -> None:
    school = uuid.uuid4()
    own = _grant(Role.TEACHER, school)
    team = _grant(Role.STAFF, school, Grantee.group(TEAM_MATHS, GranteeKind.TEAM))
    found = effective_grants(ALICE, [own], [GroupMembership(ALICE, TEAM_MATHS)], [team], NOW)
    assert set(found) == {own, team}


def test_expired_and_future_grants_are_not_effective() -> None:
    school = uuid.uuid4()
    expired = _grant(Role.TEACHER, school, valid_from=NOW - 2 * DAY, valid_to=NOW)
    future = _grant(Role.STAFF, school, valid_from=NOW + DAY)
    assert effective_grants(ALICE, [expired, future], [], [], NOW) == ()


def test_a_disabled_user_has_no_effective_grants() -> None:
    own = _grant(Role.TEACHER, uuid.uuid4())
    assert effective_grants(ALICE, [own], [], [], NOW, user_status=Status.DISABLED) == ()


def test_a_disabled_groups_grants_do_not_reach_its_members() -> None:
    team = _grant(Role.TEACHER, uuid.uuid4(), Grantee.group(TEAM_MATHS))
    membership = GroupMembership(ALICE, TEAM_MATHS, Status.DISABLED)
    assert effective_grants(ALICE, [], [membership], [team], NOW) == ()


def test_grants_of_other_users_and_other_groups_are_ignored() -> None:
    school = uuid.uuid4()
    bobs = _grant(Role.SCHOOL_ADMIN, school, Grantee.user(BOB))
    other_team = _grant(Role.TEACHER, school, Grantee.group(uuid.uuid4()))
    bobs_membership = GroupMembership(BOB, TEAM_MATHS)
    teams = _grant(Role.TEACHER, school, Grantee.group(TEAM_MATHS))
    found = effective_grants(ALICE, [bobs], [bobs_membership], [other_team, teams], NOW)
    assert found == ()


def test_a_grant_passed_twice_is_effective_once() -> None:
    own = _grant(Role.TEACHER, uuid.uuid4())
    assert effective_grants(ALICE, [own, own], [], [], NOW) == (own,)


def test_effective_grants_refuse_a_naive_time() -> None:
    with pytest.raises(DomainError):
        effective_grants(ALICE, [], [], [], datetime(2025, 9, 5))  # noqa: DTZ001


# --- granting without escalation ---------------------------------------------------------------


def test_province_admin_may_grant_any_role_anywhere(tree: OrgTree) -> None:
    held = _held(tree, Role.PROVINCE_ADMIN, "79")
    for role, code in [
        (Role.PROVINCE_ADMIN, "79"),
        (Role.DISTRICT_ADMIN, "761"),
        (Role.SCHOOL_LEADER, "79001"),
        (Role.TEACHER, "76101"),
    ]:
        decision = can_grant(held, role, tree.by_code(code), tree, NOW)
        assert decision.allowed, (role, code, decision)
        assert decision.via == held[0]


def test_district_admin_may_grant_school_leader_inside_their_district(tree: OrgTree) -> None:
    decision = can_grant(
        _held(tree, Role.DISTRICT_ADMIN, "760"),
        Role.SCHOOL_LEADER,
        tree.by_code("76001"),
        tree,
        NOW,
    )
    assert decision.allowed
    assert decision.code == "allowed"


def test_district_admin_cannot_grant_school_leader_outside_their_district(tree: OrgTree) -> None:
    held = _held(tree, Role.DISTRICT_ADMIN, "760")
    for code in ["76101", "79001"]:
        decision = can_grant(held, Role.SCHOOL_LEADER, tree.by_code(code), tree, NOW)
        assert not decision.allowed
        assert decision.code == "outside_grantor_scope"


def test_district_admin_cannot_grant_district_admin(tree: OrgTree) -> None:
    decision = can_grant(
        _held(tree, Role.DISTRICT_ADMIN, "760"), Role.DISTRICT_ADMIN, tree.by_code("760"), tree, NOW
    )
    assert (decision.allowed, decision.code) == (False, "role_above_grantor")


def test_school_admin_may_grant_teacher_in_their_school_only(tree: OrgTree) -> None:
    held = _held(tree, Role.SCHOOL_ADMIN, "76001")
    assert can_grant(held, Role.TEACHER, tree.by_code("76001"), tree, NOW).allowed
    other = can_grant(held, Role.TEACHER, tree.by_code("76002"), tree, NOW)
    assert other.code == "outside_grantor_scope"


def test_school_admin_cannot_grant_school_leader(tree: OrgTree) -> None:
    held = _held(tree, Role.SCHOOL_ADMIN, "76001")
    decision = can_grant(held, Role.SCHOOL_LEADER, tree.by_code("76001"), tree, NOW)
    assert decision.code == "role_above_grantor"


def test_school_leader_may_appoint_the_school_admin(tree: OrgTree) -> None:
    held = _held(tree, Role.SCHOOL_LEADER, "79001")
    assert can_grant(held, Role.SCHOOL_ADMIN, tree.by_code("79001"), tree, NOW).allowed


def test_teacher_cannot_grant_anything(tree: OrgTree) -> None:
    held = _held(tree, Role.TEACHER, "76001")
    decision = can_grant(held, Role.STAFF, tree.by_code("76001"), tree, NOW)
    assert decision.code == "role_above_grantor"


def test_grantor_whose_grant_has_expired_cannot_grant(tree: OrgTree) -> None:
    held = _held(tree, Role.DISTRICT_ADMIN, "760", valid_from=NOW - 9 * DAY, valid_to=NOW)
    decision = can_grant(held, Role.TEACHER, tree.by_code("76001"), tree, NOW)
    assert decision.code == "grantor_has_no_valid_grant"


def test_grantor_whose_grant_starts_later_cannot_grant_yet(tree: OrgTree) -> None:
    held = _held(tree, Role.DISTRICT_ADMIN, "760", valid_from=NOW + DAY)
    assert not can_grant(held, Role.TEACHER, tree.by_code("76001"), tree, NOW).allowed
    assert can_grant(held, Role.TEACHER, tree.by_code("76001"), tree, NOW + DAY).allowed


def test_a_role_is_not_granted_at_the_wrong_tier_even_by_the_province_admin(
    tree: OrgTree,
) -> None:
    held = _held(tree, Role.PROVINCE_ADMIN, "79")
    decision = can_grant(held, Role.TEACHER, tree.by_code("760"), tree, NOW)
    assert decision.code == "role_not_valid_at_unit"


def test_granting_at_an_unknown_unit_is_refused(tree: OrgTree) -> None:
    held = _held(tree, Role.PROVINCE_ADMIN, "79")
    assert can_grant(held, Role.TEACHER, uuid.uuid4(), tree, NOW).code == "org_unit_unknown"


def test_a_grant_at_a_unit_missing_from_the_tree_gives_no_power(tree: OrgTree) -> None:
    held = [_grant(Role.PROVINCE_ADMIN, uuid.uuid4())]
    decision = can_grant(held, Role.TEACHER, tree.by_code("76001"), tree, NOW)
    assert decision.code == "grantor_has_no_valid_grant"


def test_the_grant_that_allows_it_is_named(tree: OrgTree) -> None:
    teacher = _held(tree, Role.TEACHER, "76001")
    admin = _held(tree, Role.DISTRICT_ADMIN, "760")
    decision = can_grant([*teacher, *admin], Role.STAFF, tree.by_code("76001"), tree, NOW)
    assert decision.via == admin[0]


def test_a_refusal_raises_with_its_code_and_vietnamese_title(tree: OrgTree) -> None:
    decision = can_grant(
        _held(tree, Role.TEACHER, "76001"), Role.STAFF, tree.by_code("76001"), tree, NOW
    )
    with pytest.raises(GrantRefusedError) as caught:
        decision.raise_if_refused()
    assert caught.value.code == "role_above_grantor"
    assert caught.value.title_vi == "Vai trò vượt quá quyền hạn của người cấp quyền"
    can_grant(
        _held(tree, Role.SCHOOL_ADMIN, "76001"), Role.STAFF, tree.by_code("76001"), tree, NOW
    ).raise_if_refused()


# --- revoking ----------------------------------------------------------------------------------


def test_district_admin_may_revoke_a_teacher_grant_in_their_district(tree: OrgTree) -> None:
    target = _grant(Role.TEACHER, tree.by_code("76002").id, Grantee.user(BOB))
    assert can_revoke(_held(tree, Role.DISTRICT_ADMIN, "760"), target, tree, NOW).allowed


def test_district_admin_cannot_revoke_outside_their_district(tree: OrgTree) -> None:
    target = _grant(Role.TEACHER, tree.by_code("76101").id, Grantee.user(BOB))
    decision = can_revoke(_held(tree, Role.DISTRICT_ADMIN, "760"), target, tree, NOW)
    assert decision.code == "outside_grantor_scope"


def test_school_admin_cannot_revoke_the_school_leader(tree: OrgTree) -> None:
    target = _grant(Role.SCHOOL_LEADER, tree.by_code("76001").id, Grantee.user(BOB))
    decision = can_revoke(_held(tree, Role.SCHOOL_ADMIN, "76001"), target, tree, NOW)
    assert decision.code == "role_above_grantor"


def test_revoker_whose_grant_expired_cannot_revoke(tree: OrgTree) -> None:
    target = _grant(Role.TEACHER, tree.by_code("76001").id, Grantee.user(BOB))
    held = _held(tree, Role.SCHOOL_ADMIN, "76001", valid_from=NOW - 9 * DAY, valid_to=NOW)
    assert can_revoke(held, target, tree, NOW).code == "grantor_has_no_valid_grant"


# --- the token claim ---------------------------------------------------------------------------


def test_compact_grants_are_role_at_unit_strings(tree: OrgTree) -> None:
    school = tree.by_code("76001")
    claim = compact_grants(_held(tree, Role.TEACHER, "76001"), tree)
    assert claim == (f"teacher@{school.id}",)


def test_compact_grants_round_trip_through_the_token_verifier(tree: OrgTree) -> None:
    held = [
        *_held(tree, Role.TEACHER, "76001"),
        *_held(tree, Role.SCHOOL_ADMIN, "79001"),
        *_held(tree, Role.DISTRICT_ADMIN, "760"),
    ]
    parsed = {TokenGrant.parse(entry) for entry in compact_grants(held, tree)}
    assert parsed == {TokenGrant(g.role.value, str(g.unit_id)) for g in held}


def test_compact_grants_list_each_role_and_unit_once(tree: OrgTree) -> None:
    own = _held(tree, Role.TEACHER, "76001")
    via_team = [_grant(Role.TEACHER, tree.by_code("76001").id, Grantee.group(TEAM_MATHS))]
    assert len(compact_grants([*own, *via_team], tree)) == 1


def test_compact_grants_leave_out_a_role_held_above(tree: OrgTree) -> None:
    # Not grantable today (a district admin is granted at a district), but a unit that moved
    # or a rule that changes must not produce a bloated or contradictory claim.
    district = tree.by_code("760")
    above = _grant(Role.DISTRICT_ADMIN, district.id)
    below = _grant(Role.DISTRICT_ADMIN, tree.by_code("76001").id)
    assert compact_grants([above, below], tree) == (f"district_admin@{district.id}",)


def test_compact_grants_keep_different_roles_at_nested_units(tree: OrgTree) -> None:
    held = [*_held(tree, Role.DISTRICT_ADMIN, "760"), *_held(tree, Role.TEACHER, "76001")]
    assert len(compact_grants(held, tree)) == 2


def test_compact_grants_are_sorted_so_equal_grants_give_equal_claims(tree: OrgTree) -> None:
    held = [*_held(tree, Role.TEACHER, "76001"), *_held(tree, Role.SCHOOL_ADMIN, "79001")]
    assert compact_grants(held, tree) == compact_grants(list(reversed(held)), tree)
    assert list(compact_grants(held, tree)) == sorted(compact_grants(held, tree))


@pytest.mark.parametrize("role", [Role.PROVINCE_INSPECTOR, Role.DISTRICT_INSPECTOR])
def test_inspectors_grant_nothing_and_need_a_second_factor(role: Role) -> None:
    assert grantable_roles(role) == frozenset()
    assert requires_totp(role)
