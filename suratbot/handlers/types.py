"""What a chat handler takes and gives, the same for every channel: an inbound event in, replies out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_CALLBACK = 64  # bytes of button data Telegram carries back (WhatsApp allows more; the lower limit rules)


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class IncomingFile:
    """A file a person sent; its bytes are fetched only when a handler needs them."""

    name: str | None
    media_type: str | None
    size: int | None
    fetch: Callable[[], Awaitable[bytes]] = field(repr=False)


@dataclass(frozen=True)
class Contact:
    """A shared phone number, and whether it is the sender's own (Telegram: contact.user_id == from.id)."""

    phone: str
    own: bool


@dataclass
class Inbound:
    """One thing a person did in a chat: a command, text, a file, a shared contact or a button press."""

    channel: str  # "telegram", "whatsapp"
    address: str  # the person's id on that channel (Telegram user id, WhatsApp wa_id)
    name: str = ""
    text: str | None = None
    command: str | None = None  # without the slash, lower case
    args: str = ""
    file: IncomingFile | None = None
    contact: Contact | None = None
    callback: str | None = None  # a button's data
    # "The bot is working" (a chat action), and: delete this message now, if the channel can.
    working: Callable[[], Awaitable[None]] = field(default=_nothing, repr=False)
    discard: Callable[[], Awaitable[None]] = field(default=_nothing, repr=False)
    can_delete: bool = True  # the channel can delete the person's message (Telegram can, WhatsApp cannot)
    # Send a message to another chat on this channel (a group, a channel, @username or id); Refusal if it cannot.
    send_to: Callable[[str, Reply], Awaitable[None]] | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # the text may be a passphrase: never show it in a log or a traceback
        what = self.command or (
            "callback" if self.callback else "file" if self.file else "contact" if self.contact else "text"
        )
        return f"Inbound(channel={self.channel!r}, address={self.address!r}, {what})"


@dataclass(frozen=True)
class Button:
    """A button: pressing it sends `data` back to the bot, or (with `url`) opens that page (a Web App inside
    Telegram, a link button on WhatsApp)."""

    label: str
    data: str = ""
    url: str | None = None
    web_app: bool = False  # Telegram: open the page inside Telegram (a Web App; https only) instead of a browser

    def __post_init__(self) -> None:
        if (self.url is None) == (not self.data):
            raise ValueError("a button has either data or a url")
        if len(self.data.encode()) > MAX_CALLBACK:
            raise ValueError(f"button data longer than {MAX_CALLBACK} bytes: {self.data!r}")


@dataclass(frozen=True)
class Document:
    """A stored file to send (by its SHA-256 in the file store) under a display name."""

    sha256: str
    filename: str


@dataclass
class Reply:
    """One message to the person: text, maybe a document or a picture, maybe buttons (rows of them)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    document: Document | None = None
    photo: Document | None = None  # a picture (PNG/JPEG) shown in the chat, the text as its caption
    ask_contact: bool = False  # offer the "share my phone number" keyboard
    remove_keyboard: bool = False


@dataclass
class Response:
    """What the channel does after a handler: send the replies, answer the button press, tidy up."""

    replies: list[Reply] = field(default_factory=list)
    answer: str | None = None  # the short answer to a button press (a toast on Telegram)
    delete_inbound: bool = False  # delete the person's message (it held a passphrase)
    clear_buttons: bool = False  # remove the buttons of the message whose button was pressed

    @classmethod
    def say(cls, text: str, **reply: object) -> Response:
        return cls([Reply(text, **reply)])  # type: ignore[arg-type]
