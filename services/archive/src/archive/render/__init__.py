"""PDF/A rendering of the official records (học bạ, sổ theo dõi và đánh giá học sinh, bảng
tổng hợp kết quả đánh giá giáo dục) from records' locked snapshots, with their JSON twins."""

from archive.render.documents import (
    DocumentRef,
    RenderedDocument,
    RenderedKind,
    SchoolInfo,
    documents_for,
    render_class_summary,
    render_tracking_book,
    render_transcript,
)
from archive.render.layout import SignatureSlot
from archive.render.snapshot import Snapshot, SnapshotIntegrityError
from archive.render.twin import read_twin

__all__ = [
    "DocumentRef",
    "RenderedDocument",
    "RenderedKind",
    "SchoolInfo",
    "SignatureSlot",
    "Snapshot",
    "SnapshotIntegrityError",
    "documents_for",
    "read_twin",
    "render_class_summary",
    "render_tracking_book",
    "render_transcript",
]
