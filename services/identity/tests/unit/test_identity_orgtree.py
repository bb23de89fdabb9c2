"""Worked examples of the org tree rules (R4)."""

from __future__ import annotations

import unicodedata
import uuid

import pytest

from common.events.identity import OrgLevel
from identity.domain import (
    DomainError,
    OrgTree,
    OrgUnit,
    SchoolLevel,
    normalise_code,
    normalise_name,
)

L = SchoolLevel


def _province(code: str = "79") -> OrgUnit:
    return OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, code, "Sở GDĐT")


def _district(parent: OrgUnit, code: str = "760") -> OrgUnit:
    return OrgUnit(uuid.uuid4(), OrgLevel.DISTRICT, code, "Phòng GDĐT", parent.id)


def _school(parent: OrgUnit, *levels: SchoolLevel, code: str = "S1") -> OrgUnit:
    return OrgUnit(uuid.uuid4(), OrgLevel.SCHOOL, code, "Trường", parent.id, frozenset(levels))


# --- codes and names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("79", "79"), (" thpt-le-loi ", "THPT-LE-LOI"), ("79760401", "79760401"), ("A_1", "A_1")],
)
def test_code_is_trimmed_and_upper_cased(raw: str, expected: str) -> None:
    assert normalise_code(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "A B", "-A", "A-", "A--B", "Ê1", "A.B", "X" * 33, "79/1"]
)
def test_malformed_code_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalise_code(raw)
    assert caught.value.code == "org_code_invalid"


def test_name_is_nfc_trimmed_and_single_spaced() -> None:
    decomposed = unicodedata.normalize("NFD", "  Trường   THPT\tNguyễn Du ")
    assert normalise_name(decomposed) == "Trường THPT Nguyễn Du"
    assert unicodedata.is_normalized("NFC", normalise_name(decomposed))


def test_names_typed_composed_and_decomposed_are_equal() -> None:
    name = "Phòng Giáo dục và Đào tạo"
    assert normalise_name(unicodedata.normalize("NFD", name)) == normalise_name(name)


@pytest.mark.parametrize("raw", ["", "   ", "\u00a0\t"])
def test_blank_name_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalise_name(raw)
    assert caught.value.code == "org_name_empty"


def test_name_longer_than_200_characters_is_refused() -> None:
    assert len(normalise_name("a" * 200)) == 200
    with pytest.raises(DomainError) as caught:
        normalise_name("a" * 201)
    assert caught.value.code == "org_name_too_long"


@pytest.mark.parametrize("raw", ["Trường\u200bA", "Trường\x07A"])
def test_name_with_invisible_or_control_characters_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalise_name(raw)
    assert caught.value.code == "org_name_invalid_character"


def test_unit_normalises_its_code_and_name_on_construction() -> None:
    unit = OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, " so-79 ", " Sở  GDĐT ")
    assert (unit.code, unit.name) == ("SO-79", "Sở GDĐT")


# --- one unit on its own -----------------------------------------------------------------------


def test_department_has_no_parent() -> None:
    with pytest.raises(DomainError) as caught:
        OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, "79", "Sở", parent_id=uuid.uuid4())
    assert caught.value.code == "org_parent_not_allowed"


@pytest.mark.parametrize("kind", [OrgLevel.DISTRICT, OrgLevel.SCHOOL])
def test_district_and_school_need_a_parent(kind: OrgLevel) -> None:
    with pytest.raises(DomainError) as caught:
        OrgUnit(uuid.uuid4(), kind, "X", "X", levels=frozenset({L.PRIMARY}))
    assert caught.value.code == "org_parent_required"


def test_unit_that_is_its_own_parent_is_a_cycle() -> None:
    uid = uuid.uuid4()
    with pytest.raises(DomainError) as caught:
        OrgUnit(uid, OrgLevel.DISTRICT, "760", "Phòng", parent_id=uid)
    assert caught.value.code == "org_cycle"


def test_only_schools_have_levels() -> None:
    with pytest.raises(DomainError) as caught:
        OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, "79", "Sở", levels=frozenset({L.PRIMARY}))
    assert caught.value.code == "org_levels_not_allowed"


