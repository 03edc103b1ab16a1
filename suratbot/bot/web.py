"""The project's web app (Starlette): health check, the Telegram and WhatsApp webhooks, the signing page, the
page a letter's QR code opens, and the office dashboard; Indonesian error pages, never a stack trace."""

from __future__ import annotations

import hmac
import json
import logging
from json import JSONDecodeError

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from suratbot.bot import dashboard_page, pages, verify_page
from suratbot.bot.app import Bot
from suratbot.bot.signing_page import routes as signing_routes

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 1_000_000  # an update is a few KB; files are fetched separately


def web_app(bot: Bot) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "channels": bot.channels})

    async def telegram_webhook(request: Request) -> Response:
        if bot.telegram is None or bot.webhook is None:
            return PlainTextResponse("Not Found", status_code=404)
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), bot.webhook.secret.encode()):
            return PlainTextResponse("Forbidden", status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return PlainTextResponse("Payload Too Large", status_code=413)
        try:
            data = await request.json()
            update = Update.de_json(data, bot.telegram.bot) if isinstance(data, dict) else None
        except (JSONDecodeError, ValueError, TypeError, KeyError):
            update = None
        if update is None:
            return PlainTextResponse("Bad Request", status_code=400)
        await bot.telegram.application.update_queue.put(update)  # handled after we answer: Telegram wants speed
        return PlainTextResponse("OK")

    async def whatsapp_webhook(request: Request) -> Response:
        channel = bot.whatsapp
        if channel is None:
            return PlainTextResponse("Not Found", status_code=404)
        if request.method == "GET":  # Meta's subscription check
            query = request.query_params
            challenge = channel.verify_subscription(
                query.get("hub.mode"), query.get("hub.verify_token"), query.get("hub.challenge")
            )
            if challenge is None:
                return PlainTextResponse("Forbidden", status_code=403)
            return PlainTextResponse(challenge)
        # The signature covers the body, so the body is read first: never more of it than an update can be.
        body = await pages.read_capped(request, MAX_UPDATE_BYTES)
        if body is None:
            return PlainTextResponse("Payload Too Large", status_code=413)
        if not channel.signature_ok(body, request.headers.get("x-hub-signature-256")):
            return PlainTextResponse("Forbidden", status_code=403)  # not from Meta: not even parsed
        try:
            payload = json.loads(body)
        except (JSONDecodeError, UnicodeDecodeError):
            return PlainTextResponse("Bad Request", status_code=400)
        channel.accept(payload)  # processed after we answer: Meta wants a 200 fast, and retries otherwise
        return PlainTextResponse("OK")

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/webhooks/telegram", telegram_webhook, methods=["POST"]),
            Route("/webhooks/whatsapp", whatsapp_webhook, methods=["GET", "POST"]),
            *signing_routes(bot.office, bot.wake_outbox),
            *verify_page.routes(bot.office),
            *dashboard_page.routes(bot.office),
            Route("/static/halaman.css", pages.stylesheet),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
        ],
        exception_handlers={404: pages.not_found, 405: pages.not_allowed, 500: pages.server_error},
    )
