"""Properties of the org tree and of granting, on random trees, grantors and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from common.auth import Grant as TokenGrant
from common.events.identity import OrgLevel, Role
from identity.domain import (
    PLATFORM_ROLES,
    Grant,
    Grantee,
    GroupMembership,
    OrgTree,
    OrgUnit,
    SchoolLevel,
    Status,
    can_grant,
    compact_grants,
    effective_grants,
    grantable_roles,
    implied_role_units,
    is_at_or_below,
    is_role_valid_at,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
USER = uuid.UUID(int=7)
GROUPS = [uuid.UUID(int=1000 + i) for i in range(3)]

_DISTRICT_LEVELS = [
    (SchoolLevel.PRESCHOOL,),
    (SchoolLevel.PRIMARY,),
    (SchoolLevel.LOWER_SECONDARY,),
    (SchoolLevel.MULTI_LEVEL, SchoolLevel.PRIMARY, SchoolLevel.LOWER_SECONDARY),
    (SchoolLevel.VOCATIONAL_CONTINUING_CENTRE,),
]
_DEPARTMENT_LEVELS = [
    (SchoolLevel.UPPER_SECONDARY,),
    (SchoolLevel.PROVINCIAL_CONTINUING_CENTRE,),
    (SchoolLevel.MULTI_LEVEL, SchoolLevel.LOWER_SECONDARY, SchoolLevel.UPPER_SECONDARY),
    (SchoolLevel.VOCATIONAL_CONTINUING_CENTRE,),
]


@st.composite
def org_trees(draw: st.DrawFn) -> OrgTree:
    province = OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, "P", "Sở GDĐT")
    districts = [
        OrgUnit(uuid.uuid4(), OrgLevel.DISTRICT, f"D{i}", f"Phòng {i}", province.id)
        for i in range(draw(st.integers(0, 4)))
    ]
    schools = []
    for i in range(draw(st.integers(0, 10))):
        parent = draw(st.sampled_from([province, *districts]))
        choices = _DEPARTMENT_LEVELS if parent is province else _DISTRICT_LEVELS
        levels = frozenset(draw(st.sampled_from(choices)))
        schools.append(
            OrgUnit(uuid.uuid4(), OrgLevel.SCHOOL, f"S{i}", f"Trường {i}", parent.id, levels)
        )
    return OrgTree.build([province, *districts, *schools])


@st.composite
def grants_in(draw: st.DrawFn, tree: OrgTree, grantee: Grantee | None = None) -> Grant:
    start = T0 + timedelta(days=draw(st.integers(-5, 5)))
    length = draw(st.none() | st.integers(1, 10))
    return Grant(
        id=uuid.uuid4(),
        # A person's or a group's grant: never a platform role (the domain refuses those).
        role=draw(st.sampled_from(sorted(set(Role) - PLATFORM_ROLES))),
        unit_id=draw(st.sampled_from(tree.units)).id,
        grantee=grantee or Grantee.user(USER),
        valid_from=start,
        granted_by=uuid.uuid4(),
        valid_to=None if length is None else start + timedelta(days=length),
    )


@settings(deadline=None)
@given(org_trees())
def test_contains_is_reflexive(tree: OrgTree) -> None:
    assert all(tree.contains(unit, unit) for unit in tree)


@settings(deadline=None)
@given(org_trees())
def test_contains_is_transitive(tree: OrgTree) -> None:
    units = tree.units
    for a in units:
        for b in units:
            if not tree.contains(a, b):
                continue
            for c in units:
                if tree.contains(b, c):
                    assert tree.contains(a, c)


@settings(deadline=None)
@given(org_trees())
def test_contains_agrees_with_ancestors_and_descendants(tree: OrgTree) -> None:
    for scope in tree:
        below = {u.id for u in tree.descendants(scope)}
        for unit in tree:
            inside = unit.id == scope.id or unit.id in below
            assert tree.contains(scope, unit) is inside
            assert inside is (unit.id == scope.id or scope in tree.ancestors(unit))


@settings(deadline=None)
@given(st.data())
def test_granting_never_escalates(data: st.DataObject) -> None:
    tree = data.draw(org_trees())
    held = data.draw(st.lists(grants_in(tree), max_size=4))
    role = data.draw(st.sampled_from(list(Role)))
    target = data.draw(st.sampled_from(tree.units))
    at = T0 + timedelta(days=data.draw(st.integers(-6, 16)))

    decision = can_grant(held, role, target, tree, at)

    licensing = [
        g
        for g in held
        if g.is_valid_at(at)
        and tree.contains(g.unit_id, target)
        and is_at_or_below(role, g.role)
        and role in grantable_roles(g.role)
    ]
    if decision.allowed:
        assert decision.via in licensing
    else:
        # Refused only when no grant licenses it or the role does not belong at that tier.
        assert not licensing or not is_role_valid_at(role, target.kind)


@settings(deadline=None)
@given(st.data())
def test_compact_grants_cover_exactly_what_the_grants_imply(data: st.DataObject) -> None:
    tree = data.draw(org_trees())
    held = data.draw(st.lists(grants_in(tree), max_size=8))

    claim = compact_grants(held, tree)

    parsed = [TokenGrant.parse(entry) for entry in claim]
    pairs = [(Role(g.role), uuid.UUID(g.unit_id)) for g in parsed]
    covered = {(role, u.id) for role, unit_id in pairs for u in tree if tree.contains(unit_id, u)}
    implied = {(g.role, u.id) for g in held for u in tree if tree.contains(g.unit_id, u)}
    assert covered == implied == implied_role_units(held, tree)
    # Minimal: no entry is implied by another.
    assert len(set(pairs)) == len(pairs)
    for role, unit_id in pairs:
        for other_role, other_unit in pairs:
            if other_role is role and other_unit != unit_id:
                assert not tree.contains(other_unit, unit_id)


@settings(deadline=None)
@given(st.data())
def test_effective_grants_are_valid_and_belong_to_the_user_or_an_active_group(
    data: st.DataObject,
) -> None:
    tree = data.draw(org_trees())
    direct = data.draw(st.lists(grants_in(tree), max_size=4))
    group_grants = [
        data.draw(grants_in(tree, Grantee.group(data.draw(st.sampled_from(GROUPS)))))
        for _ in range(data.draw(st.integers(0, 4)))
    ]
    memberships = [
        GroupMembership(USER, group_id, data.draw(st.sampled_from(list(Status))))
        for group_id in data.draw(st.sets(st.sampled_from(GROUPS)))
    ]
    at = T0 + timedelta(days=data.draw(st.integers(-6, 16)))

    found = effective_grants(USER, direct, memberships, group_grants, at)

    active = {m.group_id for m in memberships if m.group_status is Status.ACTIVE}
    expected = {g for g in direct if g.is_valid_at(at)} | {
        g for g in group_grants if g.grantee.id in active and g.is_valid_at(at)
    }
    assert set(found) == expected
