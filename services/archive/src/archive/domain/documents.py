"""The stable ids of the documents a locked class makes.

A document is one record of the school charter for one period: a student's transcript (học bạ),
a secondary class's tracking and evaluation book (sổ theo dõi và đánh giá học sinh), a primary
class's summary (bảng tổng hợp kết quả đánh giá giáo dục). Its id is derived from what it is
(UUID 5 of kind, class or student, year and period), so a redelivered lock, a restart or a
correction names the same document; a correction adds a version of it, never a new document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from common.events.archive import DocumentKind

DOCUMENT_NAMESPACE: Final = uuid.UUID("3f1c9a52-7d0e-5c8b-a1f4-2e6b9d0c7a31")
PRIMARY_GRADES: Final = frozenset(range(1, 6))


@dataclass(frozen=True, slots=True)
class DocumentKey:
    kind: DocumentKind
    school_year: str
    period: str
    class_id: uuid.UUID
    student_id: uuid.UUID | None = None

    @property
    def document_id(self) -> uuid.UUID:
        subject = self.student_id or self.class_id
        return uuid.uuid5(
            DOCUMENT_NAMESPACE, f"{self.kind.value}:{subject}:{self.school_year}:{self.period}"
        )
