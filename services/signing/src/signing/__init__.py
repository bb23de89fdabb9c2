"""HSĐT signing service — Ký số: PAdES signatures with keys in a PKCS#11 token."""

__version__ = "0.1.0"