@pytest.mark.parametrize(
    "levels",
    [
        frozenset(),
        frozenset({L.MULTI_LEVEL}),
        frozenset({L.MULTI_LEVEL, L.PRIMARY}),
        frozenset({L.PRIMARY, L.LOWER_SECONDARY}),  # two levels without saying multi-level
        frozenset({L.PRESCHOOL, L.PRIMARY}),
        frozenset({L.VOCATIONAL_CONTINUING_CENTRE, L.UPPER_SECONDARY}),
        frozenset({L.PROVINCIAL_CONTINUING_CENTRE, L.VOCATIONAL_CONTINUING_CENTRE}),
    ],
)
def test_inconsistent_school_levels_are_refused(levels: frozenset[SchoolLevel]) -> None:
    with pytest.raises(DomainError) as caught:
        OrgUnit(uuid.uuid4(), OrgLevel.SCHOOL, "S1", "Trường", uuid.uuid4(), levels)
    assert caught.value.code == "school_levels_invalid"


@pytest.mark.parametrize(
    "levels",
    [
        frozenset({L.PRESCHOOL}),
        frozenset({L.PRIMARY}),
        frozenset({L.MULTI_LEVEL, L.PRIMARY, L.LOWER_SECONDARY}),
        frozenset({L.MULTI_LEVEL, L.LOWER_SECONDARY, L.UPPER_SECONDARY}),
        frozenset({L.VOCATIONAL_CONTINUING_CENTRE}),
    ],
)
def test_consistent_school_levels_are_accepted(levels: frozenset[SchoolLevel]) -> None:
    unit = OrgUnit(uuid.uuid4(), OrgLevel.SCHOOL, "S1", "Trường", uuid.uuid4(), levels)
    assert unit.levels == levels


# --- the tree ----------------------------------------------------------------------------------


def test_tree_needs_a_department() -> None:
    province = _province()
    with pytest.raises(DomainError) as caught:
        OrgTree.build([_district(province)])
    assert caught.value.code == "org_department_missing"


def test_one_department_per_deployment() -> None:
    with pytest.raises(DomainError) as caught:
        OrgTree.build([_province("79"), _province("80")])
    assert caught.value.code == "org_department_not_unique"


def test_codes_are_unique_in_the_tree() -> None:
    province = _province()
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, _district(province, "760"), _district(province, " 760 ")])
    assert caught.value.code == "org_code_duplicate"


def test_ids_are_unique_in_the_tree() -> None:
    province = _province()
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, province])
    assert caught.value.code == "org_unit_duplicate_id"


def test_unit_whose_parent_is_missing_is_an_orphan() -> None:
    province = _province()
    stray = _school(_district(province), L.PRIMARY)
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, stray])
    assert caught.value.code == "org_unit_orphan"


def test_two_units_that_are_each_others_parent_are_a_cycle() -> None:
    a_id, b_id = uuid.uuid4(), uuid.uuid4()
    a = OrgUnit(a_id, OrgLevel.DISTRICT, "A", "A", b_id)
    b = OrgUnit(b_id, OrgLevel.DISTRICT, "B", "B", a_id)
    with pytest.raises(DomainError) as caught:
        OrgTree.build([_province(), a, b])
    assert caught.value.code == "org_cycle"


def test_district_hangs_under_the_department_only() -> None:
    province = _province()
    upper = _district(province, "760")
    lower = _district(upper, "761")
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, upper, lower])
    assert caught.value.code == "org_district_misplaced"


def test_district_cannot_hang_under_a_school() -> None:
    province = _province()
    school = _school(province, L.UPPER_SECONDARY)
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, school, _district(school)])
    assert caught.value.code == "org_district_misplaced"


@pytest.mark.parametrize(
    "levels",
    [
        (L.PRESCHOOL,),
        (L.PRIMARY,),
        (L.LOWER_SECONDARY,),
        (L.MULTI_LEVEL, L.PRIMARY, L.LOWER_SECONDARY),
        (L.VOCATIONAL_CONTINUING_CENTRE,),
    ],
)
def test_school_of_district_levels_hangs_under_a_district(levels: tuple[SchoolLevel]) -> None:
    province = _province()
    district = _district(province)
    tree = OrgTree.build([province, district, _school(district, *levels)])
    assert len(tree) == 3


@pytest.mark.parametrize(
    "levels", [(L.PRESCHOOL,), (L.PRIMARY,), (L.MULTI_LEVEL, L.PRIMARY, L.LOWER_SECONDARY)]
)
def test_primary_or_lower_school_cannot_hang_under_the_department(
    levels: tuple[SchoolLevel],
) -> None:
    province = _province()
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, _school(province, *levels)])
    assert caught.value.code == "org_school_misplaced"


