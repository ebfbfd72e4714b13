"""The codec server in-process (aiohttp's test server on 127.0.0.1): 401, 400, CORS and a round trip."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from switchboard.codec import ENCODING, EnvelopeCodec
from switchboard.codec_server import build_app
from switchboard.models import Speaker, Turn
from tests.support.keys import TEST_KEYS

SECRET = "s3cret-for-tests"
UI = "http://127.0.0.1:8233"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = build_app(EnvelopeCodec(TEST_KEYS), SECRET, [UI])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def body(*texts: str) -> str:
    turns = [Turn(speaker=Speaker.CALLER, text=t, start_ms=0) for t in texts]
    payloads = pydantic_data_converter.payload_converter.to_payloads(turns)
    return json_format.MessageToJson(Payloads(payloads=payloads))


async def test_encode_then_decode_round_trips(http: TestClient[web.Request, web.Application]) -> None:
    sent = body("Jane Citizen on +61412345678")
    encoded = await http.post("/encode", data=sent, headers=AUTH)
    assert encoded.status == 200
    sealed = await encoded.json()
    [payload] = sealed["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING
    assert b"Citizen" not in base64.b64decode(payload["data"])
    decoded = await http.post("/decode", data=await encoded.text(), headers=AUTH)
    assert decoded.status == 200
    assert json_format.Parse(await decoded.text(), Payloads()) == json_format.Parse(sent, Payloads())


async def test_plain_payloads_decode_as_they_are(http: TestClient[web.Request, web.Application]) -> None:
    sent = body("an old history's turn")
    decoded = await http.post("/decode", data=sent, headers=AUTH)
    assert json_format.Parse(await decoded.text(), Payloads()) == json_format.Parse(sent, Payloads())


async def test_no_or_wrong_authorization_is_401(http: TestClient[web.Request, web.Application]) -> None:
    sealed = await (await http.post("/encode", data=body("Jane Citizen"), headers=AUTH)).text()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": SECRET}):
        answer = await http.post("/decode", data=sealed, headers=headers)
        assert answer.status == 401
        assert b"Citizen" not in await answer.read()  # the ciphertext it was sent is not decrypted


async def test_a_malformed_body_is_400(http: TestClient[web.Request, web.Application]) -> None:
    for data in ("not json", '{"payloads": 3}', '{"payloads": [{"data": 5}]}', '{"other": []}'):
        answer = await http.post("/decode", data=data, headers=AUTH)
        assert answer.status == 400, data
    forged = '{"payloads": [{"metadata": {"encoding": "%s"}, "data": "AAAA"}]}'
    answer = await http.post("/decode", data=forged % base64.b64encode(ENCODING).decode(), headers=AUTH)
    assert answer.status == 400 and "names no data key" in await answer.text()


async def test_the_ui_origin_may_call_it_and_others_may_not(
    http: TestClient[web.Request, web.Application],
) -> None:
    preflight = await http.options(
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == UI
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    answer = await http.post("/decode", data=body("x"), headers={**AUTH, "Origin": UI})
    assert answer.headers["Access-Control-Allow-Origin"] == UI
    other = await http.post("/decode", data=body("x"), headers={**AUTH, "Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


# The local stack's mode: the dev server's UI sends no Authorization header, so the token is a path prefix.
TOKEN = "path-token-for-tests"


@pytest_asyncio.fixture
async def local_ui() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = build_app(EnvelopeCodec(TEST_KEYS), SECRET, [UI], path_token=TOKEN)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_the_path_token_decodes_what_the_ui_sends(
    local_ui: TestClient[web.Request, web.Application],
) -> None:
    sent = body("Jane Citizen on +61412345678")
    sealed = await (await local_ui.post("/encode", data=sent, headers=AUTH)).text()
    # As the UI sends it: <endpoint>/decode?preserveStorageRefs=true, Content-Type and X-Namespace only.
    ui_headers = {"Content-Type": "application/json", "X-Namespace": "default", "Origin": UI}
    decoded = await local_ui.post(
        f"/{TOKEN}/decode?preserveStorageRefs=true", data=sealed, headers=ui_headers
    )
    assert decoded.status == 200
    assert decoded.headers["Access-Control-Allow-Origin"] == UI
    assert json_format.Parse(await decoded.text(), Payloads()) == json_format.Parse(sent, Payloads())
    preflight = await local_ui.options(
        f"/{TOKEN}/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status == 204 and "X-Namespace" in preflight.headers["Access-Control-Allow-Headers"]
    assert (await local_ui.post("/decode", data=sealed, headers=AUTH)).status == 200  # the header still works


async def test_a_wrong_path_token_or_a_foreign_host_is_401(
    local_ui: TestClient[web.Request, web.Application],
) -> None:
    sealed = await (await local_ui.post("/encode", data=body("Jane Citizen"), headers=AUTH)).text()
    for path in ("/nope/decode", f"/{TOKEN}x/decode", f"/{TOKEN[:-1]}/decode", "/decode"):
        answer = await local_ui.post(path, data=sealed)
        assert answer.status == 401, path
        assert b"Citizen" not in await answer.read()
    rebound = await local_ui.post(f"/{TOKEN}/decode", data=sealed, headers={"Host": "evil.example:8234"})
    assert rebound.status == 401  # a DNS-rebound page reaches 127.0.0.1 under its own name
    named = await local_ui.post(f"/{TOKEN}/decode", data=sealed, headers={"Host": "localhost:8234"})
    assert named.status == 200


async def test_without_a_path_token_there_is_no_path_route(
    http: TestClient[web.Request, web.Application],
) -> None:
    sealed = await (await http.post("/encode", data=body("Jane Citizen"), headers=AUTH)).text()
    assert (await http.post(f"/{TOKEN}/decode", data=sealed)).status == 401
    assert (await http.post(f"/{TOKEN}/decode", data=sealed, headers=AUTH)).status == 404
    assert (await http.get("/healthz")).status == 204  # the launcher's health check, no secret needed
