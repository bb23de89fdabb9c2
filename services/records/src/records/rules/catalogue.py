"""Default curriculum per grade and school year: the seed of a year's configurable curriculum.

- 2018 programme (CT GDPT 2018, TT 32/2018), from its rollout year per grade: primary with the
  TT 27 test checkpoints (DOMAIN §2.3); THCS with the periods of DOMAIN §1.3 [C]; THPT with the
  compulsory subjects and a default elective set (Vật lí, Hóa học, Sinh học, Tin học), periods
  [U] as DOMAIN §1.3 gives them, electives with one topic-cluster assessment more.
- 2006 programme (the TT 58/26 years), secondary only; periods are plausible figures [U].

Regular-assessment counts always come from ``required_regular_count``.
"""

from __future__ import annotations

from typing import Final

from records.domain.curriculum import (
    AssessmentForm,
    Level,
    Period,
    SubjectSpec,
    level_of_grade,
    required_regular_count,
)
from records.domain.errors import DomainError
from records.rules.base import start_year

# First school year (by its start) of the 2018 programme per grade; it coincides with TT 27/TT 22.
PROGRAMME_2018_FROM: Final = {
    1: 2020, 2: 2021, 3: 2022, 4: 2023, 5: 2024,
    6: 2021, 7: 2022, 8: 2023, 9: 2024,
    10: 2022, 11: 2023, 12: 2024,
}  # fmt: skip
LEGACY_SECONDARY_FROM: Final = 2011  # the first TT 58 year catalogued [U]

_TESTED: Final = frozenset({Period.END_TERM_1, Period.END_YEAR})
_TESTED_MID: Final = _TESTED | {Period.MID_TERM_1, Period.MID_TERM_2}


def scored(
    code: str, name_vi: str, periods: int, *, cluster: bool = False, elective: bool = False
) -> SubjectSpec:
    form = AssessmentForm.SCORE
    count = required_regular_count(form, periods, topic_cluster=cluster)
    return SubjectSpec(code, name_vi, form, periods, count, elective=elective)


def commented(code: str, name_vi: str, periods: int) -> SubjectSpec:
    form = AssessmentForm.COMMENT
    return SubjectSpec(code, name_vi, form, periods, required_regular_count(form, periods))


def primary(
    code: str, name_vi: str, periods: int, tested_at: frozenset[Period] = frozenset()
) -> SubjectSpec:
    return SubjectSpec(code, name_vi, AssessmentForm.PRIMARY, periods, 0, tested_at)


def _primary_2018(grade: int) -> tuple[SubjectSpec, ...]:
    # Periods per year of CT GDPT 2018 [S]; the rules do not use them for primary.
    core = _TESTED_MID if grade >= 4 else _TESTED
    subjects = [
        primary("tieng_viet", "Tiếng Việt", {1: 420, 2: 350}.get(grade, 245), core),
        primary("toan", "Toán", 105 if grade == 1 else 175, core),
    ]
    if grade >= 3:
        subjects.append(primary("ngoai_ngu_1", "Ngoại ngữ 1", 140, _TESTED))
    subjects.append(primary("dao_duc", "Đạo đức", 35))
    if grade <= 3:
        subjects.append(primary("tnxh", "Tự nhiên và Xã hội", 70))
    else:
        subjects.append(primary("ls_dl", "Lịch sử và Địa lí", 70, _TESTED))
        subjects.append(primary("khoa_hoc", "Khoa học", 70, _TESTED))
    if grade >= 3:
        subjects.append(primary("tin_hoc_cong_nghe", "Tin học và Công nghệ", 70, _TESTED))
    subjects += [
        primary("gdtc", "Giáo dục thể chất", 70),
        primary("am_nhac", "Nghệ thuật (Âm nhạc)", 35),
        primary("mi_thuat", "Nghệ thuật (Mĩ thuật)", 35),
        primary("hdtn", "Hoạt động trải nghiệm", 105),
    ]
    return tuple(subjects)


def _lower_secondary_2018(grade: int) -> tuple[SubjectSpec, ...]:
    return (
        scored("ngu_van", "Ngữ văn", 140),
        scored("toan", "Toán", 140),
        scored("ngoai_ngu_1", "Ngoại ngữ 1", 105),
        scored("gdcd", "Giáo dục công dân", 35),
        scored("ls_dl", "Lịch sử và Địa lí", 105),
        scored("khtn", "Khoa học tự nhiên", 140),
        scored("cong_nghe", "Công nghệ", 52 if grade >= 8 else 35),
        scored("tin_hoc", "Tin học", 35),
        commented("gdtc", "Giáo dục thể chất", 70),
        commented("nghe_thuat", "Nghệ thuật", 70),
        commented("hdtn_hn", "Hoạt động trải nghiệm, hướng nghiệp", 105),
        commented("gddp", "Nội dung giáo dục của địa phương", 35),
    )


