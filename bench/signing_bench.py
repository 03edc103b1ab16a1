"""Benchmark of signing: median milliseconds to sign a 2-page A4 letter (PAdES B-B, QR stamp) and to verify it.

The baseline, measured in the same run, is pyHanko's own invisible PAdES signature of the same letter with the
same key: the ratio shows what our visible stamp, QR code and checks add on top of the library.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from datetime import UTC, datetime

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from suratbot.data.concept import example_letter
from suratbot.signing.keys import SignerProfile, create_demo_ca, issue_signer
from suratbot.signing.pades import StampText, sign_pdf, unlock_pkcs12
from suratbot.signing.verify import verify_pdf

PASSPHRASE = "bench-passphrase-2026"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(rounds: int) -> None:
    now = datetime.now(UTC)
    ca = create_demo_ca("DPMPTSP Kabupaten Sumedang", code="DPMPTSP", now=now)
    profile = SignerProfile("Dr. H. Asep Suryana", "Kepala Dinas", "197001012000031001", "DPMPTSP")
    p12 = issue_signer(ca, profile, PASSPHRASE, now=now)
    letter = example_letter("Undangan Rapat Koordinasi", "Camat se-Kabupaten Sumedang", pages=2)
    stamp = StampText(profile.nama, profile.jabatan, profile.nip, "https://surat.example.go.id/v/AbCdEf", when="-")

    unlock, sign, verify, baseline = [], [], [], []
    for i in range(rounds + 3):  # the first three warm up (imports, caches) and are not counted
        t0 = time.perf_counter()
        signer = unlock_pkcs12(p12, PASSPHRASE, now=now)
        t1 = time.perf_counter()
        signed = await sign_pdf(letter, signer, stamp)
        t2 = time.perf_counter()
        result = await verify_pdf(signed, [ca.cert])
        t3 = time.perf_counter()
        meta = signers.PdfSignatureMetadata(field_name="Baseline", subfilter=fields.SigSeedSubFilter.PADES)
        out = io.BytesIO()
        await signers.PdfSigner(meta, signer).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(letter)), output=out)
        t4 = time.perf_counter()
        assert result.ok
        if i >= 3:
            unlock.append((t1 - t0) * 1000)
            sign.append((t2 - t1) * 1000)
            verify.append((t3 - t2) * 1000)
            baseline.append((t4 - t3) * 1000)
    print(f"signing benchmark: {rounds} rounds, 2-page A4 letter ({len(letter)} bytes), RSA-2048, PAdES B-B + QR stamp")
    for name, values, aim in (
        ("unlock PKCS#12", unlock, None),
        ("sign", sign, 150.0),
        ("verify", verify, 100.0),
        ("baseline: invisible pyHanko signature", baseline, None),
    ):
        line = (
            f"  {name:<38} median {statistics.median(values):7.2f} ms  p90 {percentile(values, 0.9):7.2f} ms"
            f"  max {max(values):7.2f} ms"
        )
        if aim is not None:
            line += f"  (aim < {aim:.0f} ms: {'YES' if statistics.median(values) < aim else 'NO'})"
        print(line)
    ratio = statistics.median(sign) / statistics.median(baseline)
    print(f"  ratio median(sign with QR stamp) / median(invisible signature) = {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(main(parser.parse_args().rounds))
