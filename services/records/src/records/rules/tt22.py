"""TT 22/2021/TT-BGDĐT: assessment of THCS and THPT students (grades 6–12), DOMAIN §1.

Results: subject averages and comment-subject results per term and year (Điều 9 k.1–2),
the learning result with the one-subject adjustment (``tt22_learning``), the conduct result
(Điều 8), summer work, promotion and retention (Điều 12–14) and awards (Điều 15). The [U]/[S]
choices are ``RuleOptions``.

Pending inputs give ``None`` values, and everything computed from them is ``None`` too. An
unknown absence count (``absence_days=None``) keeps a student who meets everything else from
being declared promoted; "retained" and the summer statuses do not wait for it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from records.domain.curriculum import Period
from records.domain.errors import DomainError
from records.domain.sheets import CONDUCT_SHEET
from records.rules.base import (
    DEFAULT_OPTIONS,
    Recorder,
    RuleOptions,
    StudentInputs,
    StudentResults,
    names_vi,
)
from records.rules.secondary import YEAR, SubjectTable, retest_value, subject_results
from records.rules.tt22_learning import (
    CIRCULAR,
    CLAUSES,
    LEVEL_LABELS_VI,
    PERIOD_NAMES_VI,
    RULE_SET_ID,
    RULE_VERSION,
    comment_rule,
    learning_finding,
)

_CONDUCT_YEAR: Final = {  # (HK II, HK I) → year, DOMAIN §1.8
    **{("T", h1): y for h1, y in zip(("T", "K", "D", "CD"), ("T", "T", "K", "K"), strict=True)},
    **{("K", h1): y for h1, y in zip(("T", "K", "D", "CD"), ("K", "K", "K", "D"), strict=True)},
    **{("D", h1): y for h1, y in zip(("T", "K", "D", "CD"), ("K", "D", "D", "D"), strict=True)},
    **{("CD", h1): "CD" for h1 in ("T", "K", "D", "CD")},
}
PROMOTION_LABELS_VI: Final = {
    "promoted": "Được lên lớp",
    "summer_reassessment": "Kiểm tra, đánh giá lại trong hè",
    "conduct_training": "Rèn luyện trong kỳ nghỉ hè",
    "retained": "Ở lại lớp",
}
_COMPLETION_LABELS_VI: Final = {
    9: "Được công nhận hoàn thành chương trình THCS",
    12: "Được công nhận hoàn thành chương trình THPT",
}
AWARD_LABELS_VI: Final = {
    "xuat_sac": "Học sinh Xuất sắc",
    "gioi": "Học sinh Giỏi",
    "none": "Không",
}
YES_NO_VI: Final = {"yes": "Có", "no": "Không"}
PROMOTION_CLAUSE: Final = f"{CIRCULAR}, Điều 12, khoản 1"
RETENTION_CLAUSE: Final = f"{CIRCULAR}, Điều 12, khoản 2"
ABSENCE_CLAUSE: Final = f"{CIRCULAR}, Điều 12, khoản 1, điểm c"
TRAINING_CLAUSE: Final = f"{CIRCULAR}, Điều 13"
REASSESSMENT_CLAUSE: Final = f"{CIRCULAR}, Điều 14"
AWARD_CLAUSE: Final = f"{CIRCULAR}, Điều 15"
_EXCELLENT: Final = Decimal("9.0")
_EXCELLENT_SUBJECTS: Final = 6


def conduct_year(term_1: str, term_2: str) -> str:
    """The year conduct level from the two terms' (DOMAIN §1.8 table)."""
    return _CONDUCT_YEAR[(term_2, term_1)]


def _rating(inputs: StudentInputs, period: Period) -> str | None:
    raw = inputs.cell(CONDUCT_SHEET, period, "rating")
    if raw is not None and raw not in LEVEL_LABELS_VI:
        raise DomainError(
            "cell-invalid", "Mức rèn luyện không hợp lệ", f"conduct/{period}: {raw!r}"
        )
    return raw


