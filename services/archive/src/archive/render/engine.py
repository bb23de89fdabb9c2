"""Typst, once per process: the templates read once, one compiler, PDF/A-3b out.

FACTS: a typst-py ``Compiler`` built from source bytes compiles only once, so the compiler is
built empty (finding its bundled fonts once: Libertinus Serif covers Vietnamese) and the source
goes to every ``compile`` with the data as ``sys_inputs``. System fonts are ignored, so a
document renders the same on every machine. The compiler is not thread-safe, hence the lock.

PDF/A-3b, not 2b: PDF/A-2 forbids embedding a file that is not itself PDF/A, and the JSON twin
is one; PDF/A-3 allows any associated file (typst refuses ``pdf.attach`` under a-2b).
"""

from __future__ import annotations

import io
import threading
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Final

import segno
import typst

PDF_STANDARD: Final = "a-3b"
_TEMPLATES: Final = files("archive.render") / "templates"
_lock = threading.Lock()


@cache
def template(name: str) -> bytes:
    """``common.typ`` followed by the document's template, as one source."""
    common = (_TEMPLATES / "common.typ").read_bytes()
    return common + b"\n" + (_TEMPLATES / f"{name}.typ").read_bytes()


@cache
def _compiler() -> typst.Compiler:
    return typst.Compiler(ignore_system_fonts=True)


def qr_svg(url: str) -> str:
    """The URL as a QR code (error correction M), SVG without a border: the page has margins."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, border=0
    )
    return out.getvalue().decode()


def compile_pdf(name: str, inputs: dict[str, str], at: datetime) -> bytes:
    """The PDF/A-3b of template ``name`` with ``inputs`` (view, twin, qr) as sys.inputs."""
    source = template(name)
    with _lock:
        pdf = _compiler().compile(
            input=source,
            format="pdf",
            sys_inputs=inputs,
            pdf_standards=[PDF_STANDARD],
            timestamp=at.replace(microsecond=0),
        )
    if not isinstance(pdf, bytes):
        raise TypeError("typst returned pages instead of one PDF")
    return pdf
