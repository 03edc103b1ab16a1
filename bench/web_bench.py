"""Benchmark of the public web pages: requests per second and latency of the page a letter's QR code opens
(`GET /v/{id}`) and of a verification upload (`POST /v/{id}` with the signed PDF), on the project's own server.

The letter is the demo's (`suratbot demo` into a temporary folder: a real pyHanko signature). The web app runs
in a second process (uvicorn, one worker, as `suratbot run` serves it) on 127.0.0.1; this process is the load:
C connections for D seconds per endpoint. The baseline, measured in the same run against the same server, is
`GET /healthz` (routing, JSON, no database): the ratios show what the page and the verification cost on top.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _serve(database_url: str, data_dir: str, port: int) -> None:
    """The server process: the web app on the demo's office, the upload rate limit lifted for the load."""
    import uvicorn

    from suratbot.bot import verify_page
    from suratbot.bot.app import Bot
    from suratbot.bot.web import web_app
    from suratbot.services.office import Office
    from suratbot.workflow.sop import load_sop

    verify_page.UPLOADS_PER_MINUTE = 10**9  # one client address sends everything here
    office = Office.open(load_sop(), database_url, data_dir, public_url=f"http://127.0.0.1:{port}")
    uvicorn.run(web_app(Bot(office)), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                access_log=False)  # fmt: skip


async def _load(
    client: httpx.AsyncClient, method: str, url: str, seconds: float, connections: int, **kw: object
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies), latencies, errors


async def main(seconds: float, connections: int) -> None:
    from sqlalchemy import select

    from suratbot.bot.demo import run_demo
    from suratbot.services.office import Office
    from suratbot.storage.models import Letter
    from suratbot.workflow.sop import load_sop

    folder = Path(tempfile.mkdtemp(prefix="suratbot-web-bench-")) / "demo-output"
    t0 = time.perf_counter()
    await run_demo(load_sop(), folder, io.StringIO())
    print(f"demo letter made in {time.perf_counter() - t0:.1f} s (real signature)")
    database_url = f"sqlite+aiosqlite:///{folder / 'suratbot.db'}"
    office = Office.open(load_sop(), database_url, folder / "data")
    async with office.reading() as uow:
        letter = (await uow.session.scalars(select(Letter))).one()
    await office.close()
    signed = (folder / "surat-ditandatangani.pdf").read_bytes()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(database_url, str(folder / "data"), port), daemon=True
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            for _ in range(200):  # wait for the server
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            check = await client.post(f"/v/{letter.id}", files={"berkas": ("surat.pdf", signed)})
            assert check.status_code == 200 and 'data-verdict="sah"' in check.text, check.text[:500]
            print(f"server pid {server.pid} on {base}; {connections} connections, {seconds:.0f} s per endpoint; "
                  f"cpu count {os.cpu_count()}")  # fmt: skip
            rows = []
            # The page checks at most CHECKS_AT_ONCE uploads together (more get a 503 "sibuk"): the uploads'
            # load uses that many connections, as the most the server takes.
            from suratbot.bot.verify_page import CHECKS_AT_ONCE

            for name, method, path, width, kw in (
                ("GET /healthz (baseline)", "GET", "/healthz", connections, {}),
                ("GET /v/{id}", "GET", f"/v/{letter.id}", connections, {}),
                (f"POST /v/{{id}} upload ({len(signed) // 1024} KB, {CHECKS_AT_ONCE} conn.)", "POST",
                 f"/v/{letter.id}", CHECKS_AT_ONCE, {"files": {"berkas": ("surat.pdf", signed)}}),
            ):  # fmt: skip
                await _load(client, method, path, min(1.0, seconds), width, **kw)  # warm up
                count, latencies, errors = await _load(client, method, path, seconds, width, **kw)
                rows.append((name, count / seconds, statistics.median(latencies), percentile(latencies, 0.99), errors))
    finally:
        server.terminate()
        server.join(5)
    baseline = rows[0][1]
    print(f"\n{'endpoint':<46} {'req/s':>8} {'ratio':>7} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8}")
    for name, rps, p50, p99, errors in rows:
        print(f"{name:<46} {rps:8.1f} {rps / baseline:6.3f}x {p50 * 1000:8.1f} {p99 * 1000:8.1f} {errors:8d}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS of the largest child process (the server; the demo's signing worker is smaller): {peak:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.connections)))
