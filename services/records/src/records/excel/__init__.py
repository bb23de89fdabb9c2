"""Excel workbooks teachers fill in offline: grade sheets (sổ điểm) and class lists.

Pure: bytes in, typed values out, and the reverse; nothing here touches the database.
"""

from __future__ import annotations

from records.excel.common import XLSX_MEDIA_TYPE, CellProblem, WorkbookInvalid

__all__ = ["XLSX_MEDIA_TYPE", "CellProblem", "WorkbookInvalid"]
