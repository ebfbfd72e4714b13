"""The local Temporal UI decodes through the codec server that ``switchboard up`` starts beside it."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from infra import services
from infra.stack import ServiceSpec
from infra.testing import isolated_settings, running_stack
from switchboard.config import LOCAL_HOST, Settings
from switchboard.models import Speaker, Turn
from switchboard.temporal import payload_codec

SAID = "My name is Jane Citizen, on 0412 345 678."


def test_up_starts_the_codec_server_and_points_the_ui_at_it(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    specs = {spec.name: spec for spec in services.default_services(settings)}
    token = (tmp_path / "codec-ui-token").read_text()
    assert len(token) >= 40 and stat.S_IMODE((tmp_path / "codec-ui-token").stat().st_mode) == 0o600
    argv = list(specs["temporal"].argv)
    endpoint = argv[argv.index("--ui-codec-endpoint") + 1]
    assert endpoint == f"http://{LOCAL_HOST}:{settings.ports.codec}/{token}"
    codec = specs["codec"]
    assert list(codec.argv[1:]) == ["-m", "cli", "codec-server"]
    assert codec.port == settings.ports.codec
    assert codec.env["SWITCHBOARD_CODEC_UI_PATH_TOKEN"] == token
    assert f"http://{LOCAL_HOST}:{settings.ports.temporal_ui}" in codec.env["SWITCHBOARD_CODEC_ORIGINS"]
    for spec in specs.values():  # `switchboard up` prints these: never the token
        assert token not in spec.url + spec.description
        if spec.name != "codec":
            assert spec.env.get("SWITCHBOARD_CODEC_UI_PATH_TOKEN", "") == ""
    again = {spec.name: spec for spec in services.default_services(settings)}
    assert again["codec"].env["SWITCHBOARD_CODEC_UI_PATH_TOKEN"] == token  # one token per stack home
    assert "--ui-codec-endpoint" not in services.call_stack(settings)[0].argv  # tests' stacks: none


def _ui_stack(settings: Settings) -> list[ServiceSpec]:
    endpoint = services.ui_codec_endpoint(settings)
    return [
        services.temporal(settings, in_memory=True, ui_codec_endpoint=endpoint),
        services.moto(settings),
        services.codec(settings),
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def ui_stack(tmp_path: Path) -> AsyncIterator[Settings]:
    settings = isolated_settings(tmp_path)
    async with running_stack(settings, _ui_stack):
        yield settings


async def test_the_local_ui_decodes_a_payload_through_the_codec_server(ui_stack: Settings) -> None:
    ui = f"http://{LOCAL_HOST}:{ui_stack.ports.temporal_ui}"
    async with httpx.AsyncClient(timeout=10) as http:
        # What the UI's page reads its codec endpoint from (passAccessToken off: no Authorization).
        codec_settings = (await http.get(f"{ui}/api/v1/settings")).json()["Codec"]
        endpoint = codec_settings["Endpoint"]
        assert endpoint == services.ui_codec_endpoint(ui_stack) and not codec_settings["PassAccessToken"]
        plain = pydantic_data_converter.payload_converter.to_payloads(
            [Turn(speaker=Speaker.CALLER, text=SAID, start_ms=0)]
        )
        sealed = await payload_codec(ui_stack).encode(plain)  # under a data key from moto's KMS
        assert b"Citizen" not in sealed[0].data
        body = json_format.MessageToJson(Payloads(payloads=sealed))
        # As the UI's data-encoder service sends it.
        headers = {"Content-Type": "application/json", "X-Namespace": "default", "Origin": ui}
        decoded = await http.post(
            f"{endpoint}/decode?preserveStorageRefs=true", content=body, headers=headers
        )
        assert decoded.status_code == 200
        assert decoded.headers["access-control-allow-origin"] == ui
        assert list(json_format.Parse(decoded.text, Payloads()).payloads) == plain
        bare = f"http://{LOCAL_HOST}:{ui_stack.ports.codec}/decode"
        assert (await http.post(bare, content=body, headers=headers)).status_code == 401
