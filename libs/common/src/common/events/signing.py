"""Events published by ``services/signing``: each PAdES signature and each completed request."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from common.events.archive import DocumentKind
from common.events.base import IntegrationEvent
from common.events.identity import DistrictId, ProvinceId, SchoolId
from common.events.records import SchoolYear, Sha256Hex, Term


class SignerRole(StrEnum):
    """Place of a signer in the chain: giáo viên bộ môn, giáo viên chủ nhiệm, hiệu trưởng, or
    the school's organisation certificate (chữ ký số của cơ quan, the seal)."""

    SUBJECT_TEACHER = "subject_teacher"
    HOMEROOM_TEACHER = "homeroom_teacher"
    SCHOOL_LEADER = "school_leader"
    SCHOOL_SEAL = "school_seal"


class PadesLevel(StrEnum):
    """PAdES baseline level of a signature; archives keep B-LTA."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


class DocumentSigned(IntegrationEvent):
    """One signature (ký số) was added to a document: the record-signed event.

    Published by signing after each incremental PAdES signature of a signing request lands,
    in the request's order (subject teachers, homeroom teacher, school leader, seal).
    """

    event_type: ClassVar[str] = "vn.hsdt.signing.document.signed.v1"
    # Ordered per request, so a consumer sees the signatures of one document in chain order.
    subject_field: ClassVar[str] = "signing_request_id"

    signing_request_id: uuid.UUID = Field(description="Id of the signing request.")
    document_id: uuid.UUID = Field(description="Id of the rendered document in archive.")
    document_kind: DocumentKind = Field(description="Which record the document is.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term | None = Field(description="Period of the document; null if not tied to one.")
    class_id: uuid.UUID | None = Field(description="Class of the document, if it has one.")
    student_id: uuid.UUID | None = Field(description="Student of a transcript; null otherwise.")
    signer_role: SignerRole = Field(description="Role of this signature in the chain.")
    signer_user_id: uuid.UUID = Field(
        description="User id of the signer, or of the person who applied the school's seal."
    )
    signature_index: int = Field(ge=1, le=1000, description="Position of it in the chain, from 1.")
    signatures_required: int = Field(ge=1, le=1000, description="Length of the whole chain.")
    level: PadesLevel = Field(description="PAdES baseline level of the signature.")
    certificate_sha256: Sha256Hex = Field(
        description="Hex SHA-256 fingerprint of the signer's certificate (DER)."
    )
    document_sha256: Sha256Hex = Field(
        description="Hex SHA-256 of the document revision that ends with this signature."
    )
    signed_at: AwareDatetime = Field(description="Signing time of the signature.")


class SigningRequestCompleted(IntegrationEvent):
    """A signing request (yêu cầu ký số) has every signature of its chain.

    Published by signing right after the ``DocumentSigned`` of the last signer; archive then
    stores the final revision as an archival package.
    """

    event_type: ClassVar[str] = "vn.hsdt.signing.request.completed.v1"
    subject_field: ClassVar[str] = "signing_request_id"

    signing_request_id: uuid.UUID = Field(description="Id of the signing request.")
    document_id: uuid.UUID = Field(description="Id of the rendered document in archive.")
    document_kind: DocumentKind = Field(description="Which record the document is.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term | None = Field(description="Period of the document; null if not tied to one.")
    class_id: uuid.UUID | None = Field(description="Class of the document, if it has one.")
    student_id: uuid.UUID | None = Field(description="Student of a transcript; null otherwise.")
    signature_count: int = Field(ge=1, le=1000, description="Signatures the document carries.")
    document_sha256: Sha256Hex = Field(description="Hex SHA-256 of the fully signed document.")
    completed_at: AwareDatetime = Field(description="When the last signature landed.")


class SigningRequestRefused(IntegrationEvent):
    """A signer refused to sign (từ chối ký); the request waits for its owner.

    Published by signing when the signer at the current place refuses. The owner (the school's
    board, or archive acting for it) fixes the document or the chain and restarts the request;
    nothing more is signed until then. The reason is free text that may name a student, so it
    stays in signing behind ``GET /signing-requests/{id}``.
    """

    event_type: ClassVar[str] = "vn.hsdt.signing.request.refused.v1"
    subject_field: ClassVar[str] = "signing_request_id"

    signing_request_id: uuid.UUID = Field(description="Id of the signing request.")
    document_id: uuid.UUID = Field(description="Id of the rendered document in archive.")
    document_kind: DocumentKind = Field(description="Which record the document is.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    class_id: uuid.UUID | None = Field(description="Class of the document, if it has one.")
    student_id: uuid.UUID | None = Field(description="Student of a transcript; null otherwise.")
    signer_role: SignerRole = Field(description="Place in the chain that refused.")
    refused_by: uuid.UUID = Field(description="User id of the person who refused.")
    position: int = Field(ge=1, le=1000, description="Position of that place in the chain.")
    refused_at: AwareDatetime = Field(description="When the signer refused.")