def _conduct_findings(inputs: StudentInputs, rec: Recorder) -> str | None:
    ratings: dict[str, str | None] = {}
    for period in (Period.TERM_1, Period.TERM_2):
        rating = ratings[period.value] = _rating(inputs, period)
        rec.add(
            f"conduct.{period.value}",
            rating,
            LEVEL_LABELS_VI.get(rating or "", ""),
            f"{CIRCULAR}, Điều 8, khoản 1",
            {"rating": rating},
            f"Kết quả rèn luyện {PERIOD_NAMES_VI[period.value]} do giáo viên chủ nhiệm đánh giá."
            if rating
            else f"Giáo viên chủ nhiệm chưa đánh giá rèn luyện {PERIOD_NAMES_VI[period.value]}.",
        )
    t1, t2 = ratings["term_1"], ratings["term_2"]
    year = conduct_year(t1, t2) if t1 and t2 else None
    reason = (
        f"Học kỳ I {LEVEL_LABELS_VI[t1]}, học kỳ II {LEVEL_LABELS_VI[t2]} nên cả năm "
        f"{LEVEL_LABELS_VI[year]}."
        if t1 and t2 and year
        else "Chưa đủ kết quả rèn luyện hai học kỳ nên chưa có kết quả cả năm."
    )
    return rec.add(
        "conduct.year",
        year,
        LEVEL_LABELS_VI.get(year or "", ""),
        f"{CIRCULAR}, Điều 8, khoản 2",
        ratings,
        reason,
    )


def retest_subjects(table: SubjectTable) -> list[str]:
    """Comment subjects Chưa đạt and scored subjects with ĐTBmcn below 5.0 (Điều 14)."""
    year = table.period(YEAR)
    return [
        c
        for c in table.subjects
        if (c in table.commented and year[c] == "CD")
        or (c in table.scored and year[c] is not None and Decimal(year[c] or "") < 5)
    ]


def _flag(  # noqa: PLR0917 - Recorder.add without the label
    rec: Recorder,
    key: str,
    value: str | None,
    clause: str,
    inputs: dict[str, str | None],
    reason: str,
) -> None:
    rec.add(key, value, YES_NO_VI.get(value or "", ""), clause, inputs, reason)


def _summer_and_promotion(  # noqa: PLR0912, PLR0915, PLR0917 - one decision table, read top to bottom
    inputs: StudentInputs,
    options: RuleOptions,
    rec: Recorder,
    table: SubjectTable,
    learning: str | None,
    conduct: str | None,
) -> None:
    absences = inputs.absence_days
    over_limit = absences is not None and absences > options.absence_limit_days
    basis: dict[str, str | None] = {
        "learning.year": learning,
        "conduct.year": conduct,
        "absence_days": None if absences is None else str(absences),
    }
    to_retest = retest_subjects(table) if learning == "CD" else []
    year = table.period(YEAR)
    retest_inputs = {c: year[c] for c in to_retest}
    reassess: str | None
    train: str | None
    if over_limit:
        reassess = train = "no"
        why_reassess = why_train = f"Nghỉ học quá {options.absence_limit_days} buổi nên ở lại lớp."
    elif learning is None or conduct is None:
        reassess = train = None
        why_reassess = why_train = "Chưa đủ kết quả học tập và rèn luyện cả năm."
    else:
        reassess = "yes" if learning == "CD" and conduct != "CD" else "no"
        train = "yes" if conduct == "CD" and learning != "CD" else "no"
        why_reassess = (
            f"Rèn luyện từ Đạt trở lên, học tập Chưa đạt: kiểm tra lại các môn "
            f"{names_vi(to_retest, table.subjects)}."
            if reassess == "yes"
            else "Chỉ kiểm tra lại khi rèn luyện từ Đạt trở lên và học tập cả năm Chưa đạt."
        )
        why_train = (
            "Rèn luyện cả năm Chưa đạt, học tập từ Đạt trở lên: rèn luyện trong kỳ nghỉ hè."
            if train == "yes"
            else "Chỉ rèn luyện trong hè khi rèn luyện Chưa đạt và học tập từ Đạt trở lên."
        )
    _flag(rec, "summer_reassessment", reassess, REASSESSMENT_CLAUSE, retest_inputs, why_reassess)
    _flag(rec, "conduct_training", train, TRAINING_CLAUSE, basis, why_train)
    after: str | None = None
    if reassess == "yes" and any(retest_value(inputs, table.subjects[c]) for c in to_retest):
        replaced = dict(year)
        for code in to_retest:
            replaced[code] = retest_value(inputs, table.subjects[code])
        after = learning_finding(
            rec, "learning.after_summer", replaced, table, options, "sau kiểm tra lại"
        )
        basis["learning.after_summer"] = after
    if train == "yes" and (rating := _rating(inputs, Period.SUMMER)) is not None:
        after = rec.add(
            "conduct.after_summer",
            rating,
            LEVEL_LABELS_VI[rating],
            TRAINING_CLAUSE,
            {"rating": rating},
            "Kết quả rèn luyện lại sau kỳ nghỉ hè thay cho kết quả cả năm.",
        )
        basis["conduct.after_summer"] = after
    value: str | None
    clause = PROMOTION_CLAUSE
    if over_limit:
        value, clause = "retained", ABSENCE_CLAUSE
        reason = f"Nghỉ học {absences} buổi, quá {options.absence_limit_days} buổi."
    elif learning is None or conduct is None:
        value, reason = None, "Chưa đủ kết quả học tập và rèn luyện cả năm."
    elif learning == "CD" and conduct == "CD":
        value, clause = "retained", RETENTION_CLAUSE
        reason = "Cả kết quả học tập và rèn luyện cả năm đều Chưa đạt nên không kiểm tra lại."
    elif reassess == "yes" or train == "yes":
        what = "học tập" if reassess == "yes" else "rèn luyện"
        clause = REASSESSMENT_CLAUSE if reassess == "yes" else TRAINING_CLAUSE
        if after is None:
            value = "summer_reassessment" if reassess == "yes" else "conduct_training"
            reason = f"Kết quả {what} cả năm Chưa đạt; chờ kết quả sau kỳ nghỉ hè."
        elif after == "CD":
            value, reason = "retained", f"Kết quả {what} sau kỳ nghỉ hè vẫn Chưa đạt."
        elif absences is None:
            value, reason = None, f"Kết quả {what} sau hè đạt nhưng chưa có số buổi nghỉ học."
        else:
            value, reason = "promoted", f"Kết quả {what} sau kỳ nghỉ hè từ Đạt trở lên."
    elif absences is None:
        value, reason = None, "Học tập và rèn luyện đạt nhưng chưa có số buổi nghỉ học."
    else:
        value = "promoted"
        reason = (
            f"Rèn luyện {LEVEL_LABELS_VI[conduct]}, học tập {LEVEL_LABELS_VI[learning]}, "
            f"nghỉ {absences} buổi (không quá {options.absence_limit_days})."
        )
    labels = {**PROMOTION_LABELS_VI}
    if inputs.grade in _COMPLETION_LABELS_VI:
        labels["promoted"] = _COMPLETION_LABELS_VI[inputs.grade]
    rec.add("promotion", value, labels.get(value or "", ""), clause, basis, reason)


