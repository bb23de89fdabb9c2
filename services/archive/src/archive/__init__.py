"""HSĐT archive service — Lưu trữ: PDF/A rendering, object storage with retention, fixity."""

__version__ = "0.1.0"
