"""Benchmark of Word concepts: seconds to turn a 2-page Word letter into PDF with the warm LibreOffice (kept
running behind unoserver, as the bot does) against a cold `soffice --convert-to` per file (the baseline, in the
same run), the numbering path (placeholders filled in the DOCX, then PDF), and the memory the warm instance
holds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from suratbot.data.word_concept import example_word_letter
from suratbot.services import word
from suratbot.services.converter import ColdConverter, WarmConverter, soffice_path


def _rss_mib(group: int) -> float:
    """Resident memory of every process of the converter's process group (unoserver, LibreOffice's
    oosplash and soffice.bin)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp != group:
                continue
            status = (entry / "status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return total / 1024


async def main(rounds: int, cold_rounds: int) -> int:
    if soffice_path() is None:
        print("LibreOffice is not installed: nothing to measure (make test installs it)")
        return 1
    letter = example_word_letter(pages=2)
    values = {"nomor": "500.16/123/DPMPTSP/2026", "tanggal": "26 November 2026"}
    warm = WarmConverter()
    try:
        t0 = time.perf_counter()
        await warm.start()
        start = time.perf_counter() - t0
        first_t = time.perf_counter()
        pdf = await warm.convert(letter, ".docx", "pdf")
        first = time.perf_counter() - first_t
        assert pdf.startswith(b"%PDF")
        warm_times, numbering_times = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            await warm.convert(letter, ".docx", "pdf")
            warm_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            filled, found = word.fill(letter, values)
            await warm.convert(filled, ".docx", "pdf")
            numbering_times.append(time.perf_counter() - t)
            assert found == {"nomor", "tanggal"}
        assert warm.pid is not None
        rss = _rss_mib(warm.pid)
    finally:
        await warm.close()
    cold = ColdConverter()
    cold_times = []
    for _ in range(cold_rounds):
        t = time.perf_counter()
        await cold.convert(letter, ".docx", "pdf")
        cold_times.append(time.perf_counter() - t)
    cold_median = statistics.median(cold_times)
    warm_median = statistics.median(warm_times)
    print(f"2-page Word letter ({len(letter) // 1024} KB DOCX, {len(pdf) // 1024} KB PDF)")
    print(f"warm LibreOffice: start {start:.2f} s, first conversion {first:.2f} s (not counted)")
    print(f"{'path':<46} {'median s':>9} {'p90 s':>7} {'ratio to cold':>14}")
    rows = [
        (f"cold soffice --convert-to (baseline, n={cold_rounds})", cold_times),
        (f"warm unoserver (n={rounds})", warm_times),
        (f"warm, numbering: fill DOCX + PDF (n={rounds})", numbering_times),
    ]
    for name, times in rows:
        p90 = sorted(times)[max(0, round(0.9 * (len(times) - 1)))]
        print(f"{name:<46} {statistics.median(times):9.3f} {p90:7.3f} {statistics.median(times) / cold_median:13.3f}x")
    print(f"warm is {cold_median / warm_median:.1f}x faster than cold")
    print(f"memory held by the warm instance (unoserver + LibreOffice): {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cold-rounds", type=int, default=5)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rounds, args.cold_rounds)))
