"""Legacy học lực (TT 58/2011 Điều 13 as amended by TT 26/2020): DOMAIN §3.

The comment-subject rule [U], the overall average, the Giỏi/Khá/TB/Yếu/Kém bands with the
anchor subjects and the single-subject adjustment, as pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Final

from records.domain.curriculum import SubjectSpec
from records.rules.base import Recorder, names_vi, round_exact_1, start_year
from records.rules.secondary import SubjectTable, pending_subjects

CIRCULAR: Final = "TT 58/2011/TT-BGDĐT (sửa đổi bởi TT 26/2020/TT-BGDĐT)"
LEVELS: Final = ("KEM", "Y", "TB", "K", "G")  # worst to best
LEVEL_LABELS_VI: Final = {"G": "Giỏi", "K": "Khá", "TB": "Trung bình", "Y": "Yếu", "KEM": "Kém"}
LEARNING_CLAUSE: Final = f"{CIRCULAR}, Điều 13, khoản 1"
ADJUSTMENT_CLAUSE: Final = f"{CIRCULAR}, Điều 13, khoản 3"

# (level, overall and anchor threshold, floor for every subject); comment subjects all Đạt.
_BANDS: Final = (
    ("G", Decimal("8.0"), Decimal("6.5")),
    ("K", Decimal("6.5"), Decimal("5.0")),
    ("TB", Decimal("5.0"), Decimal("3.5")),
)
_WEAK: Final = (Decimal("3.5"), Decimal("2.0"))
# DOMAIN §3 single-subject adjustment: (would-be level, computed level) → adjusted level.
ADJUSTMENTS: Final = {("G", "TB"): "K", ("G", "Y"): "TB", ("K", "Y"): "TB", ("K", "KEM"): "Y"}
_TEN: Final = Decimal(10)
FOREIGN_LANGUAGE_FROM: Final = 2020  # TT 26/2020 adds Ngoại ngữ to the anchors from 2020-21


def anchors_for(school_year: str) -> frozenset[str]:
    """Anchor subjects (môn chủ chốt): Toán, Ngữ văn, and Ngoại ngữ from 2020-21."""
    base = {"toan", "ngu_van"}
    if start_year(school_year) >= FOREIGN_LANGUAGE_FROM:
        base |= {"ngoai_ngu", "ngoai_ngu_1"}
    return frozenset(base)


def comment_rule(spec: SubjectSpec, cells: Mapping[str, str | None]) -> tuple[str | None, str]:
    """[U] Đạt: all entered, ≥ 2/3 Đạt and the end-of-term assessment Đạt."""
    failed = [c for c, v in cells.items() if v == "CD"]
    if cells.get("ck") == "CD" or 3 * len(failed) > len(cells):
        return "CD", f"Chưa đạt ở {', '.join(failed)} (cần 2/3 Đạt, trong đó có bài cuối kỳ)."
    missing = [c for c, v in cells.items() if v is None]
    if missing:
        return None, f"còn thiếu {', '.join(missing)}."
    return "D", f"{len(cells) - len(failed)}/{len(cells)} lần Đạt, bài cuối kỳ Đạt."


def overall_average(scored: Mapping[str, Decimal]) -> Decimal:
    """The plain mean of the scored subjects' averages (ĐTBhk / ĐTBcn), one decimal."""
    return round_exact_1(sum((Fraction(v) for v in scored.values()), Fraction(0)) / len(scored))


def classify(
    overall: Decimal,
    scored: Mapping[str, Decimal],
    comments: Mapping[str, str],
    anchors: frozenset[str],
) -> str:
    """Học lực by DOMAIN §3's table, before the single-subject adjustment."""
    comments_ok = all(v == "D" for v in comments.values())
    for level, threshold, floor in _BANDS:
        if (
            overall >= threshold
            and any(v >= threshold for c, v in scored.items() if c in anchors)
            and all(v >= floor for v in scored.values())
            and comments_ok
        ):
            return level
    if overall >= _WEAK[0] and all(v >= _WEAK[1] for v in scored.values()):
        return "Y"
    return "KEM"


def evaluate(
    overall: Decimal,
    scored: Mapping[str, Decimal],
    comments: Mapping[str, str],
    anchors: frozenset[str],
) -> tuple[str, str, str | None, str | None]:
    """(computed, final, would-be, trigger) with the single-subject adjustment.

    "The average reaches level W but one subject pulls the result down": setting that one
    subject to its best value (10.0 or Đạt), the average kept, would reach W. An average that
    reaches Giỏi also reaches Khá, so the Khá rows apply to it too [U]: Giỏi → Kém, absent from
    the table, becomes Yếu through Khá → Kém, and the adjustment never falls as scores rise.
    """
    computed = classify(overall, scored, comments, anchors)
    best: tuple[str, str] | None = None
    trials = [(c, {**scored, c: _TEN}, comments) for c in scored] + [
        (c, scored, {**comments, c: "D"}) for c in comments
    ]
    for code, s, m in trials:
        level = classify(overall, s, m, anchors)
        if best is None or LEVELS.index(level) > LEVELS.index(best[0]):
            best = (level, code)
    if best is not None:
        reached = LEVELS.index(best[0])
        for would_be in ("G", "K"):
            adjusted = ADJUSTMENTS.get((would_be, computed))
            if adjusted is not None and reached >= LEVELS.index(would_be):
                return computed, adjusted, would_be, best[1]
    return computed, computed, None, None


def learning_finding(  # noqa: PLR0917 - the shared context of one computation
    rec: Recorder,
    key: str,
    values: Mapping[str, str | None],
    table: SubjectTable,
    anchors: frozenset[str],
    period_vi: str,
) -> str | None:
    pending = pending_subjects(values)
    if pending or not table.scored:
        return rec.add(
            key,
            None,
            "",
            LEARNING_CLAUSE,
            values,
            f"Chưa xếp được học lực {period_vi}: chưa có kết quả môn "
            f"{names_vi(pending, table.subjects)}.",
        )
    scored = {c: Decimal(values[c] or "") for c in table.scored}
    comments = {c: values[c] or "" for c in table.commented}
    overall = overall_average(scored)
    computed, final, would_be, trigger = evaluate(overall, scored, comments, anchors)
    shown = {**values, "overall_average": str(overall)}
    if final != computed and would_be is not None and trigger is not None:
        return rec.add(
            key,
            final,
            LEVEL_LABELS_VI[final],
            ADJUSTMENT_CLAUSE,
            shown,
            f"ĐTB {period_vi} {overall} đạt mức {LEVEL_LABELS_VI[would_be]} nhưng do "
            f"môn {names_vi([trigger], table.subjects)} mà xuống "
            f"{LEVEL_LABELS_VI[computed]}, nên được điều chỉnh thành "
            f"{LEVEL_LABELS_VI[final]}.",
        )
    return rec.add(
        key,
        final,
        LEVEL_LABELS_VI[final],
        LEARNING_CLAUSE,
        shown,
        f"ĐTB các môn {period_vi} {overall}; học lực {LEVEL_LABELS_VI[final]} theo "
        f"ngưỡng điểm, môn chủ chốt ({names_vi(sorted(anchors & set(scored)), table.subjects)})"
        f" và điểm thấp nhất {min(scored.values())}.",
    )
