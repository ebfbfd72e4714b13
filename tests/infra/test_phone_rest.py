"""The real twilio SDK against the phone network's REST subset, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from infra.phone.app import running_network
from infra.phone.callee import Callee
from infra.phone.client import rebase, twilio_client
from infra.phone.network import PhoneNetwork
from infra.testing import isolated_settings
from switchboard.config import Settings

PAUSE = '<Response><Pause length="5"/></Response>'


@pytest_asyncio.fixture
async def phone(tmp_path: Path) -> AsyncIterator[tuple[PhoneNetwork, Settings]]:
    settings = isolated_settings(tmp_path)
    async with running_network(settings) as network:
        yield network, settings


def test_rebase_only_touches_twilio_hosts() -> None:
    base = "http://127.0.0.1:9999"
    assert rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?x=1", base) == (
        "http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Calls.json?x=1"
    )
    assert rebase("https://example.com/a", base) == "https://example.com/a"


def test_twilio_client_targets_real_twilio_when_unset(tmp_path: Path) -> None:
    client = twilio_client(isolated_settings(tmp_path, twilio_api_url=None))
    assert client.api.base_url == "https://api.twilio.com"
    assert not hasattr(client.http_client, "base_url")


async def test_sdk_create_fetch_update(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone
    network.register("+61255550111", Callee(rings=1, ring_ms=50))
    client = twilio_client(settings)

    call = await asyncio.to_thread(
        client.calls.create,
        to="+61255550111",
        from_=settings.twilio_from_number,
        twiml=PAUSE,
        status_callback_event=["initiated", "answered"],
        timeout=20,
    )
    assert call.sid is not None and call.sid.startswith("CA") and len(call.sid) == 34
    assert call.status == "queued"
    assert call.to == "+61255550111" and call._from == settings.twilio_from_number
    assert call.account_sid == settings.twilio_account_sid
    assert call.date_created is not None  # parsed from RFC 2822 by the SDK
    assert call.uri == f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls/{call.sid}.json"

    await asyncio.wait_for(_until_status(client, call.sid, "in-progress"), 10)
    fetched = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert fetched.direction == "outbound-api" and fetched.start_time is not None

    updated = await asyncio.to_thread(client.calls(call.sid).update, status="completed")
    assert updated.sid == call.sid
    result = await network.wait(call.sid, 10)
    assert result["status"] == "completed" and result["ended_by"] == "network"
    final = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert final.status == "completed" and final.end_time is not None and final.duration is not None

    listed = await asyncio.to_thread(client.calls.list, to="+61255550111")
    assert [c.sid for c in listed] == [call.sid]


async def _until_status(client: Client, sid: str, status: str) -> None:
    """Poll the REST API, as a client of Twilio would."""
    for _ in range(400):
        if (await asyncio.to_thread(client.calls(sid).fetch)).status == status:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(status)


async def test_bad_credentials_get_twilio_401(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone
    bad = twilio_client(
        settings.model_copy(update={"twilio_auth_token": settings.twilio_auth_token.__class__("nope")})
    )
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(bad.calls.create, to="+61255550111", from_="+61255550100", twiml=PAUSE)
    assert err.value.status == 401 and err.value.code == 20003
    assert network.calls.all() == []


async def test_invalid_numbers_get_twilio_400(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone
    client = twilio_client(settings)
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(client.calls.create, to="0412 345", from_="+61255550100", twiml=PAUSE)
    assert err.value.status == 400 and err.value.code == 21211
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(client.calls.create, to="+61255550111", from_="abc", twiml=PAUSE)
    assert err.value.code == 21212
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(client.calls.create, to="+61255550111", from_="+61255550100")
    assert err.value.code == 21205
    assert network.calls.all() == []


async def test_unknown_call_and_redirect_of_ended_call(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone
    network.register("+61255550112", Callee(answer="busy"))
    client = twilio_client(settings)
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(client.calls("CA" + "0" * 32).fetch)
    assert err.value.status == 404 and err.value.code == 20404

    call = await asyncio.to_thread(client.calls.create, to="+61255550112", from_="+61255550100", twiml=PAUSE)
    result = await network.wait(call.sid, 10)
    assert result["status"] == "busy"
    with pytest.raises(TwilioRestException) as err:
        await asyncio.to_thread(
            client.calls(call.sid).update, twiml="<Response><Dial>+61255550199</Dial></Response>"
        )
    assert err.value.code == 21220


async def test_cancel_while_ringing(phone: tuple[PhoneNetwork, Settings]) -> None:
    network, settings = phone
    network.register("+61255550113", Callee(rings=50, ring_ms=1000))
    client = twilio_client(settings)
    call = await asyncio.to_thread(client.calls.create, to="+61255550113", from_="+61255550100", twiml=PAUSE)
    await asyncio.wait_for(_until_status(client, call.sid, "ringing"), 10)
    await asyncio.to_thread(client.calls(call.sid).update, status="canceled")
    result = await network.wait(call.sid, 10)
    assert [h["status"] for h in result["status_history"]] == ["queued", "ringing", "canceled"]
