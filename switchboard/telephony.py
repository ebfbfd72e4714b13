"""The twilio SDK client, pointed at Twilio or at the local phone network by configuration.

The SDK has no base-URL setting, but every request passes through its ``http_client`` with an
absolute ``https://api.twilio.com/...`` URL; ``RebasingHttpClient`` swaps scheme and host for
the configured ``twilio_api_url``. With ``TWILIO_API_URL`` unset nothing is rebased and the
client talks to Twilio. The SDK is synchronous (requests): call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from switchboard.config import Settings, get_settings

# The SDK logs request URLs and response bodies at INFO (numbers included): keep that out of logs.
_sdk_log = logging.getLogger("switchboard.twilio_sdk")
_sdk_log.setLevel(logging.WARNING)


def rebase(url: str, base_url: str) -> str:
    """``https://api.twilio.com/2010-04-01/...`` → ``<base_url>/2010-04-01/...`` (Twilio hosts only)."""
    parts = urlsplit(url)
    if not (parts.hostname or "").endswith("twilio.com"):
        return url
    base = urlsplit(base_url)
    return urlunsplit(
        (base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, parts.fragment)
    )


class RebasingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending Twilio-bound requests to ``base_url`` instead."""

    def __init__(self, base_url: str, *, timeout: float | None = 10.0) -> None:
        super().__init__(timeout=timeout, logger=_sdk_log)
        self.base_url = base_url

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method, rebase(url, self.base_url), params, data, headers, auth, timeout, allow_redirects
        )


def twilio_client(settings: Settings | None = None) -> Client:
    """The ``twilio.rest.Client`` Switchboard dials with: the local network, or Twilio when unset."""
    s = settings or get_settings()
    sid, token = s.twilio_account_sid, s.twilio_auth_token.get_secret_value()
    if s.twilio_api_url is None:
        return Client(sid, token, http_client=TwilioHttpClient(timeout=10.0, logger=_sdk_log))
    return Client(sid, token, http_client=RebasingHttpClient(s.twilio_api_url))


def stream_twiml(call_id: str, settings: Settings | None = None) -> str:
    """TwiML that connects the call to the voice workers' media stream, bound to ``call_id``.

    The signed token travels as a ``<Parameter>`` (Twilio forbids a query string on the URL);
    the media server serves no stream whose token does not verify. After ``</Connect>`` comes a
    ``<Redirect>`` to ``/twilio/resume``: when the stream ends (its voice worker lost, or the
    conversation over), Twilio asks the call's workflow what comes next instead of hanging up.
    """
    from urllib.parse import urlencode

    from twilio.twiml.voice_response import Connect, VoiceResponse

    from switchboard.tokens import sign_stream_token

    s = settings or get_settings()
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=s.public_voice_url, name=call_id)
    stream.parameter(name="call_id", value=call_id)
    stream.parameter(name="token", value=sign_stream_token(call_id, s.stream_secret.get_secret_value()))
    response.append(connect)
    resume = f"{s.public_api_url.rstrip('/')}/twilio/resume?{urlencode({'wf': call_id})}"
    response.redirect(resume, method="POST")
    return str(response)


def transfer_twiml(
    public_api_url: str, workflow_id: str, to_number: str, *, timeout_s: int = 20, say: str = ""
) -> str:
    """TwiML that hands the caller to a person, warm: ``say`` first, then ``<Dial>`` whose
    ``<Number url>`` whispers the workflow's hand-over note and whose ``action`` reports the result."""
    from urllib.parse import urlencode

    from twilio.twiml.voice_response import Dial, Say, VoiceResponse

    twiml = VoiceResponse()
    if say:
        twiml.append(Say(say))
    base = f"{public_api_url.rstrip('/')}/twilio/transfer"
    query = urlencode({"wf": workflow_id})
    dial = Dial(action=f"{base}/result?{query}", method="POST", timeout=timeout_s)
    dial.number(to_number, url=f"{base}/whisper?{query}", method="POST")
    twiml.append(dial)
    return str(twiml)
