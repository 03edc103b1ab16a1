"""Verify a signed PDF with pyHanko: is each signature valid, trusted, and does it cover the whole file?"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import CMSExtractionError, CMSStructuralError
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext


@dataclass(frozen=True)
class SignatureCheck:
    """One embedded signature as a verifier sees it."""

    field: str
    signer: str
    issuer: str
    signed_at: datetime | None
    intact: bool  # the signed bytes were not changed
    valid: bool  # the cryptographic signature is correct
    trusted: bool  # the certificate chains to one of the trust roots
    whole_file: bool  # nothing was added after this signature (or only further signatures)

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.whole_file


@dataclass(frozen=True)
class Verification:
    signatures: tuple[SignatureCheck, ...]
    problem: str | None = None  # why the file could not be checked at all (Indonesian)
    problem_code: str | None = None  # the same, as a key: "bukan_pdf", "tanpa_tanda_tangan"

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.signatures) and all(s.ok for s in self.signatures)


def trust_root(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


async def verify_pdf(pdf: bytes, trust_roots: list[x509.Certificate]) -> Verification:
    """Check every signature of `pdf` against `trust_roots` (no network fetching)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except (PdfError, ValueError, KeyError):
        return Verification((), problem="Berkas ini bukan PDF yang utuh.", problem_code="bukan_pdf")
    if not embedded:
        return Verification(
            (), problem="PDF ini tidak memiliki tanda tangan elektronik.", problem_code="tanpa_tanda_tangan"
        )
    roots = [trust_root(c) for c in trust_roots]
    checks = []
    last = len(embedded) - 1
    for index, sig in enumerate(embedded):
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        try:
            status = await async_validate_pdf_signature(sig, context)
        except (SignatureValidationError, CMSExtractionError, CMSStructuralError, PdfError, ValueError):
            # A signature pyHanko cannot even parse is simply not a good one.
            checks.append(SignatureCheck(sig.field_name, "-", "-", None, False, False, False, False))
            continue
        cert = status.signing_cert
        if index == last:  # nothing may follow the last signature but its long-term validation data (B-LT)
            whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
                status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
                and status.modification_level is not None
                and status.modification_level <= ModificationLevel.LTA_UPDATES
            )
        else:  # an earlier one may be followed by further signatures only
            whole = status.coverage in (
                SignatureCoverageLevel.ENTIRE_FILE,
                SignatureCoverageLevel.ENTIRE_REVISION,
            ) and _only_signatures_after(status)
        checks.append(
            SignatureCheck(
                field=sig.field_name,
                signer=cert.subject.native.get("common_name", cert.subject.human_friendly),
                issuer=cert.issuer.native.get("common_name", cert.issuer.human_friendly),
                signed_at=_signing_time(status),
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                whole_file=whole,
            )
        )
    return Verification(tuple(checks))


def _signing_time(status: PdfSignatureStatus) -> datetime | None:
    """The time a trusted timestamp authority vouches for (PAdES B-T), else the time the signer's device gave."""
    stamp = status.timestamp_validity
    if stamp is not None and stamp.valid and stamp.trusted:
        return stamp.timestamp
    return status.signer_reported_dt


def _only_signatures_after(status: PdfSignatureStatus) -> bool:
    """An earlier signature stays good when what came after it is only further signatures (or form filling)."""
    level = status.modification_level
    return level is not None and level <= ModificationLevel.FORM_FILLING
