"""Twilio webhooks: the form parameters, checked against ``X-Twilio-Signature`` (403 otherwise).

Twilio signs the exact URL it requested plus the sorted POST parameters. Behind API Gateway (or
a load balancer) the URL the handler sees is not that URL, so it is rebuilt from configuration:
``settings.public_api_url`` + the request path + its query string (e.g. ``?wf=callback-…``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ForbiddenError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "x-twilio-signature"
TEXT_XML = "text/xml"
_WORKFLOW_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class _MultiDict(dict[str, list[str]]):
    """Form parameters with every value, as ``RequestValidator`` signs repeated keys."""

    def getlist(self, key: str) -> list[str]:
        return self[key]


def public_url(event: APIGatewayProxyEventV2, public_api_url: str) -> str:
    query = event.raw_query_string
    return public_api_url.rstrip("/") + event.raw_path + (f"?{query}" if query else "")


def signed_params(event: APIGatewayProxyEventV2, public_api_url: str, auth_token: str) -> dict[str, str]:
    """The webhook's form parameters (first value of each), if its signature verifies; else 403."""
    params = _MultiDict(parse_qs(event.decoded_body or "", keep_blank_values=True))
    signature = event.headers.get(SIGNATURE_HEADER, "")
    validator = RequestValidator(auth_token)
    if not (
        signature and auth_token and validator.validate(public_url(event, public_api_url), params, signature)
    ):
        raise ForbiddenError("invalid X-Twilio-Signature")
    return {key: values[0] for key, values in params.items()}


def workflow_id(event: APIGatewayProxyEventV2, default: str = "") -> str:
    """The workflow a webhook is about: its URL's ``?wf=`` (set when the URL was made), else ``default``;
    400 when it is not a workflow id."""
    found = (event.query_string_parameters or {}).get("wf") or default
    if not _WORKFLOW_ID.match(found):
        raise BadRequestError("wf is not a workflow id")
    return found


def twiml_response(twiml: object) -> Response[str]:
    """A TwiML answer (a ``VoiceResponse`` or its text), as Twilio reads it."""
    return Response(status_code=200, content_type=TEXT_XML, body=str(twiml))
