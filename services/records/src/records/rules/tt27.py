"""TT 27/2020/TT-BGDĐT: assessment of primary students (grades 1–5), DOMAIN §2.

Results: each subject's level at each checkpoint (echoed with its test score), the end-of-year
educational result HTXS/HTT/HT/CHT (first rung that holds wins), grade completion, primary
completion (grade 5) and awards. TT 27 sets no absence limit, so ``absence_days`` is unused.
The "Hoàn thành" test floor (≥ 5) is [S] and is ``RuleOptions.primary_completion_min_score``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from records.domain.curriculum import PRIMARY_CHECKPOINTS, AssessmentForm, Period, SubjectSpec
from records.domain.errors import DomainError
from records.domain.sheets import QUALITIES_SHEET, QUALITY_CRITERIA
from records.rules.base import (
    DEFAULT_OPTIONS,
    Recorder,
    RuleOptions,
    StudentInputs,
    StudentResults,
)

RULE_SET_ID: Final = "tt27_2020"
RULE_VERSION: Final = "1"
CIRCULAR: Final = "TT 27/2020/TT-BGDĐT"
RESULTS: Final = ("CHT", "HT", "HTT", "HTXS")  # worst to best
RESULT_LABELS_VI: Final = {
    "HTXS": "Hoàn thành xuất sắc",
    "HTT": "Hoàn thành tốt",
    "HT": "Hoàn thành",
    "CHT": "Chưa hoàn thành",
}
SUBJECT_LEVEL_LABELS_VI: Final = {"T": "Hoàn thành tốt", "H": "Hoàn thành", "C": "Chưa hoàn thành"}
QUALITY_LEVELS: Final = frozenset({"T", "D", "C"})
AWARD_LABELS_VI: Final = {
    "xuat_sac": "Học sinh Xuất sắc",
    "tieu_bieu": "Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện",
    "none": "Không",
}
YES_NO_VI: Final = {"yes": "Có", "no": "Không"}
CHECKPOINT_NAMES_VI: Final = {
    Period.MID_TERM_1: "giữa học kỳ I",
    Period.END_TERM_1: "cuối học kỳ I",
    Period.MID_TERM_2: "giữa học kỳ II",
    Period.END_YEAR: "cuối năm học",
}
_EXCELLENT_SCORE: Final = 9
_GOOD_SCORE: Final = 7
_LAST_GRADE: Final = 5


def shortfall(
    result: str,
    levels: Mapping[str, str],
    qualities: Mapping[str, str],
    scores: Mapping[str, int],
    min_score: int = 5,
    *,
    names: Mapping[str, str] | None = None,
) -> str | None:
    """Why the end-of-year cells miss ``result`` (the first failing condition), or None."""

    def named(codes: list[str]) -> str:
        return ", ".join((names or {}).get(c, c) for c in codes)

    top = result in ("HTXS", "HTT")
    subject_ok = ("T",) if top else ("T", "H")
    quality_ok = ("T",) if top else ("T", "D")
    floor = {"HTXS": _EXCELLENT_SCORE, "HTT": _GOOD_SCORE}.get(result, min_score)
    if bad := [c for c, v in levels.items() if v not in subject_ok]:
        return f"môn học, hoạt động chưa đạt mức yêu cầu: {named(bad)}"
    if bad := [c for c, v in qualities.items() if v not in quality_ok]:
        return f"phẩm chất, năng lực chưa đạt mức yêu cầu: {named(bad)}"
    if bad := [c for c, v in scores.items() if v < floor]:
        return f"điểm kiểm tra cuối năm dưới {floor}: môn {named(bad)}"
    return None


def education_result(
    levels: Mapping[str, str],
    qualities: Mapping[str, str],
    scores: Mapping[str, int],
    min_score: int = 5,
) -> str:
    """HTXS, HTT, HT or CHT from the end-of-year levels, qualities and test scores (§2.5)."""
    for result in ("HTXS", "HTT", "HT"):
        if shortfall(result, levels, qualities, scores, min_score) is None:
            return result
    return "CHT"


def _level(inputs: StudentInputs, spec: SubjectSpec, checkpoint: Period) -> str | None:
    raw = inputs.cell(spec.code, checkpoint, "level")
    if raw is not None and raw not in SUBJECT_LEVEL_LABELS_VI:
        raise DomainError("cell-invalid", "Mức đạt được không hợp lệ", f"{spec.code}: {raw!r}")
    return raw


def _score(inputs: StudentInputs, spec: SubjectSpec, checkpoint: Period) -> str | None:
    if checkpoint not in spec.tested_at:
        return None
    raw = inputs.cell(spec.code, checkpoint, "score")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= 10):
        raise DomainError(
            "cell-invalid", "Điểm kiểm tra định kỳ không hợp lệ", f"{spec.code}: {raw!r}"
        )
    return raw


class Tt27RuleSet:
    """Thông tư 27/2020/TT-BGDĐT (tiểu học). TT 30/2014 (the years before) is not implemented."""

    id: str = RULE_SET_ID
    version: str = RULE_VERSION
    title_vi: str = "Thông tư 27/2020/TT-BGDĐT — đánh giá học sinh tiểu học"

    def compute(
        self, inputs: StudentInputs, options: RuleOptions = DEFAULT_OPTIONS
    ) -> StudentResults:
        rec = Recorder(self.id, self.version)
        for spec in inputs.subjects:
            if spec.form is not AssessmentForm.PRIMARY:
                raise DomainError(
                    "subject-form-invalid",
                    "Môn học không thuộc cấp tiểu học",
                    f"{spec.code} is assessed as {spec.form}",
                )
        for checkpoint in PRIMARY_CHECKPOINTS:
            for spec in inputs.subjects:
                level, score = _level(inputs, spec, checkpoint), _score(inputs, spec, checkpoint)
                shown: dict[str, str | None] = {"level": level}
                if checkpoint in spec.tested_at:
                    shown["score"] = score
                rec.add(
                    f"subject_level.{checkpoint.value}.{spec.code}",
                    level,
                    SUBJECT_LEVEL_LABELS_VI.get(level or "", ""),
                    f"{CIRCULAR}, Điều 7",
                    shown,
                    f"Mức đạt được môn {spec.name_vi} {CHECKPOINT_NAMES_VI[checkpoint]} do giáo "
                    "viên đánh giá."
                    if level
                    else f"Chưa đánh giá môn {spec.name_vi} {CHECKPOINT_NAMES_VI[checkpoint]}.",
                )
        result = self._result(inputs, options, rec)
        self._completion(inputs, rec, result)
        return rec.results()

    def _result(self, inputs: StudentInputs, options: RuleOptions, rec: Recorder) -> str | None:
        end = Period.END_YEAR
        levels = {s.code: _level(inputs, s, end) for s in inputs.subjects}
        scores = {s.code: _score(inputs, s, end) for s in inputs.subjects if end in s.tested_at}
        qualities: dict[str, str | None] = {}
        for code, _name in QUALITY_CRITERIA:
            raw = qualities[code] = inputs.cell(QUALITIES_SHEET, end, code)
            if raw is not None and raw not in QUALITY_LEVELS:
                raise DomainError("cell-invalid", "Mức phẩm chất, năng lực không hợp lệ", code)
        shown: dict[str, str | None] = {
            **levels,
            **{f"{c}.score": v for c, v in scores.items()},
            **{f"{QUALITIES_SHEET}.{c}": v for c, v in qualities.items()},
        }
        clause = f"{CIRCULAR}, Điều 9"
        missing = [k for k, v in shown.items() if v is None]
        if missing:
            return rec.add(
                "education_result",
                None,
                "",
                clause,
                shown,
                f"Chưa tổng hợp được kết quả cuối năm: còn thiếu {', '.join(missing)}.",
            )
        lv = {c: v or "" for c, v in levels.items()}
        qu = {c: v or "" for c, v in qualities.items()}
        sc = {c: int(v or "0") for c, v in scores.items()}
        result = education_result(lv, qu, sc, options.primary_completion_min_score)
        if result == "HTXS":
            reason = (
                "Mọi môn học, hoạt động Hoàn thành tốt, mọi phẩm chất, năng lực Tốt và mọi "
                "bài kiểm tra cuối năm từ 9 điểm trở lên."
            )
        else:
            higher = RESULTS[RESULTS.index(result) + 1]
            names: dict[str, str] = dict(QUALITY_CRITERIA)
            names |= {spec.code: spec.name_vi for spec in inputs.subjects}
            why = shortfall(higher, lv, qu, sc, options.primary_completion_min_score, names=names)
            reason = (
                f"{RESULT_LABELS_VI[result]}: chưa đạt mức {RESULT_LABELS_VI[higher]} vì {why}."
            )
        return rec.add("education_result", result, RESULT_LABELS_VI[result], clause, shown, reason)

    def _completion(self, inputs: StudentInputs, rec: Recorder, result: str | None) -> None:
        basis = {"education_result": result}
        done = None if result is None else ("yes" if result != "CHT" else "no")
        rec.add(
            "grade_completion",
            done,
            YES_NO_VI.get(done or "", ""),
            f"{CIRCULAR}, Điều 11",
            basis,
            "Kết quả giáo dục từ Hoàn thành trở lên nên hoàn thành chương trình lớp học."
            if done == "yes"
            else "Chưa hoàn thành: giáo viên lập kế hoạch hỗ trợ, đánh giá lại; hiệu trưởng "
            "quyết định lên lớp hay ở lại."
            if done == "no"
            else "Chưa có kết quả giáo dục cuối năm.",
        )
        if inputs.grade == _LAST_GRADE:
            rec.add(
                "primary_completion",
                done,
                YES_NO_VI.get(done or "", ""),
                f"{CIRCULAR}, Điều 11",
                basis,
                "Hoàn thành lớp 5: ghi Hoàn thành chương trình tiểu học vào học bạ."
                if done == "yes"
                else "Chưa hoàn thành chương trình lớp 5."
                if done == "no"
                else "Chưa có kết quả giáo dục cuối năm.",
            )
        award: str | None
        if result is None:
            award, reason = None, "Chưa có kết quả giáo dục cuối năm."
        elif result == "HTXS":
            award, reason = "xuat_sac", "Kết quả giáo dục Hoàn thành xuất sắc."
        elif result == "HTT" and inputs.outstanding_vote:
            award = "tieu_bieu"
            reason = (
                "Hoàn thành tốt, có môn nổi trội hoặc tiến bộ rõ rệt và được tập thể lớp bình chọn."
            )
        else:
            award = "none"
            reason = (
                "Hoàn thành tốt nhưng chưa được tập thể lớp công nhận tiêu biểu."
                if result == "HTT"
                else f"Kết quả {RESULT_LABELS_VI[result]} không thuộc diện khen thưởng."
            )
        rec.add(
            "award",
            award,
            AWARD_LABELS_VI.get(award or "", ""),
            f"{CIRCULAR}, Điều 13",
            {**basis, "outstanding_vote": "yes" if inputs.outstanding_vote else "no"},
            reason,
        )


TT27: Final = Tt27RuleSet()
