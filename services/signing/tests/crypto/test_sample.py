"""The sample transcript that tests, the demo and benchmarks sign."""

from __future__ import annotations

import re
from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader

from signing.crypto.sample import transcript_pdf


def test_transcript_is_a_two_page_pdf_a_2b_with_the_student_in_it() -> None:
    pdf = transcript_pdf("Hoàng Thị Thu Hương", "Trường THCS Thử Nghiệm", [("Toán", "9,5")])
    reader = PdfFileReader(BytesIO(pdf))
    assert reader.root["/Pages"]["/Count"] == 2
    xmp = reader.root["/Metadata"].data
    assert re.search(rb"pdfaid:part(>|=\")2", xmp)
    assert re.search(rb"pdfaid:conformance(>|=\")B", xmp)
    assert reader.trailer["/Info"]["/Title"] == "Học bạ – Hoàng Thị Thu Hương"


def test_each_call_renders_its_own_data() -> None:
    first = transcript_pdf("Lê Văn A", "Trường Một")
    second = transcript_pdf("Lê Văn B", "Trường Hai")
    assert PdfFileReader(BytesIO(first)).trailer["/Info"]["/Author"] == "Trường Một"
    assert PdfFileReader(BytesIO(second)).trailer["/Info"]["/Author"] == "Trường Hai"
