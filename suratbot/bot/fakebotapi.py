"""A fake Telegram Bot API over real HTTP (aiohttp), for end-to-end tests and the offline demo."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Final

from aiohttp import web

__all__ = ["ApiError", "FakeBotApi", "FakeUser", "SentMessage", "UploadedFile"]

JSONDict = dict[str, Any]
Handler = Callable[[JSONDict], Awaitable[Any]]

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024

# Parameters that are plain strings. PTB sends every other parameter JSON-encoded (numbers, booleans and
# nested objects alike, e.g. chat_id="42", reply_markup='{"inline_keyboard": ...}'); these it sends as they are.
_STRING_PARAMS: Final = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "file_id",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "secret_token",
        "short_description",
        "text",
        "url",
    }
)

_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_QUERY_TOO_OLD: Final = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_STATUS_DESCRIPTIONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    """A Bot API error, answered as ``{"ok": false, "error_code": ..., "description": ...}`` with that HTTP status."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as it appears in :attr:`FakeBotApi.calls`."""

    file_name: str
    data: bytes
    mime_type: str

    def __repr__(self) -> str:
        return f"UploadedFile({self.file_name!r}, {len(self.data)} bytes, {self.mime_type!r})"


@dataclass
class _StoredFile:
    """A file the fake knows (sent by a user or uploaded by the bot), reachable by file_id and by file_path."""

    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    data: bytes
    file_path: str

    def as_document(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
        }


@dataclass
class SentMessage:
    """A message the bot sent to a private chat, kept up to date as the bot edits or deletes it."""

    message_id: int
    chat_id: int
    text: str | None = None
    caption: str | None = None
    document: tuple[str, bytes] | None = None  # (file name, bytes)
    photo: bytes | None = None  # a picture sent with sendPhoto
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # inline rows of (label, callback_data)
    reply_keyboard: list[list[dict[str, Any]]] | None = None
    deleted: bool = False
    edits: int = 0
    sent_at: float = field(default_factory=time.monotonic)
    file_id: str | None = field(default=None, repr=False)
    inline_markup: JSONDict | None = field(default=None, repr=False)  # the inline keyboard exactly as sent
    date: int = field(default_factory=lambda: int(time.time()), repr=False)
    edit_date: int | None = field(default=None, repr=False)

    def describe(self) -> str:
        """One line for a transcript: the text or document, the buttons and the reply keyboard."""
        parts: list[str] = []
        if self.document is not None:
            parts.append(f"[dokumen {self.document[0]}]")
        if self.photo is not None:
            parts.append(f"[gambar, {len(self.photo)} bita]")
        if self.text is not None:
            parts.append(self.text)
        if self.caption:
            parts.append(self.caption)
        parts.extend("[" + " | ".join(label for label, _ in row) + "]" for row in self.buttons)
        if self.reply_keyboard:
            labels = " | ".join(str(button.get("text", "")) for row in self.reply_keyboard for button in row)
            parts.append(f"{{keyboard: {labels}}}")
        if self.edits:
            parts.append("(diedit)")
        if self.deleted:
            parts.append("(dihapus)")
        return " ".join(parts)


@dataclass
class _Markup:
    """A decoded reply_markup: an inline keyboard, a reply keyboard or its removal (or nothing we model)."""

    inline: JSONDict | None = None
    keyboard: list[list[dict[str, Any]]] | None = None
    remove_keyboard: bool = False


class _Own(enum.Enum):
    """share_contact's default: the user's own id."""

    ID = "own"