@pytest.mark.parametrize(
    "levels",
    [
        (L.UPPER_SECONDARY,),
        (L.PROVINCIAL_CONTINUING_CENTRE,),
        (L.MULTI_LEVEL, L.LOWER_SECONDARY, L.UPPER_SECONDARY),
        (L.VOCATIONAL_CONTINUING_CENTRE,),
    ],
)
def test_upper_secondary_and_continuing_education_hang_under_the_department(
    levels: tuple[SchoolLevel],
) -> None:
    province = _province()
    tree = OrgTree.build([province, _school(province, *levels)])
    assert len(tree) == 2


@pytest.mark.parametrize(
    "levels",
    [
        (L.UPPER_SECONDARY,),
        (L.PROVINCIAL_CONTINUING_CENTRE,),
        (L.MULTI_LEVEL, L.PRIMARY, L.UPPER_SECONDARY),
    ],
)
def test_upper_secondary_school_cannot_hang_under_a_district(levels: tuple[SchoolLevel]) -> None:
    province = _province()
    district = _district(province)
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, district, _school(district, *levels)])
    assert caught.value.code == "org_school_misplaced"


def test_school_cannot_hang_under_a_school() -> None:
    province = _province()
    district = _district(province)
    first = _school(district, L.PRIMARY, code="S1")
    with pytest.raises(DomainError) as caught:
        OrgTree.build([province, district, first, _school(first, L.PRIMARY, code="S2")])
    assert caught.value.code == "org_school_misplaced"


def test_adding_a_unit_checks_the_rules_again(tree: OrgTree) -> None:
    d760 = tree.by_code("760")
    grown = tree.with_unit(_school(d760, L.PRESCHOOL, code="76003"))
    assert len(grown) == len(tree) + 1
    with pytest.raises(DomainError) as caught:
        tree.with_unit(_school(d760, L.PRESCHOOL, code="76001"))
    assert caught.value.code == "org_code_duplicate"


# --- questions to the tree ---------------------------------------------------------------------


def test_ancestors_run_nearest_first_to_the_department(tree: OrgTree) -> None:
    school = tree.by_code("76001")
    assert [u.code for u in tree.ancestors(school)] == ["760", "79"]
    assert tree.ancestors(tree.department) == ()


def test_descendants_are_every_unit_below(tree: OrgTree) -> None:
    assert {u.code for u in tree.descendants(tree.by_code("760"))} == {"76001", "76002"}
    assert len(tree.descendants(tree.department)) == len(tree) - 1
    assert tree.descendants(tree.by_code("79001")) == ()


def test_a_unit_contains_itself_and_what_lies_below(tree: OrgTree) -> None:
    d760, school = tree.by_code("760"), tree.by_code("76001")
    assert tree.contains(d760, d760)
    assert tree.contains(d760, school)
    assert tree.contains(tree.department, school)
    assert not tree.contains(school, d760)


def test_a_district_does_not_contain_another_districts_school(tree: OrgTree) -> None:
    assert not tree.contains(tree.by_code("760"), tree.by_code("76101"))
    assert not tree.contains(tree.by_code("760"), tree.by_code("79001"))


def test_asking_about_an_unknown_unit_is_refused(tree: OrgTree) -> None:
    with pytest.raises(DomainError) as caught:
        tree.ancestors(uuid.uuid4())
    assert caught.value.code == "org_unit_unknown"
    assert tree.find(uuid.uuid4()) is None


def test_by_code_normalises_the_code_it_looks_for(tree: OrgTree) -> None:
    assert tree.by_code(" 76001 ").name == "Trường Tiểu học Kim Đồng"


def test_event_scope_of_a_department_school_has_no_district(tree: OrgTree) -> None:
    scope = tree.scope_of(tree.by_code("79001"))
    assert scope.province_id == tree.department.id
    assert scope.district_id is None
    assert scope.school_id == tree.by_code("79001").id


def test_event_scope_of_a_district_school_names_its_district(tree: OrgTree) -> None:
    scope = tree.scope_of(tree.by_code("76002"))
    assert scope.level is OrgLevel.SCHOOL
    assert scope.district_id == tree.by_code("760").id


def test_event_scope_of_a_district_names_itself_and_no_school(tree: OrgTree) -> None:
    scope = tree.scope_of(tree.by_code("761"))
    assert (scope.district_id, scope.school_id) == (tree.by_code("761").id, None)
