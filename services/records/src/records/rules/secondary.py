"""Subject results of a secondary school year: shared by TT 22 and the legacy TT 58/26 rules.

Both regimes average a scored subject the same way (TT 26/2020 brought TT 58 to the TT 22
form): ĐTBmhk = (Σ ĐĐGtx + 2·ĐĐGgk + 3·ĐĐGck) / (n_tx + 5), ĐTBmcn = (HK I + 2·HK II) / 3, each
rounded half up to one decimal. They differ in how a comment subject's term is decided, so the
caller passes its own ``CommentRule`` and its own clauses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from records.domain.curriculum import AssessmentForm, Period, SubjectSpec
from records.domain.errors import DomainError
from records.rules.base import (
    Recorder,
    RuleOptions,
    StudentInputs,
    parse_score,
    round_exact_1,
)

TERMS: Final = (Period.TERM_1, Period.TERM_2)
YEAR: Final = "year"
PASS_FAIL_LABELS_VI: Final = {"D": "Đạt", "CD": "Chưa đạt"}
TERM_NAMES_VI: Final = {Period.TERM_1: "học kỳ I", Period.TERM_2: "học kỳ II"}

# A comment subject's term result from its cells (column → "D"/"CD"/None): (value, reason).
CommentRule = Callable[[SubjectSpec, Mapping[str, str | None]], tuple[str | None, str]]


@dataclass(frozen=True, slots=True)
class Clauses:
    term_average: str
    year_average: str
    comment_term: str
    comment_year: str


@dataclass(slots=True)
class SubjectTable:
    """Each subject's result per period key ("term_1", "term_2", "year"); None while pending."""

    subjects: dict[str, SubjectSpec]
    scored: list[str] = field(default_factory=list)
    commented: list[str] = field(default_factory=list)
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def period(self, key: str) -> dict[str, str | None]:
        return self.values.setdefault(key, {})


def assessment_columns(spec: SubjectSpec) -> list[str]:
    """The required columns of a term: tx1..txN, gk, ck."""
    return [f"tx{i}" for i in range(1, spec.regular_count + 1)] + ["gk", "ck"]


def pass_fail(raw: str | None, where: str) -> str | None:
    if raw is not None and raw not in PASS_FAIL_LABELS_VI:
        raise DomainError("cell-invalid", "Giá trị Đạt/Chưa đạt không hợp lệ", f"{where}: {raw!r}")
    return raw


def retest_value(inputs: StudentInputs, spec: SubjectSpec) -> str | None:
    """The summer re-assessment (kiểm tra lại) of a subject, canonical, or None."""
    raw = inputs.cell(spec.code, Period.SUMMER, "retest")
    where = f"{spec.code}/summer/retest"
    if raw is None:
        return None
    if spec.form is AssessmentForm.SCORE:
        return str(parse_score(raw, where))
    return pass_fail(raw, where)


def subject_results(
    inputs: StudentInputs,
    options: RuleOptions,
    rec: Recorder,
    clauses: Clauses,
    comment_rule: CommentRule,
) -> SubjectTable:
    table = SubjectTable({s.code: s for s in inputs.subjects})
    for spec in inputs.subjects:
        if spec.form is AssessmentForm.SCORE:
            table.scored.append(spec.code)
            _scored(inputs, options, rec, clauses, spec, table)
        elif spec.form is AssessmentForm.COMMENT:
            table.commented.append(spec.code)
            _commented(inputs, rec, clauses, comment_rule, spec, table)
        else:
            raise DomainError(
                "subject-form-invalid",
                "Môn học không thuộc cấp trung học",
                f"{spec.code} is assessed as {spec.form}",
            )
    return table


