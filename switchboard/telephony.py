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
