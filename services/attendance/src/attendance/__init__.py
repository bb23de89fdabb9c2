"""HSĐT attendance service — Điểm danh: Bell schedules, roll calls, deadlines, absence totals."""

__version__ = "0.1.0"
