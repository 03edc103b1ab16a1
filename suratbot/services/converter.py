"""Word and OpenDocument letters to PDF with LibreOffice: a warm instance kept running (unoserver), one
conversion at a time, each with a timeout, its own profile with macros off, restarted if it dies; a cold
`soffice --convert-to` as the fallback."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import importlib.util
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from suratbot.workflow.machine import Refusal

log = logging.getLogger(__name__)

TIMEOUT = 60.0  # seconds for one conversion; a file that takes longer is refused
START_TIMEOUT = 60.0
COLD_AFTER_FAILED_START = 300.0

FAILED = Refusal(
    "konversi_gagal",
    "Berkas ini tidak bisa diubah menjadi PDF (mungkin rusak atau dilindungi kata sandi). Buka di Word, simpan "
    "ulang tanpa kata sandi, lalu kirim lagi; atau kirim PDF-nya.",
)
TOO_SLOW = Refusal(
    "konversi_terlalu_lama",
    "Berkas ini terlalu lama diubah menjadi PDF dan dihentikan. Periksa isinya (gambar sangat besar?), simpan "
    "ulang, lalu kirim lagi; atau kirim PDF-nya.",
)
UNAVAILABLE = Refusal(
    "konversi_tidak_tersedia",
    "Pengubah Word ke PDF (LibreOffice) tidak tersedia di server saat ini. Kirim konsepnya sebagai PDF, atau "
    "coba lagi nanti.",
)

# Macros never run, whatever the document asks; no first-start wizard, no recovery dialogs.
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Recovery/RecoveryInfo"><prop oor:name="Enabled" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


FORMATS = {"pdf": b"%PDF", "docx": b"PK\x03\x04"}  # what we convert to, and how its bytes start


class Converter(Protocol):
    async def convert(self, data: bytes, suffix: str, target: str) -> bytes:
        """The document (a file ending in `suffix`) as `target` ("pdf", "docx"); Refusal (in Indonesian) when
        it cannot be converted."""
        ...

    async def close(self) -> None: ...


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def prepare_profile(folder: Path) -> str:
    """A LibreOffice user profile of our own (macros off), as the URL LibreOffice wants."""
    user = folder / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(PROFILE_SETTINGS, "utf-8")
    return folder.resolve().as_uri()


@dataclass
class ColdConverter:
    """One `soffice --headless --convert-to pdf` per document: slow (a LibreOffice start each time), but needs
    nothing running."""

    timeout: float = TIMEOUT
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def convert(self, data: bytes, suffix: str, target: str) -> bytes:
        soffice = soffice_path()
        if soffice is None:
            raise UNAVAILABLE
        async with self._lock:
            with tempfile.TemporaryDirectory(prefix="suratbot-lo-") as work:
                folder = Path(work)
                source = folder / f"surat{suffix}"
                source.write_bytes(data)
                profile = prepare_profile(folder / "profil")
                process = await asyncio.create_subprocess_exec(
                    soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--nologo",
                    "--nolockcheck", "--convert-to", target, "--outdir", str(folder / "keluar"), str(source),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
                try:
                    await asyncio.wait_for(process.wait(), self.timeout)
                except TimeoutError:
                    _kill_group(process.pid)
                    await process.wait()
                    raise TOO_SLOW from None
                result = folder / "keluar" / f"surat.{target}"
                if process.returncode != 0 or not result.exists():
                    raise FAILED
                out = result.read_bytes()
                if not out.startswith(FORMATS[target]):
                    raise FAILED
                return out

    async def close(self) -> None:
        return None


@dataclass
class WarmConverter:
    """A LibreOffice kept running behind unoserver (started with a Python that has LibreOffice's `uno`), called
    over XML-RPC on 127.0.0.1. One conversion at a time; a conversion past `timeout` makes unoserver stop
    LibreOffice, and the next conversion starts a new one; so does a crash."""

    python: str = "/usr/bin/python3"
    timeout: float = TIMEOUT
    work_dir: Path | None = None
    _process: asyncio.subprocess.Process | None = None
    _port: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tmp: tempfile.TemporaryDirectory[str] | None = None
    restarts: int = 0
    _starts: int = 0
    _closed: bool = False
    _cold_until: float = 0.0  # after a failed start, cold conversions until then (no 60 s wait each time)

    async def start(self) -> None:
        async with self._lock:
            if not self._closed and (self._process is None or self._process.returncode is not None):
                await self._start()

    async def _start(self) -> None:
        soffice = soffice_path()
        if soffice is None:
            raise UNAVAILABLE
        if self.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="suratbot-unoserver-")
            self.work_dir = Path(self._tmp.name)
        # A fresh profile each start: a LibreOffice that was killed may have left the last one locked.
        self._starts += 1
        for old in self.work_dir.glob("profil-*"):
            shutil.rmtree(old, ignore_errors=True)
        folder = self.work_dir / f"profil-{self._starts}"
        prepare_profile(folder)
        profile = str(folder.resolve())  # unoserver makes the URL itself
        self._port, uno_port = _free_port(), _free_port()
        # Only what LibreOffice needs from our environment: never the bot's tokens and secrets.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HOME")}
        env["PYTHONPATH"] = str(_unoserver_only(self.work_dir))
        log_fd = self._log()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.python, "-m", "unoserver.server", "--interface", "127.0.0.1", "--port", str(self._port),
                "--uno-interface", "127.0.0.1", "--uno-port", str(uno_port), "--executable", soffice,
                "--user-installation", profile, "--conversion-timeout", str(int(self.timeout)), "--quiet",
                stdout=asyncio.subprocess.DEVNULL, stderr=log_fd, env=env, start_new_session=True,
                cwd=self.work_dir,  # `python -m` puts the working folder on the path: ours, not the bot's
            )  # fmt: skip
        finally:
            os.close(log_fd)  # the child has its own copy
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.returncode is not None:
                break
            with contextlib.suppress(OSError, xmlrpc.client.Error):
                await asyncio.to_thread(self._call, "info", timeout=2.0)
                log.info("converter: LibreOffice (unoserver) ready on port %s", self._port)
                return
            await asyncio.sleep(0.2)
        await self._stop()
        raise UNAVAILABLE

    def _log(self) -> int:
        """unoserver's own log (the reason it would not start), in the work folder."""
        assert self.work_dir is not None
        return os.open(self.work_dir / "unoserver.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _call(self, method: str, *args: object, timeout: float) -> object:
        transport = _TimeoutTransport(timeout)
        with xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self._port}", transport=transport, allow_none=True) as p:
            return getattr(p, method)(*args)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def convert(self, data: bytes, suffix: str, target: str) -> bytes:
        async with self._lock:  # one conversion at a time
            for attempt in (1, 2):
                if self._process is None or self._process.returncode is not None:
                    self.restarts += self._process is not None
                    if self._closed or time.monotonic() < self._cold_until:
                        return await ColdConverter(timeout=self.timeout).convert(data, suffix, target)
                    try:
                        await self._start()
                    except (Refusal, OSError):  # no warm LibreOffice (uno missing, a failing start): cold
                        log.warning("converter: the warm LibreOffice would not start; converting cold for a while")
                        self._cold_until = time.monotonic() + COLD_AFTER_FAILED_START
                        return await ColdConverter(timeout=self.timeout).convert(data, suffix, target)
                started = time.monotonic()
                try:
                    result = await asyncio.to_thread(
                        self._call, "convert", None, xmlrpc.client.Binary(data), None, target, None, [], True,
                        None, None, timeout=self.timeout + 10,
                    )  # fmt: skip
                except xmlrpc.client.Fault:  # LibreOffice said no (or unoserver stopped it on its timeout)
                    if time.monotonic() - started >= self.timeout - 1:
                        log.warning("converter: a conversion ran past %s s and was stopped", self.timeout)
                        await self._stop()  # unoserver stopped LibreOffice: a fresh one next time
                        raise TOO_SLOW from None
                    raise FAILED from None
                except (OSError, xmlrpc.client.Error, http.client.HTTPException) as exc:
                    # Gone (a crash not yet noticed) or hung: a fresh LibreOffice, and the same file once more.
                    log.warning("converter: LibreOffice did not answer (%s); restarting it", type(exc).__name__)
                    await self._stop()
                    self.restarts += 1
                    if attempt == 2 or time.monotonic() - started >= self.timeout - 1:
                        raise TOO_SLOW if time.monotonic() - started >= self.timeout - 1 else FAILED from None
                    continue
                data_out = result.data if isinstance(result, xmlrpc.client.Binary) else None
                if not data_out or not data_out.startswith(FORMATS[target]):
                    raise FAILED
                return data_out
            raise FAILED  # not reached: the second attempt returns or raises

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _kill_group(process.pid)  # LibreOffice too, even when unoserver itself has already exited
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)

    async def close(self) -> None:
        """Stop LibreOffice for good: a conversion that comes after (one already waiting) goes cold."""
        self._closed = True
        async with self._lock:
            await self._stop()
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp, self.work_dir = None, None


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[no-untyped-def]
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


def _kill_group(pid: int) -> None:
    """The process and everything it started (LibreOffice's own processes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unoserver_only(work_dir: Path) -> Path:
    """A folder with only the unoserver package (ours, from this environment) on the server Python's path: that
    Python is the system's, which has LibreOffice's `uno`, and must not see the rest of our environment."""
    spec = importlib.util.find_spec("unoserver")
    if spec is None or not spec.submodule_search_locations:
        raise UNAVAILABLE
    package = Path(next(iter(spec.submodule_search_locations)))
    folder = work_dir / "pythonpath"
    folder.mkdir(parents=True, exist_ok=True)
    for entry in [package, *package.parent.glob("unoserver-*.dist-info")]:
        link = folder / entry.name
        if not link.exists():
            link.symlink_to(entry, target_is_directory=True)
    return folder
