"""HSĐT identity service — Định danh và phân quyền.

Org tree, accounts, roles and scoped grants, tokens."""

__version__ = "0.1.0"
