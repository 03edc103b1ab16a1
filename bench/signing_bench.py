"""Benchmark of signing: median milliseconds to stamp the number and sign a 2-page A4 letter (PAdES B-B, QR
stamp) and to verify it; also signing with the key on a PKCS#11 token (SoftHSM2, when installed) and PAdES B-T
with a timestamp authority on 127.0.0.1.

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
from suratbot.signing import stamping
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

    unlock, number, sign, verify, baseline, stock = [], [], [], [], [], []
    for i in range(rounds + 3):  # the first three warm up (imports, caches) and are not counted
        t0 = time.perf_counter()
        signer = unlock_pkcs12(p12, PASSPHRASE, now=now)
        t1 = time.perf_counter()
        numbered = stamping.fill(letter, {"nomor": "500.16/123/DPMPTSP/2026", "tanggal": "26 November 2026"})
        numbered, place = stamping.place_stamp(numbered, name=profile.nama, nip=profile.nip)
        numbered = stamping.add_footer(numbered, ["Dokumen ini telah ditandatangani secara elektronik."])
        tn = time.perf_counter()
        signed = await sign_pdf(numbered, signer, stamp, box=place.box, page=place.page)
        t2 = time.perf_counter()
        result = await verify_pdf(signed, [ca.cert])
        t3 = time.perf_counter()
        meta = signers.PdfSignatureMetadata(field_name="Baseline", subfilter=fields.SigSeedSubFilter.PADES)
        out = io.BytesIO()
        await signers.PdfSigner(meta, signer).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(letter)), output=out)
        t4 = time.perf_counter()
        plain = signers.SimpleSigner(  # pyHanko's in-memory signer as it comes (reloads the key per signature)
            signing_cert=signer.signing_cert, signing_key=signer.signing_key, cert_registry=signer.cert_registry
        )
        out = io.BytesIO()
        await signers.PdfSigner(meta, plain).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(letter)), output=out)
        t5 = time.perf_counter()
        assert result.ok
        if i >= 3:
            unlock.append((t1 - t0) * 1000)
            number.append((tn - t1) * 1000)
            sign.append((t2 - t1) * 1000)
            verify.append((t3 - t2) * 1000)
            baseline.append((t4 - t3) * 1000)
            stock.append((t5 - t4) * 1000)
    print(f"signing benchmark: {rounds} rounds, 2-page A4 letter ({len(letter)} bytes), RSA-2048, PAdES B-B + QR stamp")
    token = await _token_rounds(rounds, ca, p12, letter, stamp, now)
    timestamped = await _tsa_rounds(max(5, rounds // 5), ca, signer, letter, stamp)
    rows: list[tuple[str, list[float], float | None]] = [
        ("unlock PKCS#12", unlock, None),
        ("  of which: number, date, place, footer", number, None),
        ("stamp number + sign", sign, 150.0),
        ("verify", verify, 100.0),
        ("baseline: invisible pyHanko signature", baseline, None),
        ("  the same with pyHanko's stock SimpleSigner", stock, None),
        ("B-T: sign with a TSA on 127.0.0.1", timestamped, None),
    ]
    if token:
        rows.append(("PKCS#11 (SoftHSM2): log in + sign", token, None))
    else:
        print("  (SoftHSM2 not installed: no PKCS#11 figure)")
    for name, values, aim in rows:
        line = (
            f"  {name:<38} median {statistics.median(values):7.2f} ms  p90 {percentile(values, 0.9):7.2f} ms"
            f"  max {max(values):7.2f} ms"
        )
        if aim is not None:
            line += f"  (aim < {aim:.0f} ms: {'YES' if statistics.median(values) < aim else 'NO'})"
        print(line)
    ratio = statistics.median(sign) / statistics.median(baseline)
    print(f"  ratio median(sign with QR stamp) / median(invisible signature) = {ratio:.2f}x")


async def _tsa_rounds(rounds: int, ca: object, signer: signers.Signer, letter: bytes, stamp: StampText) -> list[float]:
    import aiohttp
    from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper

    from tests.fakes.tsa import FakeTsa

    tsa = FakeTsa(ca.cert, ca.key)  # type: ignore[attr-defined]
    url = await tsa.start()
    times = []
    try:
        async with aiohttp.ClientSession() as http:
            stamper = HTTPTimeStamper(url, session=http)
            for i in range(rounds + 1):
                t0 = time.perf_counter()
                await sign_pdf(letter, signer, stamp, timestamper=stamper)
                if i:
                    times.append((time.perf_counter() - t0) * 1000)
    finally:
        await tsa.stop()
    return times


async def _token_rounds(
    rounds: int, ca: object, p12: bytes, letter: bytes, stamp: StampText, now: datetime
) -> list[float]:
    """Sign with the key on a SoftHSM2 token initialised in a temporary folder (nothing when not installed)."""
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import pkcs12

    from suratbot.signing.pkcs11 import TokenConfig, open_signer, put_on_token

    module = next((m for m in ("/usr/lib/softhsm/libsofthsm2.so",) if Path(m).exists()), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        return []
    folder = Path(tempfile.mkdtemp(prefix="softhsm-bench-"))
    (folder / "tokens").mkdir()
    (folder / "softhsm2.conf").write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(folder / "softhsm2.conf")
    pin = "bench-pin-2026"
    subprocess.run([util, "--init-token", "--free", "--label", "bench", "--so-pin", "so-" + pin, "--pin", pin],
                   check=True, capture_output=True)  # fmt: skip
    config = TokenConfig(module, "bench")
    key, cert, chain = pkcs12.load_key_and_certificates(p12, PASSPHRASE.encode())
    put_on_token(config, pin, "197001012000031001", key, cert, list(chain))  # type: ignore[arg-type]
    times = []
    try:
        for i in range(rounds + 3):
            t0 = time.perf_counter()
            token = open_signer(config, "197001012000031001", pin, now=now)
            try:
                await sign_pdf(letter, token.signer, stamp)
            finally:
                token.close()
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return times


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' fakes (the TSA) live there
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(main(parser.parse_args().rounds))