def _upper_secondary_2018() -> tuple[SubjectSpec, ...]:
    return (
        scored("ngu_van", "Ngữ văn", 105),
        scored("toan", "Toán", 105),
        scored("ngoai_ngu_1", "Ngoại ngữ 1", 105),
        scored("lich_su", "Lịch sử", 52),
        scored("gdqp_an", "Giáo dục quốc phòng và an ninh", 35),
        commented("gdtc", "Giáo dục thể chất", 70),
        commented("hdtn_hn", "Hoạt động trải nghiệm, hướng nghiệp", 105),
        commented("gddp", "Nội dung giáo dục của địa phương", 35),
        scored("vat_li", "Vật lí", 70, cluster=True, elective=True),
        scored("hoa_hoc", "Hóa học", 70, cluster=True, elective=True),
        scored("sinh_hoc", "Sinh học", 70, cluster=True, elective=True),
        scored("tin_hoc", "Tin học", 70, cluster=True, elective=True),
    )


# [U] 2006 programme periods per year, by grade: plausible figures, to be checked per Sở.
_LEGACY_PERIODS: Final[dict[str, tuple[str, dict[int, int]]]] = {
    "toan": ("Toán", {6: 140, 7: 140, 8: 140, 9: 140, 10: 105, 11: 140, 12: 140}),
    "vat_li": ("Vật lí", {6: 35, 7: 35, 8: 35, 9: 70, 10: 70, 11: 70, 12: 70}),
    "hoa_hoc": ("Hóa học", {8: 70, 9: 70, 10: 70, 11: 70, 12: 70}),
    "sinh_hoc": ("Sinh học", {6: 70, 7: 70, 8: 70, 9: 70, 10: 52, 11: 52, 12: 52}),
    "ngu_van": ("Ngữ văn", {6: 140, 7: 140, 8: 140, 9: 175, 10: 105, 11: 140, 12: 105}),
    "lich_su": ("Lịch sử", {6: 35, 7: 70, 8: 52, 9: 52, 10: 52, 11: 52, 12: 52}),
    "dia_li": ("Địa lí", {6: 35, 7: 70, 8: 52, 9: 52, 10: 52, 11: 35, 12: 52}),
    "ngoai_ngu_1": ("Ngoại ngữ", {6: 105, 7: 105, 8: 105, 9: 70, 10: 105, 11: 105, 12: 105}),
    "gdcd": ("Giáo dục công dân", dict.fromkeys(range(6, 13), 35)),
    "cong_nghe": ("Công nghệ", {6: 70, 7: 52, 8: 52, 9: 35, 10: 52, 11: 52, 12: 52}),
    "tin_hoc": ("Tin học", dict.fromkeys(range(6, 13), 70)),
    "gdqp_an": ("Giáo dục quốc phòng - an ninh", {10: 35, 11: 35, 12: 35}),
}
_LEGACY_COMMENTED: Final[dict[str, tuple[str, dict[int, int]]]] = {
    "the_duc": ("Thể dục", dict.fromkeys(range(6, 13), 70)),
    "am_nhac": ("Âm nhạc", {6: 35, 7: 35, 8: 35, 9: 35}),
    "mi_thuat": ("Mĩ thuật", {6: 35, 7: 35, 8: 35, 9: 35}),
}


def _legacy_secondary(grade: int) -> tuple[SubjectSpec, ...]:
    subjects = [
        scored(code, name, periods[grade])
        for code, (name, periods) in _LEGACY_PERIODS.items()
        if grade in periods
    ]
    subjects += [
        commented(code, name, periods[grade])
        for code, (name, periods) in _LEGACY_COMMENTED.items()
        if grade in periods
    ]
    return tuple(subjects)


def default_curriculum(grade: int, school_year: str) -> tuple[SubjectSpec, ...]:
    """The default subjects of ``grade`` in ``school_year``; raises for years not catalogued."""
    level = level_of_grade(grade)
    year = start_year(school_year)
    if year >= PROGRAMME_2018_FROM[grade]:
        if level is Level.PRIMARY:
            return _primary_2018(grade)
        if level is Level.LOWER_SECONDARY:
            return _lower_secondary_2018(grade)
        return _upper_secondary_2018()
    if level is not Level.PRIMARY and year >= LEGACY_SECONDARY_FROM:
        return _legacy_secondary(grade)
    raise DomainError(
        "curriculum-unavailable",
        "Chưa có chương trình mặc định cho khối lớp và năm học này",
        f"no default curriculum for grade {grade} in {school_year}",
    )
