"""The progress figures as an Excel workbook (báo cáo tiến độ cập nhật), Vietnamese headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font

from records.excel.common import put, save
from records.progress import ProgressLine

HEADERS: Final = (
    "Mã",
    "Đơn vị / nhóm",
    "Số đầu điểm phải nhập",
    "Đã nhập",
    "Tỷ lệ (%)",
    "Nhập muộn",
    "Số lớp đã xác nhận",
    "Số lớp đã phê duyệt",
)
BY_LABELS_VI: Final = {
    "school": "theo trường",
    "district": "theo phòng GD&ĐT",
    "class": "theo lớp",
    "teacher": "theo giáo viên",
    "subject": "theo môn học",
    "month": "theo tháng",
}


def export_progress(title: str, by: str, lines: Sequence[ProgressLine]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tiến độ"
    put(sheet, 1, 1, f"Tiến độ cập nhật điểm, đánh giá — {title} — {BY_LABELS_VI[by]}")
    sheet.cell(row=1, column=1).font = Font(bold=True)
    for column, header in enumerate(HEADERS, start=1):
        put(sheet, 3, column, header).font = Font(bold=True)
    for row, line in enumerate(lines, start=4):
        values = (
            line.key,
            line.label,
            line.required,
            line.entered,
            line.percent,
            line.late,
            line.classes_confirmed,
            line.classes_approved,
        )
        for column, value in enumerate(values, start=1):
            put(sheet, row, column, value)
    for letter, width in zip("ABCDEFGH", (38, 30, 22, 12, 11, 12, 18, 19), strict=True):
        sheet.column_dimensions[letter].width = width
    return save(book)
