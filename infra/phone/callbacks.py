"""Webhooks signed exactly as Twilio signs them, delivered in order, retried, never fatal.

Twilio computes ``X-Twilio-Signature`` over the exact URL it requests plus the sorted form
parameters (``RequestValidator.compute_signature``); for a GET, the parameters are in the URL
and the signed params are empty. A receiver validating with ``RequestValidator.validate`` against
the same URL must therefore accept every request sent from here.

Delivery failures are logged by call sid and URL path only: numbers and speech never reach logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from infra.phone import twiml

log = logging.getLogger("infra.phone.callbacks")

USER_AGENT = "TwilioProxy/1.1"


def signed_request(
    validator: RequestValidator, method: str, url: str, params: dict[str, str]
) -> tuple[str, dict[str, str] | None, dict[str, str]]:
    """(final url, form body or None, headers) for a webhook, signed as Twilio does."""
    if method.upper() == "GET":
        sep = "&" if urlsplit(url).query else "?"
        full = f"{url}{sep}{urlencode(params)}" if params else url
        return (
            full,
            None,
            {"X-Twilio-Signature": validator.compute_signature(full, {}), "User-Agent": USER_AGENT},
        )
    headers = {
        "X-Twilio-Signature": validator.compute_signature(url, params),
        "User-Agent": USER_AGENT,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return url, params, headers


@dataclass
class Delivery:
    """One webhook and how it went (kept on the call for the control API)."""

    kind: str
    url: str
    method: str
    params: dict[str, str]
    status_code: int | None = None
    attempts: int = 0
    error: str | None = None
    body: str = field(default="", repr=False)

    def summary(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "url": self.url,
            "method": self.method,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "error": self.error,
            "params": self.params,
        }


class Webhooks:
    """Sends signed webhooks with retries (5xx and connection errors; a 4xx is final)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth_token: str,
        *,
        attempts: int = 3,
        backoff_s: float = 0.25,
    ) -> None:
        self._http = http
        self._validator = RequestValidator(auth_token)
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def send(self, delivery: Delivery, *, call_sid: str) -> Delivery:
        """Deliver once or up to ``attempts`` times; the result is recorded on ``delivery``."""
        url, body, headers = signed_request(self._validator, delivery.method, delivery.url, delivery.params)
        path = urlsplit(delivery.url).path
        for attempt in range(1, self._attempts + 1):
            delivery.attempts = attempt
            try:
                resp = await self._http.request(delivery.method.upper(), url, data=body, headers=headers)
            except httpx.HTTPError as exc:
                delivery.error = type(exc).__name__
                log.warning(
                    "webhook %s %s for %s failed (attempt %d): %s",
                    delivery.kind,
                    path,
                    call_sid,
                    attempt,
                    delivery.error,
                )
            else:
                delivery.status_code = resp.status_code
                delivery.body = resp.text
                if resp.status_code < 500:
                    delivery.error = None if resp.status_code < 400 else f"HTTP {resp.status_code}"
                    if delivery.error:
                        log.warning(
                            "webhook %s %s for %s answered %d",
                            delivery.kind,
                            path,
                            call_sid,
                            resp.status_code,
                        )
                    return delivery
                delivery.error = f"HTTP {resp.status_code}"
                log.warning(
                    "webhook %s %s for %s answered %d (attempt %d)",
                    delivery.kind,
                    path,
                    call_sid,
                    resp.status_code,
                    attempt,
                )
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff_s * attempt)
        return delivery

    async def document(self, delivery: Delivery, *, call_sid: str) -> list[twiml.Verb]:
        """A webhook that answers TwiML (a voice URL, ``<Dial action>``, ``<Number url>``): its verbs.
        Raises ``TwimlError`` when it failed or answered what Twilio would not run."""
        await self.send(delivery, call_sid=call_sid)
        if delivery.status_code is None or delivery.status_code >= 400:
            raise twiml.TwimlError(f"webhook answered {delivery.status_code or delivery.error}")
        return twiml.parse(delivery.body, base_url=delivery.url)


class Outbox:
    """One call's asynchronous callbacks, in order, without holding up the call's progress.

    Twilio posts status callbacks asynchronously; a slow receiver must not delay ringing or
    answering, but the receiver must still see ``initiated`` before ``completed``.
    """

    def __init__(self, webhooks: Webhooks, call_sid: str) -> None:
        self._webhooks = webhooks
        self._sid = call_sid
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self.delivered: list[Delivery] = []
        self._task = asyncio.create_task(self._run(), name=f"outbox-{call_sid}")

    def post(self, delivery: Delivery) -> None:
        self._queue.put_nowait(delivery)

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                await self._webhooks.send(item, call_sid=self._sid)
            except Exception:  # a bug in one delivery must not stop the rest, nor the network
                log.exception("webhook %s for %s crashed", item.kind, self._sid)
            self.delivered.append(item)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued, then stop."""
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