def _award_finding(
    rec: Recorder, table: SubjectTable, learning: str | None, conduct: str | None
) -> None:
    year = table.period(YEAR)
    basis = {"learning.year": learning, "conduct.year": conduct}
    if learning is None or conduct is None:
        rec.add("award", None, "", AWARD_CLAUSE, basis, "Chưa đủ kết quả cả năm.")
        return
    if learning != "T" or conduct != "T":
        rec.add(
            "award",
            "none",
            AWARD_LABELS_VI["none"],
            AWARD_CLAUSE,
            basis,
            f"Học tập {LEVEL_LABELS_VI[learning]}, rèn luyện {LEVEL_LABELS_VI[conduct]}:"
            " khen thưởng cần cả hai mức Tốt.",
        )
        return
    high = [c for c in table.scored if Decimal(year[c] or "0") >= _EXCELLENT]
    basis |= {c: year[c] for c in table.scored}
    if len(high) >= _EXCELLENT_SUBJECTS:
        rec.add(
            "award",
            "xuat_sac",
            AWARD_LABELS_VI["xuat_sac"],
            AWARD_CLAUSE,
            basis,
            f"Học tập và rèn luyện Tốt, {len(high)} môn có ĐTBmcn từ 9.0 trở lên.",
        )
    else:
        rec.add(
            "award",
            "gioi",
            AWARD_LABELS_VI["gioi"],
            AWARD_CLAUSE,
            basis,
            f"Học tập và rèn luyện Tốt nhưng chỉ {len(high)} môn có ĐTBmcn từ 9.0 trở lên"
            f" (Xuất sắc cần {_EXCELLENT_SUBJECTS}).",
        )


class Tt22RuleSet:
    """Thông tư 22/2021/TT-BGDĐT (THCS, THPT)."""

    id: str = RULE_SET_ID
    version: str = RULE_VERSION
    title_vi: str = "Thông tư 22/2021/TT-BGDĐT — đánh giá học sinh THCS và THPT"

    def compute(
        self, inputs: StudentInputs, options: RuleOptions = DEFAULT_OPTIONS
    ) -> StudentResults:
        rec = Recorder(self.id, self.version)
        table = subject_results(inputs, options, rec, CLAUSES, comment_rule)
        learning: dict[str, str | None] = {}
        for key in ("term_1", "term_2", YEAR):
            learning[key] = learning_finding(
                rec, f"learning.{key}", table.period(key), table, options, PERIOD_NAMES_VI[key]
            )
        conduct = _conduct_findings(inputs, rec)
        _summer_and_promotion(inputs, options, rec, table, learning[YEAR], conduct)
        _award_finding(rec, table, learning[YEAR], conduct)
        return rec.results()


TT22: Final = Tt22RuleSet()
