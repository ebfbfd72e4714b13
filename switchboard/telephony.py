"""The twilio SDK client, pointed at Twilio or at the local phone network by configuration."""

from __future__ import annotations

from twilio.rest import Client

from switchboard.config import Settings, get_settings


def twilio_client(settings: Settings | None = None) -> Client:
    """A ``twilio.rest.Client``; with ``TWILIO_API_URL`` set, its REST calls go there instead."""
    s = settings or get_settings()
    client = Client(s.twilio_account_sid, s.twilio_auth_token.get_secret_value())
    if s.twilio_api_url:
        client.api.base_url = s.twilio_api_url.rstrip("/")
    return client


def stream_twiml(call_id: str, settings: Settings | None = None) -> str:
    """TwiML that connects the call to the voice worker's media stream, bound to ``call_id``.

    The signed token travels as a ``<Parameter>`` (Twilio forbids a query string on the URL);
    the media server serves no stream whose token does not verify.
    """
    from twilio.twiml.voice_response import Connect, VoiceResponse

    from switchboard.tokens import sign_stream_token

    s = settings or get_settings()
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=s.public_voice_url, name=call_id)
    stream.parameter(name="call_id", value=call_id)
    stream.parameter(name="token", value=sign_stream_token(call_id, s.stream_secret.get_secret_value()))
    response.append(connect)
    return str(response)
