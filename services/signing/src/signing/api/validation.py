"""Public validation: anyone holding an exported PDF learns whether its signatures hold.

No token: a parent, a receiving school or an employer checks a học bạ they were handed. The
answer is a machine-readable report and a Vietnamese summary.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from common.errors import Problem, problem_responses
from signing.api.deps import SettingsDep, ToolsDep
from signing.crypto.errors import NotAPdf
from signing.crypto.validation import DocumentReport

router = APIRouter(tags=["validation"])


class SignatureReport(BaseModel):
    field: str = Field(description="Signature field name.")
    signer: str = Field(description="Common name of the signer's certificate.")
    certificate_serial: str
    certificate_sha256: str
    signing_time: datetime | None = Field(description="Time the signer's software claimed.")
    timestamp_time: datetime | None = Field(description="Time the TSA attested (RFC 3161).")
    document_timestamp: bool = Field(description="A document timestamp, not a person's signature.")
    intact: bool = Field(description="The signed bytes are unchanged.")
    valid: bool = Field(description="The cryptographic signature verifies.")
    trusted: bool = Field(description="The certificate chains to a configured trust anchor.")
    revocation: str = Field(description="good, revoked or unknown.")
    revoked_at: datetime | None
    modification: str = Field(description="What changed after it was applied.")
    coverage: str = Field(description="entire-file, entire-revision or partial.")
    problems: list[str] = Field(description="Stable codes of what is wrong; empty when valid.")
    summary_vi: str


class ValidationReport(BaseModel):
    signatures: list[SignatureReport] = Field(description="In document order.")
    covers_whole_document: bool = Field(description="The last signature covers the whole file.")
    ltv: bool = Field(
        description="Validates offline later: revocation data and a document timestamp."
    )
    valid: bool = Field(description="Every signature valid and the whole document covered.")
    problems: list[str] = Field(description="Stable codes of what is wrong with the document.")
    summary_vi: str


@router.post(
    "/validation",
    response_model=ValidationReport,
    summary="Validate the signatures of a PDF (public; send the file as application/pdf)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses=problem_responses(400, 413, 415, 422),
)
async def validate(request: Request, tools: ToolsDep, settings: SettingsDep) -> ValidationReport:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/pdf":
        raise Problem(
            415, "unsupported-media-type", "Chỉ nhận tệp PDF", "Send the file as application/pdf"
        )
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > settings.validation_max_bytes:
            raise Problem(
                413,
                "document-too-large",
                "Tệp quá lớn",
                f"At most {settings.validation_max_bytes} bytes",
            )
    try:
        tools.check_pdf(bytes(content))
        report = await tools.validate(bytes(content))
    except NotAPdf as error:
        raise Problem(422, "not-a-pdf", "Tệp không phải PDF hợp lệ", str(error)) from None
    return report_of(report)


def report_of(report: DocumentReport) -> ValidationReport:
    return ValidationReport(
        signatures=[
            SignatureReport(
                field=s.field_name,
                signer=s.signer,
                certificate_serial=s.serial_hex,
                certificate_sha256=s.sha256,
                signing_time=s.signing_time,
                timestamp_time=s.timestamp_time,
                document_timestamp=s.is_timestamp,
                intact=s.intact,
                valid=s.valid,
                trusted=s.trusted,
                revocation=s.revocation,
                revoked_at=s.revoked_at,
                modification=s.modification,
                coverage=s.coverage,
                problems=list(s.problems),
                summary_vi=s.summary_vi(),
            )
            for s in report.signatures
        ],
        covers_whole_document=report.covers_whole_document,
        ltv=report.ltv,
        valid=report.ok,
        problems=list(report.problems),
        summary_vi=report.summary_vi(),
    )
