"""Legacy rules: TT 58/2011/TT-BGDĐT as amended by TT 26/2020/TT-BGDĐT (DOMAIN §3).

Hạnh kiểm (Tốt/Khá/TB/Yếu) and học lực (Giỏi/Khá/TB/Yếu/Kém), for grades 6–12 before TT 22
reached them (the last: grades 9 and 12 in 2023-24); kept for historical records and reprints.

Choices where DOMAIN §3 is silent or unconfirmed ([U]):
- subject averages use the TT 26/2020 form for every year (the sheets hold tx/gk/ck only; the
  original TT 58 form with several hệ-số-2 tests cannot be expressed in them);
- a comment subject's term is Đạt when every required assessment is entered, at least two
  thirds are Đạt and the end-of-term one (ck) is Đạt; the year takes HK II [U];
- hạnh kiểm: the GVCN's T/K/Đ/CĐ rating maps to Tốt/Khá/TB/Yếu, and the year takes the HK II
  rating [U] (the regulation weighs HK II and progress; no formula is published);
- THPT chuyên classes (the specialised subject as an extra anchor) are not modelled;
- article numbers of the legacy circular are cited as DOMAIN gives them or as best known [U].
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
from records.rules.secondary import (
    YEAR,
    Clauses,
    SubjectTable,
    retest_value,
    subject_results,
)
from records.rules.tt58_learning import (
    CIRCULAR,
    LEVEL_LABELS_VI,
    anchors_for,
    comment_rule,
    learning_finding,
    overall_average,
)

RULE_SET_ID: Final = "tt58_2011"
RULE_VERSION: Final = "1"
CONDUCT_LABELS_VI: Final = {"T": "Tốt", "K": "Khá", "TB": "Trung bình", "Y": "Yếu"}
CONDUCT_FROM_CELL: Final = {"T": "T", "K": "K", "D": "TB", "CD": "Y"}
PERIOD_NAMES_VI: Final = {"term_1": "học kỳ I", "term_2": "học kỳ II", "year": "cả năm học"}
AWARD_LABELS_VI: Final = {
    "gioi": "Học sinh Giỏi",
    "tien_tien": "Học sinh Tiên tiến",
    "none": "Không",
}
PROMOTION_LABELS_VI: Final = {
    "promoted": "Được lên lớp",
    "summer_reassessment": "Kiểm tra lại trong hè",
    "conduct_training": "Rèn luyện hạnh kiểm trong hè",
    "retained": "Ở lại lớp",
}
YES_NO_VI: Final = {"yes": "Có", "no": "Không"}
CLAUSES: Final = Clauses(
    term_average=f"{CIRCULAR}, Điều 11",
    year_average=f"{CIRCULAR}, Điều 11",
    comment_term=f"{CIRCULAR}, Điều 10",
    comment_year=f"{CIRCULAR}, Điều 10",
)
OVERALL_CLAUSE: Final = f"{CIRCULAR}, Điều 12"
CONDUCT_CLAUSE: Final = f"{CIRCULAR}, Điều 5"
PROMOTION_CLAUSE: Final = f"{CIRCULAR}, Điều 15"
REASSESSMENT_CLAUSE: Final = f"{CIRCULAR}, Điều 16"
TRAINING_CLAUSE: Final = f"{CIRCULAR}, Điều 17"
AWARD_CLAUSE: Final = f"{CIRCULAR}, Điều 18"


def _rating(inputs: StudentInputs, period: Period) -> str | None:
    raw = inputs.cell(CONDUCT_SHEET, period, "rating")
    if raw is None:
        return None
    if raw not in CONDUCT_FROM_CELL:
        raise DomainError(
            "cell-invalid", "Mức hạnh kiểm không hợp lệ", f"conduct/{period}: {raw!r}"
        )
    return CONDUCT_FROM_CELL[raw]


class Tt58RuleSet:
    """Thông tư 58/2011/TT-BGDĐT, sửa đổi bởi Thông tư 26/2020/TT-BGDĐT (THCS, THPT)."""

    id: str = RULE_SET_ID
    version: str = RULE_VERSION
    title_vi: str = "Thông tư 58/2011/TT-BGDĐT (sửa đổi bởi TT 26/2020) — hạnh kiểm, học lực"

    def compute(
        self, inputs: StudentInputs, options: RuleOptions = DEFAULT_OPTIONS
    ) -> StudentResults:
        rec = Recorder(self.id, self.version)
        table = subject_results(inputs, options, rec, CLAUSES, comment_rule)
        anchors = anchors_for(inputs.school_year)
        learning: dict[str, str | None] = {}
        for key in ("term_1", "term_2", YEAR):
            values = table.period(key)
            scored = [values[c] for c in table.scored]
            complete = bool(scored) and all(v is not None for v in scored)
            overall = (
                overall_average({c: Decimal(values[c] or "") for c in table.scored})
                if complete
                else None
            )
            rec.add(
                f"overall_average.{key}",
                None if overall is None else str(overall),
                str(overall),
                OVERALL_CLAUSE,
                {c: values[c] for c in table.scored},
                f"ĐTB các môn {PERIOD_NAMES_VI[key]} là trung bình cộng ĐTB các môn tính điểm"
                f" = {overall}."
                if overall is not None
                else f"Chưa đủ ĐTB các môn tính điểm {PERIOD_NAMES_VI[key]}.",
            )
            learning[key] = learning_finding(
                rec, f"learning.{key}", values, table, anchors, PERIOD_NAMES_VI[key]
            )
        ratings = {p.value: _rating(inputs, p) for p in (Period.TERM_1, Period.TERM_2)}
        for period, rating in ratings.items():
            rec.add(
                f"conduct.{period}",
                rating,
                CONDUCT_LABELS_VI.get(rating or "", ""),
                CONDUCT_CLAUSE,
                {"rating": rating},
                f"Hạnh kiểm {PERIOD_NAMES_VI[period]} do giáo viên chủ nhiệm xếp loại.",
            )
        conduct = ratings["term_2"]
        rec.add(
            "conduct.year",
            conduct,
            CONDUCT_LABELS_VI.get(conduct or "", ""),
            CONDUCT_CLAUSE,
            ratings,
            "Hạnh kiểm cả năm lấy theo xếp loại học kỳ II (quy ước chưa xác nhận)."
            if conduct
            else "Chưa có xếp loại hạnh kiểm học kỳ II.",
        )
        _promotion(inputs, options, rec, table, anchors, learning[YEAR], conduct)
        _award(rec, learning[YEAR], conduct)
        return rec.results()


def _promotion(  # noqa: PLR0912, PLR0917 - one decision table, read top to bottom
    inputs: StudentInputs,
    options: RuleOptions,
    rec: Recorder,
    table: SubjectTable,
    anchors: frozenset[str],
    learning: str | None,
    conduct: str | None,
) -> None:
    absences = inputs.absence_days
    over = absences is not None and absences > options.absence_limit_days
    year = table.period(YEAR)
    basis: dict[str, str | None] = {
        "learning.year": learning,
        "conduct.year": conduct,
        "absence_days": None if absences is None else str(absences),
    }
    reassess: str | None
    train: str | None
    if over:
        reassess = train = "no"
    elif learning is None or conduct is None:
        reassess = train = None
    else:
        reassess = "yes" if learning == "Y" and conduct != "Y" else "no"
        train = "yes" if conduct == "Y" and learning in ("G", "K", "TB") else "no"
    retest = [
        c
        for c in table.subjects
        if reassess == "yes"
        and (
            (c in table.commented and year[c] == "CD")
            or (c in table.scored and Decimal(year[c] or "0") < 5)
        )
    ]
    rec.add(
        "summer_reassessment",
        reassess,
        YES_NO_VI.get(reassess or "", ""),
        REASSESSMENT_CLAUSE,
        {c: year[c] for c in retest},
        f"Học lực Yếu, hạnh kiểm từ TB: kiểm tra lại {names_vi(retest, table.subjects)}."
        if reassess == "yes"
        else "Không thuộc diện kiểm tra lại."
        if reassess
        else "Chưa đủ kết quả cả năm.",
    )
    rec.add(
        "conduct_training",
        train,
        YES_NO_VI.get(train or "", ""),
        TRAINING_CLAUSE,
        basis,
        "Hạnh kiểm Yếu: rèn luyện trong hè."
        if train == "yes"
        else "Không thuộc diện rèn luyện hạnh kiểm trong hè."
        if train
        else "Chưa đủ kết quả cả năm.",
    )
    after: str | None = None
    if retest and any(retest_value(inputs, table.subjects[c]) for c in retest):
        replaced = dict(year) | {c: retest_value(inputs, table.subjects[c]) for c in retest}
        after = learning_finding(
            rec, "learning.after_summer", replaced, table, anchors, "sau kiểm tra lại"
        )
        basis["learning.after_summer"] = after
    if train == "yes" and (rating := _rating(inputs, Period.SUMMER)) is not None:
        after = rec.add(
            "conduct.after_summer",
            rating,
            CONDUCT_LABELS_VI[rating],
            TRAINING_CLAUSE,
            {"rating": rating},
            "Xếp loại lại hạnh kiểm sau rèn luyện trong hè.",
        )
        basis["conduct.after_summer"] = after
    value: str | None
    clause = PROMOTION_CLAUSE
    if over:
        value, reason = "retained", f"Nghỉ học {absences} buổi, quá {options.absence_limit_days}."
    elif learning is None or conduct is None:
        value, reason = None, "Chưa đủ học lực và hạnh kiểm cả năm."
    elif learning == "KEM":
        value, reason = "retained", "Học lực cả năm Kém."
    elif learning == "Y" and conduct == "Y":
        value, reason = "retained", "Học lực và hạnh kiểm cả năm đều Yếu."
    elif reassess == "yes" or train == "yes":
        clause = REASSESSMENT_CLAUSE if reassess == "yes" else TRAINING_CLAUSE
        if after is None:
            value = "summer_reassessment" if reassess == "yes" else "conduct_training"
            reason = "Chờ kết quả sau kỳ nghỉ hè."
        elif after in ("Y", "KEM"):
            value, reason = "retained", "Kết quả sau kỳ nghỉ hè vẫn dưới mức Trung bình."
        elif absences is None:
            value, reason = None, "Đạt sau kỳ nghỉ hè nhưng chưa có số buổi nghỉ học."
        else:
            value, reason = "promoted", "Kết quả sau kỳ nghỉ hè từ Trung bình trở lên."
    elif absences is None:
        value, reason = None, "Học lực, hạnh kiểm đạt nhưng chưa có số buổi nghỉ học."
    else:
        value, reason = (
            "promoted",
            (
                f"Hạnh kiểm {CONDUCT_LABELS_VI[conduct]}, học lực {LEVEL_LABELS_VI[learning]}, "
                f"nghỉ {absences} buổi."
            ),
        )
    rec.add("promotion", value, PROMOTION_LABELS_VI.get(value or "", ""), clause, basis, reason)


def _award(rec: Recorder, learning: str | None, conduct: str | None) -> None:
    basis = {"learning.year": learning, "conduct.year": conduct}
    if learning is None or conduct is None:
        rec.add("award", None, "", AWARD_CLAUSE, basis, "Chưa đủ học lực và hạnh kiểm cả năm.")
        return
    if learning == "G" and conduct == "T":
        value = "gioi"
    elif learning in ("G", "K") and conduct in ("T", "K"):
        value = "tien_tien"
    else:
        value = "none"
    rec.add(
        "award",
        value,
        AWARD_LABELS_VI[value],
        AWARD_CLAUSE,
        basis,
        f"Học lực {LEVEL_LABELS_VI[learning]}, hạnh kiểm {CONDUCT_LABELS_VI[conduct]}.",
    )


TT58: Final = Tt58RuleSet()
