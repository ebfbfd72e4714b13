"""Twilio's Messages subset: texts out (with status callbacks), texts in (signed webhooks).

``POST …/Messages.json`` creates a message the way the SDK's ``messages.create`` sends it; its
status callbacks follow (``queued`` → ``sent`` → ``delivered``, or ``failed`` when the number's
callee says so), signed like every webhook here. The callee at the number then reads the text
and answers with the next ``reply`` line of its script, posted as Twilio posts an inbound message:
a signed form to the business number's messaging webhook (``POST /twilio/sms``). The control API
(``/_sim/messages``) sends a text from any number, and lists what was sent and received.

Logs carry message sids and URL paths only: never numbers or bodies.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from infra.phone.callbacks import Delivery, Webhooks
from infra.phone.callee import CalleeBook
from infra.phone.calls import API_VERSION, E164, new_sid, rfc2822, twilio_page
from infra.phone.script import Reply, load_script

log = logging.getLogger("infra.phone.texts")
MAX_BODY = 1600


class TextError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Message:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: str  # outbound-api | inbound
    status: str = "queued"
    status_callback: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    statuses: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created),
            "date_sent": rfc2822(self.created) if self.status in ("sent", "delivered") else None,
            "date_updated": rfc2822(self.created),
            "direction": self.direction,
            "error_code": 30003 if self.status == "failed" else None,
            "error_message": "Unreachable destination handset" if self.status == "failed" else None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 153))),
            "price": None,
            "price_unit": "USD",
            "status": self.status,
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json"
            },
            "to": self.to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json",
        }


class Texts:
    """Every text of the network, and the callees' answers to them."""

    def __init__(
        self,
        account_sid: str,
        webhooks: Webhooks,
        callees: CalleeBook,
        *,
        sms_url: str | None,
        business_number: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.webhooks = webhooks
        self.callees = callees
        self.sms_url = sms_url
        self.business_number = business_number
        self.messages: list[Message] = []
        self._received: dict[str, int] = {}  # texts each number has read (which reply line is next)
        self._tasks: set[asyncio.Task[None]] = set()

    def create(self, to: str, from_: str, body: str, status_callback: str | None) -> Message:

        if not to or not E164.match(to):
            raise TextError(400, 21211, "The 'To' number is not a valid phone number.")
        if not from_ or not E164.match(from_):
            raise TextError(400, 21212, "The 'From' number is not a valid phone number.")
        if not body:
            raise TextError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TextError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        message = Message(
            new_sid("SM"), self.account_sid, to, from_, body, "outbound-api", status_callback=status_callback
        )
        message.statuses.append("queued")
        self.messages.append(message)
        self._spawn(self._deliver(message))
        return message

    def get(self, sid: str) -> Message:
        for message in self.messages:
            if message.sid == sid:
                return message
        raise TextError(404, 20404, f"The requested resource /Messages/{sid}.json was not found")

    def inbound(self, from_: str, body: str, to: str | None = None) -> Message:
        """A text from ``from_`` to the business number, posted to its messaging webhook."""
        to = to or self.business_number or ""
        message = Message(new_sid("SM"), self.account_sid, to, from_, body, "inbound", status="received")
        self.messages.append(message)
        self._spawn(self._post_inbound(message))
        return message

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10.0)

    # -- lifecycle -------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _status(self, message: Message, status: str) -> None:
        message.status = status
        message.statuses.append(status)
        if message.status_callback:
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message.from_,
                "MessageSid": message.sid,
                "MessageStatus": status,
                "SmsSid": message.sid,
                "SmsStatus": status,
                "To": message.to,
            }
            delivery = Delivery("message_status", message.status_callback, "POST", params)
            message.deliveries.append(await self.webhooks.send(delivery, call_sid=message.sid))

    async def _deliver(self, message: Message) -> None:
        callee = self.callees.lookup(message.to)
        await asyncio.sleep(0.05)
        await self._status(message, "sent")
        await asyncio.sleep(0.05)
        if callee.texts == "fail":
            await self._status(message, "failed")
            return
        await self._status(message, "delivered")
        reply = self._reply_for(message.to)
        if reply is not None:
            await asyncio.sleep(callee.reply_after_ms / 1000)
            self.inbound(message.to, reply.text, to=message.from_)

    def _reply_for(self, number: str) -> Reply | None:
        """The callee's next ``reply`` line: the first text read gets the first one, and so on."""
        callee = self.callees.lookup(number)
        script = callee.script
        if script is None:
            return None
        steps = load_script(script).steps if isinstance(script, str) else script.steps
        replies = [s for s in steps if isinstance(s, Reply)]
        index = self._received.get(number, 0)
        self._received[number] = index + 1
        return replies[index] if index < len(replies) else None

    async def _post_inbound(self, message: Message) -> None:
        if not self.sms_url:
            log.warning("inbound text %s: no messaging webhook configured", message.sid)
            return
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": message.body,
            "From": message.from_,
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": message.to,
        }
        delivery = Delivery("incoming_message", self.sms_url, "POST", params)
        message.deliveries.append(await self.webhooks.send(delivery, call_sid=message.sid))


# -- HTTP ----------------------------------------------------------------------------------------

TEXTS: web.AppKey[Texts] = web.AppKey("texts", Texts)


def _twilio_error(err: TextError) -> web.Response:
    body = {
        "code": err.code,
        "message": err.message,
        "more_info": f"https://www.twilio.com/docs/errors/{err.code}",
        "status": err.status,
    }
    return web.json_response(body, status=err.status)


async def create_message(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        message = request.app[TEXTS].create(
            str(form.get("To", "")),
            str(form.get("From", "")),
            str(form.get("Body", "")),
            form.get("StatusCallback"),  # type: ignore[arg-type]
        )
    except TextError as err:
        return _twilio_error(err)
    return web.json_response(message.resource(), status=201)


async def fetch_message(request: web.Request) -> web.Response:
    try:
        return web.json_response(request.app[TEXTS].get(request.match_info["sid"]).resource())
    except TextError as err:
        return _twilio_error(err)


async def list_messages(request: web.Request) -> web.Response:
    to = request.query.get("To")
    found = [m.resource() for m in reversed(request.app[TEXTS].messages) if to is None or m.to == to]
    return twilio_page(request, "messages", found)


async def sim_send(request: web.Request) -> web.Response:
    """``POST /_sim/messages`` ``{"from": "+61…", "body": "…"}``: someone texts the business."""
    data = await request.json()
    message = request.app[TEXTS].inbound(str(data["from"]), str(data["body"])[:MAX_BODY], data.get("to"))
    return web.json_response({"sid": message.sid}, status=201)


async def sim_list(request: web.Request) -> web.Response:
    messages = [
        m.resource() | {"statuses": m.statuses, "webhooks": [d.summary() for d in m.deliveries]}
        for m in request.app[TEXTS].messages
    ]
    return web.json_response({"messages": messages})


def add_routes(app: web.Application) -> None:
    base = f"/{API_VERSION}/Accounts/{{account}}"
    app.router.add_post(f"{base}/Messages.json", create_message)
    app.router.add_get(f"{base}/Messages.json", list_messages)
    app.router.add_get(f"{base}/Messages/{{sid}}.json", fetch_message)
    app.router.add_post("/_sim/messages", sim_send)
    app.router.add_get("/_sim/messages", sim_list)
