"""HSĐT records service — Hồ sơ học sinh.

School years, classes, students, assessments, results, locks, corrections, audit."""

__version__ = "0.1.0"
