"""Settings from the environment and `.env` (pydantic-settings); secrets stay SecretStr and never print."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from suratbot.signing.stamping import FallbackBox
from suratbot.workflow.sop import Sop, load_sop

if TYPE_CHECKING:
    from suratbot.bot.channels.whatsapp import WhatsAppSettings
    from suratbot.services.office import Office


class Settings(BaseSettings):
    """Every setting of `.env.example`; a channel whose settings are absent is simply off."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # A secret: a PostgreSQL URL may carry a password, so it never shows in a repr or a log.
    database_url: SecretStr = SecretStr("sqlite+aiosqlite:///./data/suratbot.db")
    data_dir: Path = Path("./data")
    timezone: str | None = None  # overrides the SOP file's calendar.timezone when set
    sop_file: Path | None = None
    public_url: str = "http://localhost:8080"
    web_port: int = 8080
    # Proxies whose X-Forwarded-For is believed (the client address the upload limit counts): a reverse proxy
    # in front of the web app; "*" trusts anyone, so only where nothing else can reach the port.
    forwarded_allow_ips: str = "127.0.0.1"
    # A Python with LibreOffice's `uno` (Debian: python3-uno) to run the warm converter (unoserver) under.
    libreoffice_python: str = "/usr/bin/python3"
    web_host: str = "0.0.0.0"

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode: Telegram posts updates to {WEBHOOK_URL}/webhooks/telegram (this app, on WEB_PORT behind your
    # https proxy); without it the bot uses long polling. The secret is checked on every request (generated
    # at each start when empty).
    webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None

    # E-mail for dispatching signed letters (the clerk's "Kirim surel"); without SMTP_HOST that route is off.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "suratbot@localhost"
    smtp_starttls: bool = True

    whatsapp_access_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_template_name: str = "suratbot_pemberitahuan"  # the approved UTILITY template (README: its text)
    whatsapp_template_language: str = "id"

    # Signing: where the signers' keys are. pkcs12: DATA_DIR/keys/signers/<NIP>.p12; pkcs11: a token (keys and
    # certificates labelled with the NIP); remote: a BSrE-style signing service (signers known by their NIK).
    signing_backend: Literal["pkcs12", "pkcs11", "remote"] = "pkcs12"
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None
    bsre_url: str | None = None
    bsre_client_id: str | None = None
    bsre_client_secret: SecretStr | None = None
    tsa_url: str | None = None  # a timestamp authority: PAdES B-T
    signature_level: Literal["B-B", "B-T", "B-LT"] | None = None  # B-LT also embeds revocation info
    fetch_revocation: bool = True
    paraf_on_outgoing: bool = False
    # The notice at the foot of signed pages, lines separated by "|"; {url} is the letter's verification page.
    signature_footer: str | None = None
    # Where the number and date go on the first page of a concept without ${nomor} / ${tanggal}:
    # "x,y" or "x,y,size" in PDF points from the bottom left (default 72,700 and 400,700, size 11).
    number_box: str | None = None
    date_box: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value or None

    def office_options(self) -> dict[str, Any]:
        """The Office fields these settings decide (signing set-up, footer); ValueError names what is missing."""
        from suratbot.services.office import SigningSetup
        from suratbot.signing.pkcs11 import TokenConfig
        from suratbot.signing.remote import RemoteSigningConfig

        token = remote = None
        if self.pkcs11_module and self.pkcs11_token_label:
            token = TokenConfig(self.pkcs11_module, self.pkcs11_token_label)
        if self.bsre_url and self.bsre_client_id and self.bsre_client_secret:
            remote = RemoteSigningConfig(self.bsre_url, self.bsre_client_id, self.bsre_client_secret.get_secret_value())
        level = self.signature_level or ("B-T" if self.tsa_url else "B-B")
        if level != "B-B" and not self.tsa_url:
            raise ValueError(f"SIGNATURE_LEVEL={level} needs TSA_URL (a timestamp authority)")
        options: dict[str, Any] = {
            "signing": SigningSetup(
                backend=self.signing_backend,
                token=token,
                remote=remote,
                tsa_url=self.tsa_url if level != "B-B" else None,
                long_term=level == "B-LT",
                fetch_revocation=self.fetch_revocation,
                paraf_on_outgoing=self.paraf_on_outgoing,
            )
        }
        boxes = {}
        for key, raw in (("nomor", self.number_box), ("tanggal", self.date_box)):
            if raw:
                boxes[key] = _box(raw, key)
        if boxes:
            from suratbot.signing.stamping import DEFAULT_FALLBACK

            options["number_boxes"] = {**DEFAULT_FALLBACK, **boxes}
        if self.smtp_host:
            from suratbot.services.mail import SmtpSetup

            options["smtp"] = SmtpSetup(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.smtp_sender,
                username=self.smtp_username,
                password=self.smtp_password.get_secret_value() if self.smtp_password else None,
                starttls=self.smtp_starttls,
            )
        if self.signature_footer:
            options["footer"] = tuple(line.strip() for line in self.signature_footer.split("|") if line.strip())
        return options

    def whatsapp(self) -> WhatsAppSettings | None:
        """The WhatsApp channel's settings, or None (the channel off) unless all four secrets and ids are set;
        some but not all is a mistake worth saying."""
        values = (
            self.whatsapp_access_token,
            self.whatsapp_phone_number_id,
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
        )
        if all(v is None or v == "" for v in values):
            return None
        if any(v is None or v == "" for v in values):
            raise ValueError(
                "WhatsApp perlu keempatnya: WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET, "
                "WHATSAPP_VERIFY_TOKEN"
            )
        from suratbot.bot.channels.whatsapp import WhatsAppSettings

        assert self.whatsapp_access_token and self.whatsapp_app_secret and self.whatsapp_verify_token
        return WhatsAppSettings(
            access_token=self.whatsapp_access_token.get_secret_value(),
            phone_number_id=str(self.whatsapp_phone_number_id),
            app_secret=self.whatsapp_app_secret.get_secret_value(),
            verify_token=self.whatsapp_verify_token.get_secret_value(),
            graph_url=self.whatsapp_graph_url,
            template_name=self.whatsapp_template_name,
            template_language=self.whatsapp_template_language,
        )

    def open_office(self) -> Office:
        """The office these settings describe (ValueError when the signing settings are incomplete)."""
        from suratbot.services.office import Office

        return Office.open(
            self.load_sop(),
            self.database_url.get_secret_value(),
            self.data_dir,
            public_url=self.public_url,
            **self.office_options(),
        )

    def load_sop(self) -> Sop:
        sop = load_sop(self.sop_file)
        if self.timezone:
            calendar = dataclasses.replace(sop.calendar, timezone=ZoneInfo(self.timezone))
            sop = dataclasses.replace(sop, calendar=calendar)
        return sop


def _box(raw: str, key: str) -> FallbackBox:
    """`x,y` or `x,y,size` (PDF points) -> a fallback box; ValueError names the setting."""
    name = "NUMBER_BOX" if key == "nomor" else "DATE_BOX"
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or any(n < 0 for n in numbers):
        raise ValueError(f"{name} must be 'x,y' or 'x,y,size' in points, got {raw!r}")
    return FallbackBox(*numbers)
