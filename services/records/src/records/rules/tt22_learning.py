"""TT 22/2021 learning result (kết quả học tập): Điều 9, DOMAIN §1.6–§1.7.

The comment-subject rule, the Tốt/Khá/Đạt/Chưa đạt criteria and the one-subject adjustment,
as pure functions the rule set (``records.rules.tt22``) and the tests call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from records.domain.curriculum import SubjectSpec
from records.rules.base import (
    DEFAULT_OPTIONS,
    Recorder,
    RuleOptions,
    names_vi,
)
from records.rules.secondary import (
    Clauses,
    SubjectTable,
    pending_subjects,
)

RULE_SET_ID: Final = "tt22_2021"
RULE_VERSION: Final = "1"
CIRCULAR: Final = "TT 22/2021/TT-BGDĐT"

LEVELS: Final = ("CD", "D", "K", "T")  # worst to best
LEVEL_LABELS_VI: Final = {"T": "Tốt", "K": "Khá", "D": "Đạt", "CD": "Chưa đạt"}
PERIOD_NAMES_VI: Final = {"term_1": "học kỳ I", "term_2": "học kỳ II", "year": "cả năm học"}

CLAUSES: Final = Clauses(
    term_average=f"{CIRCULAR}, Điều 9, khoản 2, điểm a",
    year_average=f"{CIRCULAR}, Điều 9, khoản 2, điểm b",
    comment_term=f"{CIRCULAR}, Điều 9, khoản 1, điểm a",
    comment_year=f"{CIRCULAR}, Điều 9, khoản 1, điểm b",
)
LEARNING_CLAUSE: Final = f"{CIRCULAR}, Điều 9, khoản 3"
ADJUSTMENT_CLAUSE: Final = f"{CIRCULAR}, Điều 9, khoản 4"

_TEN: Final = Decimal(10)
_THRESHOLDS: Final = {"T": Decimal("8.0"), "K": Decimal("6.5"), "D": Decimal("5.0")}
_FLOORS: Final = {"T": Decimal("6.5"), "K": Decimal("5.0"), "D": Decimal("3.5")}
_MIN_SUBJECTS: Final = 6  # "ít nhất 06 môn"


def rank(level: str) -> int:
    return LEVELS.index(level)


def comment_rule(spec: SubjectSpec, cells: Mapping[str, str | None]) -> tuple[str | None, str]:
    """Đạt: every required assessment present and Đạt; Chưa đạt as soon as one is Chưa đạt."""
    failed = [c for c, v in cells.items() if v == "CD"]
    if failed:
        return "CD", f"có đánh giá Chưa đạt ở {', '.join(failed)} nên Chưa đạt."
    missing = [c for c, v in cells.items() if v is None]
    if missing:
        return None, f"chưa đủ các lần đánh giá bắt buộc, còn thiếu {', '.join(missing)}."
    return "D", f"đủ {len(cells)} lần đánh giá bắt buộc và tất cả đều Đạt."


def shortfall(
    level: str,
    scored: Mapping[str, Decimal],
    comments: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> str | None:
    """Why the results miss ``level`` (the first failing condition, subjects named), or None."""

    def named(codes: list[str]) -> str:
        return ", ".join((names or {}).get(c, c) for c in codes)

    failed = [c for c, v in comments.items() if v == "CD"]
    allowed = 1 if level == "D" else 0
    if len(failed) > allowed:
        return f"môn đánh giá bằng nhận xét Chưa đạt: {named(failed)}"
    below = [c for c, v in scored.items() if v < _FLOORS[level]]
    if below:
        return f"có môn dưới {_FLOORS[level]}: {named(below)}"
    reaching = sum(1 for v in scored.values() if v >= _THRESHOLDS[level])
    if reaching < _MIN_SUBJECTS:
        return f"chỉ có {reaching} môn từ {_THRESHOLDS[level]} trở lên (cần {_MIN_SUBJECTS})"
    return None


def classify_learning(scored: Mapping[str, Decimal], comments: Mapping[str, str]) -> str:
    """The Điều 9 k.3 level, before the one-subject adjustment (DOMAIN §1.7)."""
    for level in ("T", "K", "D"):
        if shortfall(level, scored, comments) is None:
            return level
    return "CD"


@dataclass(frozen=True, slots=True)
class LearningEvaluation:
    computed: str  # by the criteria alone
    final: str  # after the adjustment
    would_be: str | None  # Tốt or Khá reachable by changing one subject alone
    trigger: str | None  # the subject that alone pulled the result down


def evaluate_learning(
    scored: Mapping[str, Decimal],
    comments: Mapping[str, str],
    options: RuleOptions = DEFAULT_OPTIONS,
) -> LearningEvaluation:
    """The learning level with the Điều 9 adjustment.

    "Only because of one subject": setting that one subject to its best value (10.0 or Đạt)
    alone would reach Tốt or Khá. If the computed level is two or more below it, it is raised
    to the adjacent level: one above the computed level, or (option off) just below the
    would-be level.
    """
    computed = classify_learning(scored, comments)
    would_be: str | None = None
    trigger: str | None = None
    candidates = [(c, {**scored, c: _TEN}, comments) for c in scored] + [
        (c, scored, {**comments, c: "D"}) for c in comments
    ]
    for code, trial_scored, trial_comments in candidates:
        level = classify_learning(trial_scored, trial_comments)
        if level in ("T", "K") and (would_be is None or rank(level) > rank(would_be)):
            would_be, trigger = level, code
    if would_be is None or rank(would_be) - rank(computed) < 2:
        return LearningEvaluation(computed, computed, None, None)
    step = rank(computed) + 1 if options.adjustment_one_level_up else rank(would_be) - 1
    return LearningEvaluation(computed, LEVELS[step], would_be, trigger)


def learning_finding(  # noqa: PLR0917 - the shared context of one computation
    rec: Recorder,
    key: str,
    values: Mapping[str, str | None],
    table: SubjectTable,
    options: RuleOptions,
    period_vi: str,
) -> str | None:
    """Record the learning result of one period from each subject's result; returns its value."""
    pending = pending_subjects(values)
    if pending:
        return rec.add(
            key,
            None,
            "",
            LEARNING_CLAUSE,
            values,
            f"Chưa xếp được kết quả học tập {period_vi}: chưa có kết quả môn "
            f"{names_vi(pending, table.subjects)}.",
        )
    scored = {c: Decimal(values[c] or "") for c in table.scored}
    comments = {c: values[c] or "" for c in table.commented}
    ev = evaluate_learning(scored, comments, options)
    final_vi = LEVEL_LABELS_VI[ev.final]
    if ev.final != ev.computed and ev.trigger is not None and ev.would_be is not None:
        reason = (
            f"Theo tiêu chí, kết quả học tập {period_vi} là {LEVEL_LABELS_VI[ev.computed]}, "
            f"thấp hơn mức {LEVEL_LABELS_VI[ev.would_be]} từ hai mức trở lên chỉ do môn "
            f"{names_vi([ev.trigger], table.subjects)}, nên được điều chỉnh lên mức liền kề "
            f"{final_vi}."
        )
        return rec.add(key, ev.final, final_vi, ADJUSTMENT_CLAUSE, values, reason)
    if ev.final == "T":
        reason = (
            f"Kết quả học tập {period_vi} mức Tốt: mọi môn nhận xét Đạt, mọi môn tính điểm từ "
            f"6.5 trở lên và ít nhất {_MIN_SUBJECTS} môn từ 8.0 trở lên."
        )
    else:
        higher = LEVELS[rank(ev.final) + 1]
        names = {c: spec.name_vi for c, spec in table.subjects.items()}
        why = shortfall(higher, scored, comments, names) or ""
        reason = (
            f"Kết quả học tập {period_vi} mức {final_vi}, chưa đạt mức "
            f"{LEVEL_LABELS_VI[higher]} vì {why}."
        )
    return rec.add(key, ev.final, final_vi, LEARNING_CLAUSE, values, reason)
