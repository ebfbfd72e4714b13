"""The codec server: Temporal's remote codec protocol over HTTP, so a person with the secret can read
encrypted payloads in the Temporal UI (or ``temporal … --codec-endpoint``) without the UI or the
server ever holding a key.

``POST /decode`` and ``POST /encode`` take and return ``{"payloads": [...]}`` in the protobuf JSON
form (metadata values and data base64), as the UI sends them. Every call needs
``Authorization: Bearer <SWITCHBOARD_CODEC_SECRET>`` (401 without it, or with another one); a body
that is not that shape is a 400. Browsers may call it from the configured origins only (CORS;
preflight requests need no secret). It listens on 127.0.0.1 unless told otherwise. ``GET /healthz``
answers 204 to anyone and says nothing else.

The local stack's mode: the Temporal UI sends ``Authorization`` only with a signed-in user's access
token (``passAccessToken``, over https), which the dev server's UI never has; it posts to
``<endpoint>/decode`` with ``Content-Type`` and ``X-Namespace`` alone. So when ``path_token`` is set
(``SWITCHBOARD_CODEC_UI_PATH_TOKEN``, which only ``switchboard up`` sets) the server also takes
``/<path_token>/decode`` and ``/<path_token>/encode``, and the UI's endpoint is
``http://127.0.0.1:8234/<path_token>``. Such a request must name a loopback ``Host`` (no DNS
rebinding onto it). The token keeps the codec from being an open decryptor on the machine; it is no
stronger than the local UI, whose settings page hands it to whoever can load the UI. Without a
path token (the default, and production) those routes do not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from switchboard.codec import PayloadDecryptError
from switchboard.config import Settings
from switchboard.temporal import payload_codec

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ALLOW_HEADERS = "Authorization, Content-Type, X-Namespace"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def build_app(
    codec: PayloadCodec, secret: str, origins: Sequence[str], *, path_token: str = ""
) -> web.Application:
    """The aiohttp app: ``codec`` behind a bearer ``secret``, callable from ``origins`` in a browser;
    with a ``path_token``, also at ``/<path_token>/decode|encode`` for a loopback Host."""
    if not secret:
        raise ValueError("the codec server needs a secret")
    allowed = {o.strip().rstrip("/") for o in origins if o.strip()}
    expected = f"Bearer {secret}".encode()

    def authorized(request: web.Request) -> bool:
        if hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return True
        given = request.match_info.get("token")
        if not path_token or given is None:
            return False
        return hmac.compare_digest(given.encode(), path_token.encode()) and request.url.host in _LOOPBACK

    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = _ALLOW_HEADERS
            response.headers["Vary"] = "Origin"
        return response

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":  # a browser's preflight: no credentials are sent with it
            return cors(request, await handler(request))
        if request.path == "/healthz":
            return await handler(request)
        if not authorized(request):
            return cors(request, web.json_response({"error": "unauthorized"}, status=401))
        return cors(request, await handler(request))

    def endpoint(transform: Callable[[Payloads], Awaitable[None]]) -> Handler:
        """``transform`` is the codec's ``decode_wrapper`` or ``encode_wrapper`` (in place)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                payloads = json_format.Parse(await request.text(), Payloads())
            except (json_format.ParseError, UnicodeDecodeError, ValueError) as err:
                return web.Response(status=400, text=f"malformed payloads: {type(err).__name__}")
            try:
                await transform(payloads)
            except PayloadDecryptError as err:  # names the data key by fingerprint only
                return web.Response(status=400, text=str(err))
            return web.Response(
                text=json_format.MessageToJson(payloads, always_print_fields_with_no_presence=True),
                content_type="application/json",
            )

        return handle

    async def no_content(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    app = web.Application(middlewares=[guard], client_max_size=8 * 1024 * 1024)
    app.router.add_get("/healthz", no_content)
    for prefix in ("", "/{token}") if path_token else ("",):
        app.router.add_post(f"{prefix}/decode", endpoint(codec.decode_wrapper))
        app.router.add_post(f"{prefix}/encode", endpoint(codec.encode_wrapper))
        for path in (f"{prefix}/decode", f"{prefix}/encode"):
            app.router.add_route("OPTIONS", path, no_content)
    return app


def app_for(settings: Settings) -> web.Application:
    """The codec server of ``settings``: the payload codec every client uses, its secret and origins."""
    return build_app(
        payload_codec(settings),
        settings.codec_secret.get_secret_value(),
        settings.codec_origins.split(","),
        path_token=settings.codec_ui_path_token.get_secret_value(),
    )


def serve(settings: Settings, host: str = "127.0.0.1") -> None:
    """Run the codec server on ``settings.ports.codec`` until interrupted."""
    web.run_app(app_for(settings), host=host, port=settings.ports.codec, print=None)