def _scored(  # noqa: PLR0917 - the shared context of one computation
    inputs: StudentInputs,
    options: RuleOptions,
    rec: Recorder,
    clauses: Clauses,
    spec: SubjectSpec,
    table: SubjectTable,
) -> None:
    exact: dict[Period, Fraction] = {}
    rounded: dict[Period, Fraction] = {}
    n = spec.regular_count
    for period in TERMS:
        raw = {c: inputs.cell(spec.code, period, c) for c in assessment_columns(spec)}
        key = f"subject_average.{period}.{spec.code}"
        missing = [c for c, v in raw.items() if v is None]
        if missing:
            table.period(period)[spec.code] = rec.add(
                key,
                None,
                "",
                clauses.term_average,
                raw,
                f"Chưa tính được ĐTBmhk {TERM_NAMES_VI[period]} môn {spec.name_vi}: "
                f"còn thiếu {', '.join(missing)}.",
            )
            continue
        scores = {
            c: Fraction(parse_score(v or "", f"{spec.code}/{period}/{c}")) for c, v in raw.items()
        }
        regular = sum((scores[f"tx{i}"] for i in range(1, n + 1)), Fraction(0))
        exact[period] = (regular + 2 * scores["gk"] + 3 * scores["ck"]) / (n + 5)
        value = round_exact_1(exact[period])
        rounded[period] = Fraction(value)
        table.period(period)[spec.code] = rec.add(
            key,
            str(value),
            str(value),
            clauses.term_average,
            raw,
            f"ĐTBmhk {TERM_NAMES_VI[period]} môn {spec.name_vi} = (tổng {n} điểm ĐĐGtx "
            f"+ 2 × ĐĐGgk + 3 × ĐĐGck) / {n + 5}, làm tròn một chữ số thập phân = {value}.",
        )
    year_key = f"subject_average.{YEAR}.{spec.code}"
    year_inputs = {p.value: table.period(p).get(spec.code) for p in TERMS}
    if len(exact) < len(TERMS):
        pending = [TERM_NAMES_VI[p] for p in TERMS if p not in exact]
        table.period(YEAR)[spec.code] = rec.add(
            year_key,
            None,
            "",
            clauses.year_average,
            year_inputs,
            f"Chưa tính được ĐTBmcn môn {spec.name_vi}: chưa có ĐTBmhk {', '.join(pending)}.",
        )
        return
    base = rounded if options.year_average_from_rounded_terms else exact
    value = round_exact_1((base[Period.TERM_1] + 2 * base[Period.TERM_2]) / 3)
    source = "đã làm tròn" if options.year_average_from_rounded_terms else "chưa làm tròn"
    table.period(YEAR)[spec.code] = rec.add(
        year_key,
        str(value),
        str(value),
        clauses.year_average,
        year_inputs,
        f"ĐTBmcn môn {spec.name_vi} = (ĐTBmhk I + 2 × ĐTBmhk II) / 3 từ điểm học kỳ {source}"
        f" = {value}.",
    )


def _commented(  # noqa: PLR0917 - the shared context of one computation
    inputs: StudentInputs,
    rec: Recorder,
    clauses: Clauses,
    comment_rule: CommentRule,
    spec: SubjectSpec,
    table: SubjectTable,
) -> None:
    for period in TERMS:
        raw = {
            c: pass_fail(inputs.cell(spec.code, period, c), f"{spec.code}/{period}/{c}")
            for c in assessment_columns(spec)
        }
        value, why = comment_rule(spec, raw)
        table.period(period)[spec.code] = rec.add(
            f"subject_result.{period}.{spec.code}",
            value,
            PASS_FAIL_LABELS_VI.get(value or "", ""),
            clauses.comment_term,
            raw,
            f"Môn {spec.name_vi}, {TERM_NAMES_VI[period]}: {why}",
        )
    term_2 = table.period(Period.TERM_2)[spec.code]
    reason = (
        f"Kết quả cả năm môn {spec.name_vi} lấy theo kết quả học kỳ II "
        f"({PASS_FAIL_LABELS_VI[term_2]})."
        if term_2 is not None
        else f"Chưa có kết quả học kỳ II môn {spec.name_vi} nên chưa có kết quả cả năm."
    )
    table.period(YEAR)[spec.code] = rec.add(
        f"subject_result.{YEAR}.{spec.code}",
        term_2,
        PASS_FAIL_LABELS_VI.get(term_2 or "", ""),
        clauses.comment_year,
        {p.value: table.period(p)[spec.code] for p in TERMS},
        reason,
    )


def pending_subjects(values: Mapping[str, str | None]) -> list[str]:
    return [code for code, v in values.items() if v is None]