class FakeUser:
    """A person in a private chat with the bot (the chat id equals the user id)."""

    def __init__(self, api: FakeBotApi, user_id: int, first_name: str, username: str | None) -> None:
        self._api = api
        self.user_id = user_id
        self.first_name = first_name
        self.username = username
        self.messages: list[SentMessage] = []
        self.answers: list[str] = []
        self.chat_actions: list[str] = []
        self.keyboard: list[list[dict[str, Any]]] | None = None  # the reply keyboard currently shown
        self._message_ids = itertools.count(1)
        self._user_messages: dict[int, JSONDict] = {}
        self._log: list[tuple[str, Any]] = []  # ("user", message dict) | ("bot", SentMessage) | ("press", label)
        self._changed = asyncio.Event()

    # -- what the user does ------------------------------------------------------------------------------------

    def send_text(self, text: str) -> JSONDict:
        """Send a text; one starting with "/" is a command and carries the bot_command entity."""
        message = self._new_message(text=text)
        command = text.split(maxsplit=1)[0] if text.strip() else ""
        if text.startswith("/") and len(command) > 1:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return self._api._enqueue({"message": message})

    def send_document(
        self, data: bytes, file_name: str, *, mime_type: str = "application/pdf", caption: str | None = None
    ) -> JSONDict:
        """Send a file; the fake keeps its bytes under a new file_id so the bot can getFile and download it."""
        stored = self._api._store_file(data, file_name, mime_type)
        message = self._new_message(document=stored.as_document())
        if caption is not None:
            message["caption"] = caption
        return self._api._enqueue({"message": message})

    def share_contact(
        self, phone_number: str, *, user_id: int | _Own | None = _Own.ID, first_name: str | None = None
    ) -> JSONDict:
        """Share a contact: by default the user's own; ``user_id=None`` one without a Telegram account;
        another id someone else's contact, forwarded from that person."""
        contact: JSONDict = {"phone_number": phone_number}
        forward_origin: JSONDict | None = None
        if user_id is _Own.ID or user_id == self.user_id:
            contact.update(first_name=first_name or self.first_name, user_id=self.user_id)
        elif user_id is None:
            contact["first_name"] = first_name or "Kontak"
        else:
            contact.update(first_name=first_name or f"Kontak {user_id}", user_id=user_id)
            forward_origin = {
                "type": "user",
                "date": int(time.time()),
                "sender_user": {"id": user_id, "is_bot": False, "first_name": contact["first_name"]},
            }
        message = self._new_message(contact=contact)
        if forward_origin is not None:
            message["forward_origin"] = forward_origin
        return self._api._enqueue({"message": message})

    def press(self, message: SentMessage, label_contains: str) -> JSONDict:
        """Press the first inline button of ``message`` whose label contains ``label_contains``."""
        if not message.deleted and message.inline_markup is not None:
            for row in message.inline_markup["inline_keyboard"]:
                for button in row:
                    if label_contains in button["text"] and "callback_data" in button:
                        return self._press(message, button["callback_data"], button["text"])
        raise KeyError(
            f"no button containing {label_contains!r} on message {message.message_id}: {message.describe()!r}"
        )

    def press_data(self, message: SentMessage, data: str) -> JSONDict:
        """A forged press: arbitrary callback_data on ``message``, whatever buttons it shows."""
        return self._press(message, data, f"data={data!r}")

    # -- what the test sees ------------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        *,
        timeout: float = 10,
        after: SentMessage | None = None,
    ) -> SentMessage:
        """The first bot message (already there or arriving; edits count) matching ``predicate``.

        With ``after``, only messages sent after that one are considered. Raises TimeoutError with the chat.
        """
        deadline = time.monotonic() + timeout
        min_id = after.message_id if after is not None else 0
        while True:
            for message in self.messages:
                if message.message_id > min_id and predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no matching bot message for {self.first_name} ({self.user_id}) within {timeout}s; "
                    f"the chat so far:\n{self.transcript() or '(empty)'}"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):  # checked again at the top of the loop
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for_text(
        self,
        contains: str,
        *,
        timeout: float = 10,
        after: SentMessage | None = None,
    ) -> SentMessage:
        """The first bot message whose text (or caption) contains ``contains``."""
        return await self.wait_for(
            lambda message: contains in (message.text or message.caption or ""), timeout=timeout, after=after
        )

    def transcript(self) -> str:
        """The chat as readable text: "> user text", "< bot text [button | button]", "< [dokumen nama.pdf]"."""
        lines: list[str] = []
        for kind, item in self._log:
            if kind == "bot":
                lines.append(f"< {item.describe()}")
            elif kind == "press":
                lines.append(f"> (tekan {item})")
            elif (self.user_id, item["message_id"]) in self._api.deleted_user_messages:
                lines.append("> [pesan dihapus oleh bot]")  # e.g. a passphrase: gone from the chat, so from here
            else:
                lines.append(f"> {self._describe_user_message(item)}")
        return "\n".join(lines)

    # -- internals ---------------------------------------------------------------------------------------------

    def _user_dict(self) -> JSONDict:
        user: JSONDict = {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": "id"}
        if self.username:
            user["username"] = self.username
        return user

    def _chat_dict(self) -> JSONDict:
        chat: JSONDict = {"id": self.user_id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat

    def _new_message(self, **content: Any) -> JSONDict:
        message: JSONDict = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat_dict(),
            "from": self._user_dict(),
            **content,
        }
        self._user_messages[message["message_id"]] = message
        self._log.append(("user", message))
        return message

    def _press(self, message: SentMessage, data: str, label: str) -> JSONDict:
        if message.chat_id != self.user_id:
            raise ValueError(f"message {message.message_id} is in chat {message.chat_id}, not {self.user_id}")
        query_id = self._api._new_callback_query(self)
        self._log.append(("press", label))
        query = {
            "id": query_id,
            "from": self._user_dict(),
            "message": self._api._message_dict(message),
            "chat_instance": str(-self.user_id),
            "data": data,
        }
        return self._api._enqueue({"callback_query": query})

    def _add_bot_message(self, message: SentMessage) -> None:
        self.messages.append(message)
        self._log.append(("bot", message))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    def _describe_user_message(message: JSONDict) -> str:
        parts: list[str] = []
        if "document" in message:
            parts.append(f"[dokumen {message['document']['file_name']}]")
        if "contact" in message:
            contact = message["contact"]
            parts.append(f"[kontak {contact['phone_number']} user_id={contact.get('user_id')}]")
        for key in ("text", "caption"):
            if key in message:
                parts.append(message[key])
        return " ".join(parts)


class FakeBotApi:
    """A fake Telegram Bot API that a real PTB ``Application`` runs against unchanged.

    Build the application with ``.base_url(f"{api.url}/bot").base_file_url(f"{api.url}/file/bot")``. Requests
    may be form-urlencoded, multipart/form-data or JSON. parse_mode is ignored (entities are not parsed), so text
    length limits count the raw text.
    """

    def __init__(
        self, token: str = "123456:TEST", *, bot_username: str = "suratbot_uji_bot", bot_name: str = "Suratbot"
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_name = bot_name
        bot_id = token.split(":", 1)[0]
        self.bot_id = int(bot_id) if bot_id.isdigit() else 123456
        self.url = ""
        self.calls: list[tuple[str, JSONDict]] = []  # every method called with the right token, failed ones too
        self.commands: list[dict[str, Any]] = []  # from the latest setMyCommands
        self.deleted_user_messages: set[tuple[int, int]] = set()  # (chat_id, message_id)
        self.webhook_url = ""
        self._users: dict[int, FakeUser] = {}
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._new_updates = asyncio.Event()
        self._allowed_updates: set[str] | None = None
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._callback_queries: dict[str, FakeUser] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._my_commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._ok,
                "close": self._ok,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
            }.items()
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port by default); returns the base URL "http://127.0.0.1:PORT"."""
        if self._runner is not None:
            raise RuntimeError("the fake Bot API is already running")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/file/{bot_token}/{file_path:.+}", self._serve_file)
        app.router.add_route("*", "/{bot_token}/{method}", self._serve_method)
        # Cancel a long poll when its client goes away, as PTB does when the updater stops.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._closing = False
        bound_port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Answer pending long polls and stop serving."""
        self._closing = True
        self._new_updates.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the test's controls -----------------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str, *, username: str | None = None) -> FakeUser:
        """The user with that id (created on first use; the bot can only write to users that exist)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        created = FakeUser(self, user_id, first_name, username)
        self._users[user_id] = created
        return created

    def fail_next(self, method: str, *, status: int = 429, retry_after: int | None = 1, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail like Telegram does.

        ``retry_after`` only applies to 429 (Telegram sends it as ``parameters.retry_after``, which PTB turns into
        ``RetryAfter`` whatever the status); other statuses carry a description only.
        """
        if status == 429:
            description = f"Too Many Requests: retry after {retry_after}" if retry_after else "Too Many Requests"
            parameters = {"retry_after": retry_after} if retry_after is not None else None
        else:
            description, parameters = _STATUS_DESCRIPTIONS.get(status, f"Error {status}"), None
        self._failures.setdefault(method.lower(), []).extend(
            ApiError(status, description, parameters) for _ in range(times)
        )

    def sent_per_chat_times(self, chat_id: int) -> list[float]:
        """When (time.monotonic()) the bot sent each message to that chat, in order, for rate-limit checks."""
        user = self._users.get(chat_id)
        return [message.sent_at for message in user.messages] if user is not None else []

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    # -- HTTP --------------------------------------------------------------------------------------------------

    async def _serve_method(self, request: web.Request) -> web.Response:
        prefix, method = request.match_info["bot_token"], request.match_info["method"]
        if not prefix.startswith("bot"):
            return _error_response(ApiError(404, "Not Found"))
        if prefix.removeprefix("bot") != self.token:
            return _error_response(ApiError(401, "Unauthorized"))
        try:
            params = await _read_params(request)
        except ApiError as error:
            return _error_response(error)
        name, handler = self._methods.get(method.lower(), (method, None))
        self.calls.append((name, params))
        logger.debug("fake Bot API: %s %s", name, params)
        if handler is None:
            return _error_response(ApiError(404, "Not Found"))
        failures = self._failures.get(name.lower())
        if failures:
            return _error_response(failures.pop(0))
        try:
            result = await handler(params)
        except ApiError as error:
            return _error_response(error)
        return web.json_response({"ok": True, "result": result})

    async def _serve_file(self, request: web.Request) -> web.Response:
        if request.match_info["bot_token"] != f"bot{self.token}":
            return _error_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return _error_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type)

    # -- methods -----------------------------------------------------------------------------------------------

    async def _ok(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                "webhook first",
            )
        offset = _int(params, "offset", default=0)
        limit = min(max(_int(params, "limit", default=100), 1), 100)
        timeout = max(_number(params, "timeout"), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = {str(kind) for kind in allowed} or None
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        deadline = time.monotonic() + timeout
        while True:
            if self._allowed_updates is not None:
                self._updates = [update for update in self._updates if _update_kind(update) in self._allowed_updates]
            remaining = deadline - time.monotonic()
            if self._updates or self._closing or remaining <= 0:
                return self._updates[:limit]
            # Clearing is safe: nothing is queued right now, and queuing sets the event again.
            self._new_updates.clear()
            with contextlib.suppress(TimeoutError):  # a long poll that ends empty
                await asyncio.wait_for(self._new_updates.wait(), remaining)

    async def _set_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = str(params.get("url") or "")
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _send_message(self, params: JSONDict) -> JSONDict:
        user = self._chat(params)
        text = _text(params, "text")
        markup = _markup(params.get("reply_markup"))
        message = SentMessage(message_id=next(user._message_ids), chat_id=user.user_id, text=text)
        self._apply_new_markup(user, message, markup)
        user._add_bot_message(message)
        return self._message_dict(message)

    async def _send_document(self, params: JSONDict) -> JSONDict:
        user = self._chat(params)
        document = params.get("document")
        if isinstance(document, UploadedFile):
            stored = self._store_file(document.data, document.file_name, document.mime_type)
        elif isinstance(document, str) and document in self._files:
            stored = self._files[document]
        elif isinstance(document, str) and document:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = _caption(params)
        markup = _markup(params.get("reply_markup"))
        message = SentMessage(
            message_id=next(user._message_ids),
            chat_id=user.user_id,
            caption=caption,
            document=(stored.file_name, stored.data),
            file_id=stored.file_id,
        )
        self._apply_new_markup(user, message, markup)
        user._add_bot_message(message)
        return self._message_dict(message)

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        user = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, UploadedFile):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if not photo.data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")  # Telegram takes pictures, not any file
        stored = self._store_file(photo.data, photo.file_name, photo.mime_type)
        message = SentMessage(
            message_id=next(user._message_ids),
            chat_id=user.user_id,
            caption=_caption(params),
            photo=stored.data,
            file_id=stored.file_id,
        )
        self._apply_new_markup(user, message, _markup(params.get("reply_markup")))
        user._add_bot_message(message)
        return self._message_dict(message)

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        user, message = self._message_to_edit(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = _text(params, "text")
        inline = _inline_only(params.get("reply_markup"))
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        if text == message.text and inline == message.inline_markup:
            raise ApiError(400, _NOT_MODIFIED)
        message.text = text
        return self._finish_edit(user, message, inline)

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict:
        user, message = self._message_to_edit(params)
        if message.document is None and message.photo is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = _caption(params)
        inline = _inline_only(params.get("reply_markup"))
        if caption == message.caption and inline == message.inline_markup:
            raise ApiError(400, _NOT_MODIFIED)
        message.caption = caption
        return self._finish_edit(user, message, inline)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        user, message = self._message_to_edit(params)
        inline = _inline_only(params.get("reply_markup"))
        if inline == message.inline_markup:
            raise ApiError(400, _NOT_MODIFIED)
        return self._finish_edit(user, message, inline)

    async def _delete_message(self, params: JSONDict) -> bool:
        user = self._chat(params)
        message_id = _int(params, "message_id")
        sent = self._bot_message(user, message_id)
        if sent is not None and not sent.deleted:
            sent.deleted = True
            user._notify()
            return True
        key = (user.user_id, message_id)
        if message_id in user._user_messages and key not in self.deleted_user_messages:
            self.deleted_user_messages.add(key)
            user._notify()
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        user = self._callback_queries.pop(str(params.get("callback_query_id", "")), None)
        if user is None:
            raise ApiError(400, _QUERY_TOO_OLD)
        user.answers.append(str(params.get("text") or ""))
        user._notify()
        return True

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not (isinstance(name, str) and 1 <= len(name) <= 32 and all(c in _COMMAND_CHARS for c in name)):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description", "")
            if not (isinstance(description, str) and 1 <= len(description) <= 256):
                raise ApiError(400, "Bad Request: command description is empty or too long")
        self.commands = [dict(command) for command in commands]
        self._my_commands[_commands_key(params)] = self.commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[dict[str, Any]]:
        return self._my_commands.get(_commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._my_commands.pop(_commands_key(params), None)
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        user = self._chat(params)
        user.chat_actions.append(str(params.get("action", "")))
        user._notify()
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    # -- state -------------------------------------------------------------------------------------------------

    def _enqueue(self, content: JSONDict) -> JSONDict:
        update = {"update_id": next(self._update_ids), **content}
        self._updates.append(update)
        self._new_updates.set()
        return update

    def _store_file(self, data: bytes, file_name: str, mime_type: str) -> _StoredFile:
        number = next(self._file_numbers)
        suffix = PurePosixPath(file_name).suffix
        stored = _StoredFile(
            file_id=f"BQAC{number:04d}{secrets.token_hex(8)}",
            file_unique_id=f"AgAD{number:04d}",
            file_name=file_name or "document",
            mime_type=mime_type or "application/octet-stream",
            data=data,
            file_path=f"documents/file_{number}{suffix}",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _new_callback_query(self, user: FakeUser) -> str:
        query_id = str(secrets.randbits(63))
        self._callback_queries[query_id] = user
        return query_id

    def _bot_user(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    def _message_dict(self, message: SentMessage) -> JSONDict:
        """The message as Telegram returns it (a reply keyboard is not echoed back, an inline one is)."""
        result: JSONDict = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self._users[message.chat_id]._chat_dict(),
            "from": self._bot_user(),
        }
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if message.text is not None:
            result["text"] = message.text
        if message.file_id is not None and message.photo is not None:
            stored = self._files[message.file_id]
            result["photo"] = [
                {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "width": 1200, "height": 800,
                 "file_size": len(stored.data)}
            ]  # fmt: skip
        elif message.file_id is not None:
            result["document"] = self._files[message.file_id].as_document()
        if message.caption is not None:
            result["caption"] = message.caption
        if message.inline_markup is not None:
            result["reply_markup"] = message.inline_markup
        return result

    def _chat(self, params: JSONDict) -> FakeUser:
        chat_id = params.get("chat_id")
        user = self._users.get(chat_id) if isinstance(chat_id, int) and not isinstance(chat_id, bool) else None
        if user is None:
            raise ApiError(400, "Bad Request: chat not found")
        return user

    @staticmethod
    def _bot_message(user: FakeUser, message_id: int) -> SentMessage | None:
        return next((message for message in user.messages if message.message_id == message_id), None)

    def _message_to_edit(self, params: JSONDict) -> tuple[FakeUser, SentMessage]:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        user = self._chat(params)
        message_id = _int(params, "message_id")
        message = self._bot_message(user, message_id)
        if message is None or message.deleted:
            if message_id in user._user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return user, message

    @staticmethod
    def _apply_new_markup(user: FakeUser, message: SentMessage, markup: _Markup) -> None:
        message.inline_markup = markup.inline
        message.buttons = _buttons(markup.inline)
        if markup.keyboard is not None:
            message.reply_keyboard = markup.keyboard
            user.keyboard = markup.keyboard
        elif markup.remove_keyboard:
            user.keyboard = None

    def _finish_edit(self, user: FakeUser, message: SentMessage, inline: JSONDict | None) -> JSONDict:
        message.inline_markup = inline
        message.buttons = _buttons(inline)
        message.edits += 1
        message.edit_date = int(time.time())
        user._notify()
        return self._message_dict(message)


# -- request decoding and validation ---------------------------------------------------------------------------

_COMMAND_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


async def _read_params(request: web.Request) -> JSONDict:
    """The call's parameters from the query string and a JSON, urlencoded or multipart body, decoded."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from error
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: the JSON request body must be an object")
            raw.update(body)
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(value.filename or key, value.file.read(), value.content_type)
                else:
                    raw[key] = value
    params = {key: _decode(key, value) for key, value in raw.items()}
    for key, value in params.items():
        # PTB sends most uploads as a part named like the parameter, a few as "attach://<part name>".
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            params[key] = files.pop(value[9:])
    return {**params, **files}


def _decode(key: str, value: Any) -> Any:
    """A parameter's value: JSON-decoded, except for plain string parameters (and values that are not JSON)."""
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.payload(), status=error.status)


def _int(params: JSONDict, name: str, *, default: int | None = None) -> int:
    value = params.get(name)
    if value is None:
        if default is None:
            raise ApiError(400, f"Bad Request: {name} is empty")
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"Bad Request: invalid {name}") from error


def _number(params: JSONDict, name: str) -> float:
    value = params.get(name, 0)
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"Bad Request: invalid {name}") from error


