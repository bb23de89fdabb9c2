"""A sample document to sign: a two-page transcript (học bạ) as PDF/A-2b, rendered by typst.

Tests, the demo and benchmarks use it until the archive service renders real layouts. typst's
bundled fonts (Libertinus Serif) render Vietnamese, so the output does not depend on the
machine's fonts. Data goes in through ``sys.inputs`` as JSON, never into the source, so names
need no escaping.
"""

from __future__ import annotations

import json
import threading
from typing import Final

import typst

DEFAULT_LINES: Final = (
    ("Toán", "8,5 — Đạt"),
    ("Ngữ văn", "7,8 — Đạt"),
    ("Tiếng Anh", "9,0 — Đạt"),
    ("Khoa học tự nhiên", "8,2 — Đạt"),
    ("Lịch sử và Địa lí", "7,5 — Đạt"),
    ("Giáo dục công dân", "Đạt"),
    ("Công nghệ", "8,0 — Đạt"),
    ("Tin học", "9,2 — Đạt"),
    ("Giáo dục thể chất", "Đạt"),
    ("Nghệ thuật", "Đạt"),
)

# Where the four signatures of the sample go on page 2 (index 1), in PDF points from the
# bottom-left corner of an A4 page: subject teacher, form teacher, principal, school seal.
SIGNATURE_BOXES: Final[tuple[tuple[int, int, int, int], ...]] = (
    (56, 168, 290, 244),
    (303, 168, 539, 244),
    (56, 58, 290, 134),
    (303, 58, 539, 134),
)

_SOURCE: Final = """
#let data = json(bytes(sys.inputs.data))
#set document(title: "Học bạ – " + data.student, author: data.school)
#set page(paper: "a4", margin: (x: 2cm, y: 2cm), numbering: "1 / 1")
#set text(font: "Libertinus Serif", size: 11pt, lang: "vi")

#align(center)[
  #text(size: 10pt)[CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM \\ Độc lập – Tự do – Hạnh phúc]
  #v(1em)
  #text(size: 18pt, weight: "bold")[HỌC BẠ]
  #v(0.5em)
  #text(size: 12pt)[#data.school]
]

#v(1em)
*Họ và tên học sinh:* #data.student

#v(0.5em)
#table(
  columns: (1fr, 1fr),
  inset: 6pt,
  table.header([*Môn học / Hoạt động giáo dục*], [*Kết quả*]),
  ..data.lines.map(line => (line.at(0), line.at(1))).flatten()
)

#v(1em)
Bảng kết quả trên được trích từ sổ theo dõi và đánh giá học sinh của nhà trường.

#pagebreak()

#text(size: 14pt, weight: "bold")[Nhận xét và xác nhận]

#v(0.5em)
Học sinh #data.student đã hoàn thành chương trình năm học, được lên lớp.
Giáo viên chủ nhiệm và Hiệu trưởng xác nhận học bạ bằng chữ ký số bên dưới.

#v(1fr)
#grid(
  columns: (1fr, 1fr),
  gutter: 1em,
  [Giáo viên bộ môn], [Giáo viên chủ nhiệm],
)
#v(8em)
#grid(
  columns: (1fr, 1fr),
  gutter: 1em,
  [Hiệu trưởng], [Xác nhận của nhà trường],
)
#v(8em)
""".encode()

# One compiler: it finds its bundled fonts once. typst-py compiles source given at construction
# only once, so the source goes to each compile() call. Not thread-safe, hence the lock.
_compiler: typst.Compiler | None = None
_lock = threading.Lock()


def transcript_pdf(
    student_name: str, school: str, lines: list[tuple[str, str]] | None = None
) -> bytes:
    """A two-page PDF/A-2b transcript with ``lines`` of (subject, result) on page 1."""
    global _compiler  # noqa: PLW0603  # one lazily built compiler per process
    data = json.dumps(
        {
            "student": student_name,
            "school": school,
            "lines": [list(line) for line in (DEFAULT_LINES if lines is None else lines)],
        },
        ensure_ascii=False,
    )
    with _lock:
        if _compiler is None:
            _compiler = typst.Compiler(ignore_system_fonts=True)
        pdf = _compiler.compile(
            input=_SOURCE, format="pdf", sys_inputs={"data": data}, pdf_standards=["a-2b"]
        )
    if not isinstance(pdf, bytes):  # a list only for multi-page PNG/SVG output
        raise TypeError("typst returned pages instead of one PDF")
    return pdf
