"""A fake WhatsApp Cloud API (Graph API) on 127.0.0.1 that records what the bot sends, for the demo and the tests.

It answers the calls the WhatsApp channel makes, in Meta's shapes: `POST /{phone id}/messages` (text,
document, interactive button and list messages, templates), `POST /{phone id}/media` (upload), `GET /{media
id}` (the media's short-lived URL) and the download of that URL. It checks what Meta checks and the bot could
get wrong: the bearer token, at most 3 reply buttons with titles of at most 20 characters, at most 10 list
rows of at most 24 characters, link (cta_url) buttons, approved template names and their parameters, ids it
issued; a phone that has not written for 24 hours gets no free-form message (131047, by status webhook). People are phones (`FakePhone`) that keep the messages they
received; a test makes them write to the bot through `WhatsAppPeer.say/press/send_document`, which post
signed webhooks to the bot's web app, as Meta does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web

JSONDict = dict[str, Any]


class TemplateError(ValueError):
    """A template that is not approved (name or language unknown)."""


@dataclass
class Received:
    """A message the bot sent to one phone."""

    id: str  # wamid
    to: str
    type: str  # text, document, interactive, template
    text: str = ""  # the body (or caption)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (id, title): reply buttons or list rows
    document: tuple[str, bytes] | None = None  # (filename, bytes)
    template: str | None = None
    payload: JSONDict = field(default_factory=dict, repr=False)

    def button(self, title: str) -> str:
        """The id of the button (or list row) whose title contains `title`."""
        for button_id, label in self.buttons:
            if title.lower() in label.lower():
                return button_id
        raise KeyError(f"no button {title!r} in {self.buttons}")


@dataclass
class FakePhone:
    wa_id: str
    name: str
    messages: list[Received] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def wait_for(self, check: Callable[[Received], bool], *, timeout: float = 10.0) -> Received:
        """The first message (already here or arriving within `timeout`) for which `check` holds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if check(message):
                    return message
            seen = len(self.messages)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                shown = "\n".join(f"  {m.type}: {m.text[:80]!r} {m.buttons}" for m in self.messages[-5:])
                raise TimeoutError(f"{self.name} did not get the message in {timeout} s; last ones:\n{shown}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):  # the deadline is checked at the top of the loop
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def wait_for_text(self, fragment: str, **kw: float) -> Received:
        return await self.wait_for(lambda m: fragment in m.text, **kw)


class FakeGraphApi:
    """The fake Cloud API server. `failures[wa_id]` holds errors (Graph error codes) for the next sends there."""

    def __init__(self, *, token: str = "token-uji", phone_number_id: str = "1234567890") -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.url = ""
        self.phones: dict[str, FakePhone] = {}
        self.media: dict[str, tuple[str, str, bytes]] = {}  # id -> (filename, mime type, bytes)
        self.failures: dict[str, list[int]] = {}
        # Approved templates: name -> (language, number of body parameters, quick-reply button titles).
        self.templates: dict[str, tuple[str, int, list[str]]] = {"suratbot_pemberitahuan": ("id", 2, ["Buka"])}
        # Phones that have not written for 24 hours: a free-form message to them is taken (200) and then fails
        # with 131047 in a status webhook, as Meta does; they leave this set when they write.
        self.window_closed: set[str] = set()
        self.on_status: Callable[[str, str, str, int | None], Awaitable[Any]] | None = None
        self._later: set[asyncio.Task[Any]] = set()
        self.calls: list[tuple[str, JSONDict]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    def phone(self, wa_id: str, name: str = "") -> FakePhone:
        return self.phones.setdefault(wa_id, FakePhone(wa_id, name or wa_id))

    def add_media(self, data: bytes, filename: str, mime_type: str) -> str:
        """A file a person sends: stored as Meta stores it, reachable by its media id."""
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = (filename, mime_type, data)
        return media_id

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v21.0"

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/v21.0/{phone_id}/messages", self._messages)
        app.router.add_post("/v21.0/{phone_id}/media", self._upload)
        app.router.add_get("/v21.0/{media_id}", self._media_info)
        app.router.add_get("/download/{media_id}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        for task in list(self._later):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the API ---------------------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}")

    @staticmethod
    def _error(code: int, message: str, status: int = 400) -> web.Response:
        body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake"}}
        return web.json_response(body, status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(190, "Invalid OAuth access token.", 401)
        if request.match_info["phone_id"] != self.phone_number_id:
            return self._error(100, "Unsupported post request: unknown phone number id")
        body = await request.json()
        self.calls.append(("messages", body))
        to = str(body.get("to", ""))
        if body.get("messaging_product") != "whatsapp" or not to.isdigit():
            return self._error(100, "Invalid parameter")
        queued = self.failures.get(to)
        if queued:
            code = queued.pop(0)
            return self._error(
                code, {131056: "Pair rate limit hit", 131047: "Re-engagement message"}.get(code, "error")
            )
        try:
            received = self._parse(to, body)
        except TemplateError as exc:
            return self._error(132001, f"Template name does not exist in the translation: {exc}", 404)
        except ValueError as exc:
            return self._error(100, f"Invalid parameter: {exc}")
        if to in self.window_closed and received.type != "template":
            self._report(received.id, to, "failed", 131047)  # accepted now, refused a moment later
            return web.json_response({"messaging_product": "whatsapp", "messages": [{"id": received.id}]})
        phone = self.phone(to)
        phone.messages.append(received)
        phone._arrived.set()
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": received.id}],
            }
        )

    def _parse(self, to: str, body: JSONDict) -> Received:
        kind = body.get("type")
        wamid = f"wamid.fake{next(self._ids)}"
        if kind == "text":
            text = body["text"]["body"]
            if len(text) > 4096:
                raise ValueError("text body longer than 4096 characters")
            return Received(wamid, to, "text", text, payload=body)
        if kind == "document":
            document = body["document"]
            return Received(wamid, to, "document", document.get("caption", ""),
                            document=self._document(document), payload=body)  # fmt: skip
        if kind == "template":
            template = body["template"]
            approved = self.templates.get(template.get("name", ""))
            if approved is None or approved[0] != (template.get("language") or {}).get("code"):
                raise TemplateError(f"{template.get('name')!r} ({(template.get('language') or {}).get('code')})")
            texts = [
                str(p.get("text", ""))
                for c in template.get("components", [])
                if c.get("type") == "body"
                for p in c.get("parameters", [])
            ]
            if len(texts) != approved[1]:
                raise ValueError(f"(#132000) expected {approved[1]} body parameters, got {len(texts)}")
            if any("\n" in t or "\t" in t or "     " in t or not t for t in texts):
                raise ValueError("template parameters: no newlines, tabs, 5 spaces in a row, or empty text")
            buttons = []
            for c in template.get("components", []):
                if c.get("type") == "button":
                    title = approved[2][int(c.get("index", 0))]
                    payload = str(c["parameters"][0]["payload"])
                    if c.get("sub_type") != "quick_reply" or not payload:
                        raise ValueError("quick reply buttons carry a payload")
                    buttons.append((payload, title))
            return Received(wamid, to, "template", " | ".join(texts), buttons, template=template["name"], payload=body)
        if kind == "interactive":
            interactive = body["interactive"]
            text = interactive["body"]["text"]
            if len(text) > 1024:
                raise ValueError("interactive body longer than 1024 characters")
            document = None
            header = interactive.get("header")
            if header and header.get("type") == "document":
                document = self._document(header["document"])
            action = interactive["action"]
            if interactive["type"] == "button":
                buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
                if not 1 <= len(buttons) <= 3 or any(len(title) > 20 for _, title in buttons):
                    raise ValueError("1 to 3 reply buttons, titles of at most 20 characters")
            elif interactive["type"] == "list":
                buttons = [(r["id"], r["title"]) for s in action["sections"] for r in s["rows"]]
                if not 1 <= len(buttons) <= 10 or any(len(title) > 24 for _, title in buttons):
                    raise ValueError("1 to 10 list rows, titles of at most 24 characters")
                if len(action.get("button", "")) > 20:
                    raise ValueError("list button text longer than 20 characters")
            elif interactive["type"] == "cta_url":
                parameters = action["parameters"]
                url = urlsplit(str(parameters["url"]))
                # Meta wants https; this machine's own address is let through for the demo and the tests.
                local = url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost")
                if action.get("name") != "cta_url" or not (url.scheme == "https" or local):
                    raise ValueError("cta_url: a name and an https url")
                if len(parameters["display_text"]) > 20:
                    raise ValueError("cta_url display_text longer than 20 characters")
                buttons = [(str(parameters["url"]), str(parameters["display_text"]))]
            else:
                raise ValueError(f"interactive type {interactive['type']!r}")
            if any(len(button_id) > 256 for button_id, _ in buttons):
                raise ValueError("button id longer than 256 characters")
            return Received(wamid, to, "interactive", text, buttons, document=document, payload=body)
        raise ValueError(f"message type {kind!r}")

    def _report(self, wamid: str, to: str, status: str, code: int | None) -> None:
        """A status webhook about a message, posted shortly after the call that sent it was answered."""
        if self.on_status is None:
            return

        async def later() -> None:
            await asyncio.sleep(0.05)
            assert self.on_status is not None
            await self.on_status(wamid, to, status, code)

        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def _document(self, document: JSONDict) -> tuple[str, bytes]:
        media_id = document.get("id")
        if media_id not in self.media:
            raise ValueError(f"unknown media id {media_id!r}")
        filename, _, data = self.media[media_id]
        return document.get("filename") or filename, data

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(190, "Invalid OAuth access token.", 401)
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, web.FileField):
            return self._error(100, "Invalid parameter")
        data = upload.file.read()
        media_id = self.add_media(data, upload.filename or "berkas", str(form.get("type") or upload.content_type))
        self.calls.append(("media", {"id": media_id, "filename": upload.filename}))
        return web.json_response({"id": media_id})

    async def _media_info(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(190, "Invalid OAuth access token.", 401)
        media_id = request.match_info["media_id"]
        if media_id == self.phone_number_id:  # the phone number itself (the bot's check at start)
            return web.json_response({"display_phone_number": "+62 811-0000-0000", "id": media_id})
        if media_id not in self.media:
            return self._error(100, "Unsupported get request: unknown media")
        _, mime_type, data = self.media[media_id]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/download/{media_id}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return web.Response(status=404)
        _, mime_type, data = self.media[media_id]
        return web.Response(body=data, content_type=mime_type)


class WhatsAppPeer:
    """People writing to the bot: each action is a webhook Meta would post, signed with the app secret."""

    def __init__(self, api: FakeGraphApi, webhook_url: str, app_secret: str) -> None:
        self.api = api
        self.webhook_url = webhook_url
        self.app_secret = app_secret
        self._ids = itertools.count(1)

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    async def post(self, payload: JSONDict, *, signature: str | None = None) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        signature = self.sign(body) if signature is None else signature
        if signature:  # "" sends no signature at all
            headers["X-Hub-Signature-256"] = signature
        async with httpx.AsyncClient() as client:
            return await client.post(self.webhook_url, content=body, headers=headers)

    def envelope(self, *, messages: list[JSONDict] | None = None, statuses: list[JSONDict] | None = None,
                 contacts: list[JSONDict] | None = None) -> JSONDict:  # fmt: skip
        value: JSONDict = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100000000", "phone_number_id": self.api.phone_number_id},
        }
        if messages is not None:
            value["messages"] = messages
            value["contacts"] = contacts or []
        if statuses is not None:
            value["statuses"] = statuses
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": "waba", "changes": [{"value": value, "field": "messages"}]}],
        }

    def message(self, phone: FakePhone, kind: str, body: JSONDict, *, wamid: str | None = None) -> JSONDict:
        return {"from": phone.wa_id, "id": wamid or f"wamid.in{next(self._ids)}", "timestamp": str(int(time.time())),
                "type": kind, kind: body}  # fmt: skip

    async def send(self, phone: FakePhone, kind: str, body: JSONDict, *, wamid: str | None = None) -> httpx.Response:
        self.api.window_closed.discard(phone.wa_id)  # they wrote: 24 hours of free-form messages again
        contacts = [{"profile": {"name": phone.name}, "wa_id": phone.wa_id}]
        return await self.post(
            self.envelope(messages=[self.message(phone, kind, body, wamid=wamid)], contacts=contacts)
        )

    async def say(self, phone: FakePhone, text: str, **kw: Any) -> httpx.Response:
        return await self.send(phone, "text", {"body": text}, **kw)

    async def press(self, phone: FakePhone, message: Received, title: str) -> httpx.Response:
        button_id = message.button(title)
        if message.type == "template":  # a template's quick reply comes back as a "button" message
            return await self.send(phone, "button", {"payload": button_id, "text": title})
        kind = "list_reply" if message.payload.get("interactive", {}).get("type") == "list" else "button_reply"
        return await self.send(phone, "interactive", {"type": kind, kind: {"id": button_id, "title": title}})

    async def send_document(self, phone: FakePhone, data: bytes, filename: str, caption: str | None = None,
                            mime_type: str = "application/pdf") -> httpx.Response:  # fmt: skip
        media_id = self.api.add_media(data, filename, mime_type)
        document: JSONDict = {"filename": filename, "mime_type": mime_type, "id": media_id,
                              "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
        if caption:
            document["caption"] = caption
        return await self.send(phone, "document", document)

    async def status(self, wamid: str, to: str, status: str, *, error_code: int | None = None) -> httpx.Response:
        entry: JSONDict = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": to}
        if error_code is not None:
            entry["errors"] = [{"code": error_code, "title": "error"}]
        return await self.post(self.envelope(statuses=[entry]))

    def report_statuses(self) -> None:
        """Status webhooks the fake API decides on (131047 outside the window) are posted by this peer."""

        async def post(wamid: str, to: str, status: str, code: int | None) -> None:
            await self.status(wamid, to, status, error_code=code)

        self.api.on_status = post