def _text(params: JSONDict, name: str) -> str:
    text = params.get(name)
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return text


def _caption(params: JSONDict) -> str | None:
    caption = params.get("caption")
    if caption is None:
        return None
    if len(str(caption)) > MAX_CAPTION_LENGTH:
        raise ApiError(400, "Bad Request: message caption is too long")
    return str(caption)


def _markup(value: Any) -> _Markup:
    """Decode and check a reply_markup; a force_reply (or nothing) decodes to an empty markup."""
    if value is None:
        return _Markup()
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        return _Markup(inline=_check_inline_keyboard(value))
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        keyboard = [[{"text": button} if isinstance(button, str) else dict(button) for button in row] for row in rows]
        return _Markup(keyboard=keyboard)
    if value.get("remove_keyboard"):
        return _Markup(remove_keyboard=True)
    return _Markup()


def _inline_only(value: Any) -> JSONDict | None:
    """The reply_markup of an edit: only an inline keyboard is allowed there."""
    markup = _markup(value)
    if markup.keyboard is not None or markup.remove_keyboard:
        raise ApiError(400, "Bad Request: inline keyboard expected")
    return markup.inline


def _check_inline_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed")
            data = button.get("callback_data")
            if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES):
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            web_app = button.get("web_app")
            if web_app is not None and not str((web_app or {}).get("url", "")).startswith("https://"):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")  # a Web App must be https
            if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def _buttons(inline: JSONDict | None) -> list[list[tuple[str, str]]]:
    if inline is None:
        return []
    return [[(button["text"], _button_target(button)) for button in row] for row in inline["inline_keyboard"]]


def _button_target(button: JSONDict) -> str:
    """What a button does, as the tests read it: its callback data, else the page it opens."""
    if "callback_data" in button:
        return str(button["callback_data"])
    return str((button.get("web_app") or {}).get("url") or button.get("url") or "")


def _commands_key(params: JSONDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _update_kind(update: JSONDict) -> str:
    return next(key for key in update if key != "update_id")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
