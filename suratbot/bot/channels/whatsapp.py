"""The WhatsApp channel (Cloud API): Meta's webhooks in, Graph API calls out, on the same handlers as Telegram.

Inbound: the web app checks the webhook's signature and hands the payload here; each message is processed once
(its `wamid` is claimed in the database, so Meta's retries and replays after a restart change nothing), one
person's messages in order. A person is their `wa_id` (their phone number): a roster member writing for the
first time is bound by it, through the same onboarding as a shared contact on Telegram. Status callbacks
(sent, delivered, read, failed) are recorded on the outbox row they belong to.

Outbound (a thin httpx client; no SDK gave a client we could point at a local server and keep within
Meta's limits as plainly): text; the letter's PDF uploaded as media and sent as a document, or as the header
of the message that carries the step's buttons; reply buttons (at most 3, titles of at most 20 characters),
a list message where there are more (at most 10 rows). WhatsApp cannot edit or delete messages: old buttons
stay, and the core's checks answer a stale press.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, or_, select, update

from suratbot.bot.outbox import OUTSIDE_WINDOW, RetryLater, Undeliverable, WindowClosed
from suratbot.handlers import buttons, router
from suratbot.handlers.types import Button, Contact, Document, Inbound, IncomingFile, Reply, Response
from suratbot.services import identity
from suratbot.services.notices import tell_admins_undelivered
from suratbot.services.office import Office
from suratbot.storage.db import insert_or_skip
from suratbot.storage.models import OutboxMessage, WhatsAppMessage
from suratbot.workflow.machine import Refusal

log = logging.getLogger(__name__)

NAME = "whatsapp"
TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # an interactive message's body
CAPTION_LIMIT = 1024
BUTTON_TITLE = 20
ROW_TITLE = 24
MAX_BUTTONS = 3
MAX_ROWS = 10
# Meta retries a webhook for up to 7 days: a message id is remembered for twice that, then forgotten.
KEEP_WAMIDS = timedelta(days=14)
PRUNE_EVERY = 1000
STATUS_ORDER = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
PAIR_RATE_LIMIT = 131056  # too many messages to one person: back off
UNKNOWN_OBJECT = 100  # "Unsupported get request": no such phone number id (for this token)
AUTH_ERRORS = frozenset({190})  # the access token expired or was revoked
RATE_LIMITS = frozenset({4, 80007, 130429, 131048})  # the app's or the number's limits: wait a minute
WINDOW_CLOSED = 131047  # more than 24 hours since the person last wrote: only a template reaches them
PERMANENT = frozenset({131026, 131051, 131052})  # can never arrive as sent (no WhatsApp, unsupported type...)
TEMPLATE_PARAMETER = 200  # a template's text parameter: one line, kept short


class WhatsAppRefused(Exception):
    """The Graph API refused our settings (token, phone number id): the bot cannot use WhatsApp."""


@dataclass
class WhatsAppSettings:
    access_token: str = field(repr=False)
    phone_number_id: str
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    graph_url: str = "https://graph.facebook.com/v21.0"
    # The approved UTILITY template a notification goes as outside the 24-hour window (README: its text).
    template_name: str = "suratbot_pemberitahuan"
    template_language: str = "id"


class WhatsAppChannel:
    name = NAME

    def __init__(self, office: Office, settings: WhatsAppSettings) -> None:
        self.office = office
        self.settings = settings
        self.http = httpx.AsyncClient(
            base_url=settings.graph_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {settings.access_token}"},
            timeout=httpx.Timeout(30.0, connect=10.0),
        )
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._claims = 0
        self.on_handled: Callable[[], None] | None = None

    async def check(self) -> None:
        """At start: the phone number id and access token are accepted by the Graph API (WhatsAppRefused if
        not); an unreachable API is only logged, and the channel starts (messages wait in the outbox)."""
        try:
            response = await self.http.get(self.settings.phone_number_id, params={"fields": "display_phone_number"})
        except httpx.HTTPError as exc:
            log.warning("whatsapp: the Graph API could not be reached at start (%s)", type(exc).__name__)
            return
        if response.status_code == 200:
            return
        code = _error_code(response)
        if code in AUTH_ERRORS or response.status_code == 401:
            raise WhatsAppRefused("WhatsApp menolak WHATSAPP_ACCESS_TOKEN: periksa token akses di Meta for Developers.")
        if code == UNKNOWN_OBJECT:
            raise WhatsAppRefused(
                "WhatsApp tidak mengenal WHATSAPP_PHONE_NUMBER_ID: periksa ID nomor telepon di Meta for Developers."
            )
        # A rate limit, a permission this token lacks for reading the number, Meta having a bad minute: the
        # messages will tell; the start goes on.
        log.warning("whatsapp: the Graph API answered %s (code %s) at start", response.status_code, code)

    async def close(self) -> None:
        if self._tasks:  # webhooks being handled finish, but a stop never waits more than 10 s for them
            _, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
        await self.http.aclose()

    # --- the webhook ------------------------------------------------------------------------------------------

    def verify_subscription(self, mode: str | None, token: str | None, challenge: str | None) -> str | None:
        """Meta's GET check: the challenge back when the verify token is ours, else None (403)."""
        if mode != "subscribe" or token is None or challenge is None:
            return None
        if not hmac.compare_digest(token.encode(), self.settings.verify_token.encode()):
            return None
        return challenge

    def signature_ok(self, body: bytes, header: str | None) -> bool:
        """`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app secret>`, compared in constant time."""
        if not header or not header.startswith("sha256="):
            return False
        expected = hmac.new(self.settings.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header.removeprefix("sha256=").encode(), expected.encode())

    def accept(self, payload: Any) -> None:
        """Process a (signature-checked) payload after the web app has answered Meta: Meta wants speed."""
        task = asyncio.create_task(self.process(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process(self, payload: Any) -> None:
        """Each status and message of the payload, one failing not stopping the others. A message is claimed
        before it is handled: one lost to a crash in between is not handled again (at most once)."""
        for value in _values(payload, self.settings.phone_number_id):
            for status in value.get("statuses") or []:
                try:
                    await self._record_status(status)
                except Exception:
                    log.exception("whatsapp: a status callback could not be recorded")
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                try:
                    await self._on_message(message, names.get(message.get("from"), ""))
                except Exception:
                    log.exception("whatsapp: a message could not be handled")
                    wa_id = str(message.get("from") or "")
                    if wa_id.isdigit():
                        with contextlib.suppress(RetryLater, Undeliverable):
                            await self.send(wa_id, Reply("Maaf, terjadi kesalahan di bot. Coba lagi sebentar lagi."))

    async def _on_message(self, message: dict[str, Any], name: str) -> None:
        wa_id, wamid = str(message.get("from") or ""), str(message.get("id") or "")
        if not wa_id.isdigit() or not wamid:
            return
        lock = self._locks.setdefault(wa_id, asyncio.Lock())
        async with lock:  # one person's messages one at a time, in order
            if not await self._first_time(wamid, wa_id):
                return  # Meta retried it, or it came again after a restart: done already
            inbound = self._inbound(message, wa_id, name)
            if inbound is None:
                return
            if await identity.bound_staff(self.office, NAME, wa_id) is None:
                # First contact: the wa_id is their phone number, as a contact they shared would be.
                joined = Inbound(channel=NAME, address=wa_id, name=name, contact=Contact("+" + wa_id, own=True))
                response = await router.handle(self.office, joined)
                await self._perform(wa_id, response)
                if await identity.bound_staff(self.office, NAME, wa_id) is None:
                    return  # not on the roster: they were told, and the admins were told
                if inbound.command == "start":
                    return
            response = await router.handle(self.office, inbound)
            await self._perform(wa_id, response)
        if self.on_handled is not None:
            self.on_handled()

    async def _first_time(self, wamid: str, wa_id: str) -> bool:
        now = self.office.now()
        self._claims += 1
        async with self.office.uow() as uow:
            session = uow.session
            claimed = await session.scalar(
                insert_or_skip(session, WhatsAppMessage)
                .values(wamid=wamid, wa_id=wa_id, received_at=now)
                .on_conflict_do_nothing(index_elements=["wamid"])
                .returning(WhatsAppMessage.wamid)
            )
            if self._claims % PRUNE_EVERY == 1:  # now and then (and at the first message after a start)
                await session.execute(delete(WhatsAppMessage).where(WhatsAppMessage.received_at < now - KEEP_WAMIDS))
        return claimed is not None

    def _inbound(self, message: dict[str, Any], wa_id: str, name: str) -> Inbound | None:
        base: dict[str, Any] = {"channel": NAME, "address": wa_id, "name": name, "can_delete": False}
        kind = message.get("type")
        if kind == "text":
            text = str((message.get("text") or {}).get("body") or "")
            if text.startswith("/"):
                head, _, args = text[1:].partition(" ")
                return Inbound(**base, text=text, command=head.lower(), args=args.strip())
            return Inbound(**base, text=text)
        if kind == "interactive":
            interactive = message.get("interactive") or {}
            reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
            return Inbound(**base, callback=str(reply.get("id") or ""))
        if kind == "button":  # a template's quick reply: its payload is our button data
            return Inbound(**base, callback=str((message.get("button") or {}).get("payload") or ""))
        if kind in ("document", "image", "video", "audio", "sticker"):
            media = message.get(kind) or {}
            media_id = str(media.get("id") or "")
            filename = media.get("filename") or ("foto.jpg" if kind == "image" else "berkas")
            caption = media.get("caption")

            async def fetch() -> bytes:
                return await self._download(media_id)

            file = IncomingFile(filename, media.get("mime_type"), None, fetch)
            return Inbound(**base, file=file, text=caption)
        return None  # reactions, locations, contacts and the like: nothing for the bot to do

    async def _download(self, media_id: str) -> bytes:
        """The media's bytes, fetched at once (its URL expires in minutes); too large is refused unread."""
        try:
            info = (await self.http.get(media_id)).raise_for_status().json()
            if int(info.get("file_size") or 0) > self.office.max_file_bytes:
                limit = self.office.max_file_bytes / 1_048_576
                raise Refusal("berkas_terlalu_besar", f"Berkas terlalu besar; batasnya {limit:.0f} MB.")
            return (await self.http.get(info["url"])).raise_for_status().content
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("whatsapp: media %s could not be fetched: %s", media_id, type(exc).__name__)
            raise Refusal(
                "berkas_gagal", "Berkas Anda tidak bisa diambil dari WhatsApp. Kirim ulang sebentar lagi."
            ) from exc

    async def _perform(self, wa_id: str, response: Response) -> None:
        replies = list(response.replies)
        if not replies and response.answer:  # Telegram's toast has no WhatsApp twin: say it
            replies = [Reply(response.answer)]
        for reply in replies:
            try:
                await self.send(wa_id, reply)
            except (RetryLater, Undeliverable) as exc:
                log.warning("whatsapp: a reply to %s was not sent: %s", wa_id, exc)

    async def _record_status(self, status: dict[str, Any]) -> None:
        """sent / delivered / read / failed, on the outbox row of that message; a failure is retried (Meta's own
        errors) up to the sender's limit, then left failed."""
        wamid, state = str(status.get("id") or ""), str(status.get("status") or "")
        if not wamid or state not in ("sent", "delivered", "read", "failed"):
            return
        errors = status.get("errors") or []
        code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
        # The callback can overtake the sender's own record of the message id: wait for it a little (indexed
        # lookups; a direct reply, which has no outbox row, costs four of them).
        for wait in (0.0, 0.2, 0.5, 1.0):
            await asyncio.sleep(wait)
            async with self.office.reading() as uow:
                known = await uow.session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.channel == NAME, OutboxMessage.external_id == wamid)
                )
            if known is not None:
                break
        else:
            return  # not ours (a reply sent outside the outbox, or a row long gone)
        async with self.office.uow() as uow:
            row = await uow.session.get_one(OutboxMessage, known)
            if STATUS_ORDER.get(row.platform_status or "", 0) >= STATUS_ORDER[state]:
                return  # callbacks come in any order: "delivered" after "read" changes nothing
            values: dict[str, Any] = {"platform_status": state}
            if state == "failed":
                values["last_error"] = f"WhatsApp: gagal terkirim (kode {code})"
                if row.platform_status in ("delivered", "read"):
                    return  # it did arrive: a late or out-of-order failure changes nothing
                # Sent again only for a reason that may pass, a few times at most; outside the 24-hour window,
                # as the template (the outbox reads the mark).
                if code == WINDOW_CLOSED and row.attempts < 3:
                    values |= {"status": "pending", "platform_status": OUTSIDE_WINDOW,
                               "next_attempt_at": self.office.now(),
                               "last_error": "WhatsApp: di luar jendela 24 jam (131047)"}  # fmt: skip
                elif code not in PERMANENT and row.attempts < 3:
                    values |= {"status": "pending", "attempts": row.attempts + 1,
                               "next_attempt_at": self.office.now() + timedelta(minutes=1)}  # fmt: skip
                else:
                    values["status"] = "failed"
                    log.warning("whatsapp: outbox row %s failed for good (code %s)", row.id, code)
            # Only forward, and only while it is still that message (not if resent meanwhile): checked in the
            # UPDATE itself, since two callbacks of one message may be handled at the same time.
            lower = [name for name, rank in STATUS_ORDER.items() if rank < STATUS_ORDER[state]]
            if state == "failed":
                lower = ["sent"]  # a failure counts only for a message not delivered
            moved = await uow.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.external_id == wamid,
                    or_(OutboxMessage.platform_status.is_(None), OutboxMessage.platform_status.in_(lower)),
                )
                .values(**values)
            )
            if moved.rowcount and values.get("status") == "failed":  # type: ignore[attr-defined]
                await tell_admins_undelivered(
                    uow.session, row, NAME, f"WhatsApp tidak dapat mengantarkannya (kode {code})", self.office.now()
                )

    # --- outbound -----------------------------------------------------------------------------------------------

    async def send(self, address: str, reply: Reply) -> str:
        """For the outbox and for replies: one message (a link button adds one); Graph errors become RetryLater /
        Undeliverable, and WindowClosed when only a template would reach the person."""
        links = [b for row in reply.buttons for b in row if b.url is not None]
        choices = [b for row in reply.buttons for b in row if b.url is None]
        attachment = reply.document or reply.photo
        if links and not choices and attachment is None:  # a page to open: one "call to action" message
            return await self._link(address, reply.text, links[0])
        last = await self._send(address, reply, choices, attachment)
        for link in links:
            last = await self._link(address, "Buka halaman lewat tombol di bawah.", link)
        return last

    async def send_outside_window(self, address: str, reply: Reply, row_id: int) -> str:
        """The approved template instead of `reply` (the person has not written for 24 hours): the office, one
        line of the message, and a quick reply that brings the message itself once they tap it."""
        summary = " ".join((reply.text or "Ada pemberitahuan baru.").split())  # no newlines, tabs or long spaces
        office_name = self.office.sop.office
        data = buttons.encode(buttons.MISSED, str(row_id))  # tapped: the message itself, in the open window
        template = {
            "name": self.settings.template_name,
            "language": {"code": self.settings.template_language},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": _clip(office_name, TEMPLATE_PARAMETER)},
                        {"type": "text", "text": _clip(summary, TEMPLATE_PARAMETER)},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": data}],
                },
            ],
        }
        return await self._post(address, {"type": "template", "template": template})

    async def _link(self, address: str, text: str, link: Button) -> str:
        assert link.url is not None
        action = {"name": "cta_url", "parameters": {"display_text": _title(link.label, BUTTON_TITLE), "url": link.url}}
        interactive = {"type": "cta_url", "body": {"text": _clip(text or "-", BODY_LIMIT)}, "action": action}
        return await self._post(address, {"type": "interactive", "interactive": interactive})

    async def _send(self, address: str, reply: Reply, choices: list[Button], attachment: Document | None) -> str:
        media_id = None
        if attachment is not None:
            data = await asyncio.to_thread(self.office.files.get, attachment.sha256)
            media_type = mimetypes.guess_type(attachment.filename)[0] or "application/octet-stream"
            media_id = await self._upload(data, attachment.filename, media_type)
        if choices and len(choices) <= MAX_BUTTONS:
            interactive: dict[str, Any] = {
                "type": "button",
                "body": {"text": _clip(reply.text or "-", BODY_LIMIT)},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": b.data, "title": _title(b.label, BUTTON_TITLE)}}
                        for b in choices
                    ]
                },
            }
            if media_id is not None:
                assert attachment is not None
                if reply.document is not None:
                    document = {"id": media_id, "filename": attachment.filename}
                    interactive["header"] = {"type": "document", "document": document}
                else:
                    interactive["header"] = {"type": "image", "image": {"id": media_id}}
                media_id = None
            body: dict[str, Any] = {"type": "interactive", "interactive": interactive}
        elif choices:  # more than three choices: a list (and the file, if any, before it)
            if media_id is not None:
                await self._post(
                    address, {"type": "document", "document": {"id": media_id, "filename": attachment.filename}}
                )  # type: ignore[union-attr]
                media_id = None
            if len(choices) > MAX_ROWS:
                log.warning("whatsapp: %d choices, only the first %d fit in a list", len(choices), MAX_ROWS)
            rows = [{"id": b.data, "title": _title(b.label, ROW_TITLE)} for b in choices[:MAX_ROWS]]
            body = {
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": _clip(reply.text or "-", BODY_LIMIT)},
                    "action": {"button": "Pilih", "sections": [{"title": "Pilihan", "rows": rows}]},
                },
            }
        elif media_id is not None:
            caption = reply.text if len(reply.text) <= CAPTION_LIMIT else ""
            if not caption and reply.text:
                await self._post(address, {"type": "text", "text": {"body": _clip(reply.text, TEXT_LIMIT)}})
            document = {"id": media_id, "filename": attachment.filename}  # type: ignore[union-attr]
            if caption:
                document["caption"] = caption
            body = {"type": "document", "document": document}
        else:
            body = {"type": "text", "text": {"body": _clip(reply.text or "-", TEXT_LIMIT), "preview_url": False}}
        return await self._post(address, body)

    async def clear_buttons(self, address: str, message_id: str) -> None:
        """WhatsApp cannot edit a sent message: its buttons stay, and a press on them is answered as stale."""
        return None

    async def _post(self, address: str, body: dict[str, Any]) -> str:
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": address, **body}
        try:
            response = await self.http.post(f"{self.settings.phone_number_id}/messages", json=payload)
        except httpx.TimeoutException as exc:
            raise RetryLater(5.0, "WhatsApp: timeout", everyone=False) from exc
        except httpx.HTTPError as exc:
            raise RetryLater(5.0, f"WhatsApp: {type(exc).__name__}", everyone=False) from exc
        if response.status_code == 200:
            return str(response.json()["messages"][0]["id"])
        code = _error_code(response)
        if code == WINDOW_CLOSED:
            raise WindowClosed("WhatsApp: outside the 24-hour window (131047)")
        if code == PAIR_RATE_LIMIT:  # this person only: the other chats go on
            raise RetryLater(10.0, "WhatsApp: too many messages to this person", everyone=False)
        if code in AUTH_ERRORS or response.status_code == 401:
            log.error("whatsapp: the access token was refused (code %s): check WHATSAPP_ACCESS_TOKEN", code)
            raise RetryLater(300.0, "WhatsApp: access token refused", everyone=False)
        if code in RATE_LIMITS or response.status_code == 429:
            raise RetryLater(60.0, f"WhatsApp: rate limit ({code})", everyone=False)
        if response.status_code >= 500:
            raise RetryLater(5.0, f"WhatsApp: {response.status_code}", everyone=False)
        raise Undeliverable(f"WhatsApp: error {code} ({response.status_code})")

    async def _upload(self, data: bytes, filename: str, media_type: str) -> str:
        try:
            response = await self.http.post(
                f"{self.settings.phone_number_id}/media",
                data={"messaging_product": "whatsapp", "type": media_type},
                files={"file": (filename, data, media_type)},
            )
        except httpx.HTTPError as exc:
            raise RetryLater(5.0, f"WhatsApp media: {type(exc).__name__}", everyone=False) from exc
        if response.status_code != 200:
            if response.status_code >= 500 or response.status_code == 429:
                raise RetryLater(5.0, f"WhatsApp media: {response.status_code}", everyone=False)
            raise Undeliverable(f"WhatsApp media: error {_error_code(response)}")
        return str(response.json()["id"])


def _values(payload: Any, phone_number_id: str) -> list[dict[str, Any]]:
    """The changes of a webhook that concern our number (Meta signs the webhooks of every number of the
    business account with the same app secret)."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return []
    out = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict) and str((value.get("metadata") or {}).get("phone_number_id")) == phone_number_id:
                out.append(value)
    return out


def _error_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _title(label: str, limit: int) -> str:
    """A button title within WhatsApp's limit: the words first (the icon goes if both do not fit), then clipped."""
    if len(label) > limit and " " in label and not label[0].isalnum():
        label = label.split(" ", 1)[1]
    return _clip(label, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
