"""Every profile's goodbye, spoken by the engine's voice, leaves room for the hang-up in the 1.5 s budget.

The seed's budget is the caller's: hung up within 1.5 s of saying goodbye. From the end intent that
takes the goodbye's first audio, its playing time, and the last mark's round trip plus the REST
hang-up (a few ms, ``goodbye_heard_to_hangup_ms``). So the line itself gets at most 1.1 s, timed
here as the engine speaks it: every audio delta of a ``Say exactly`` response, summed.
"""

from __future__ import annotations

import base64

import pytest

from activities.tools.profiles import load_profile
from infra.realtime_engine.policy import GOODBYE
from switchboard.models import AgentProfile
from switchboard.profiles import profile_names
from tests.infra.realtime_helpers import JOB_TOOL, open_client, telephone_session
from voice.audio import BYTES_PER_MS

LIMIT_MS = 1100


async def _spoken_ms(engine_url: str, line: str) -> float:
    client = await open_client(engine_url, "latency_ms=0")
    try:
        await client.send({"type": "session.update", "session": telephone_session([JOB_TOOL])})
        await client.next("session.updated")
        await client.send({"type": "response.create", "response": {"instructions": f'Say exactly: "{line}"'}})
        done = await client.next("response.done")
        assert done["response"]["output"][0]["content"][0]["transcript"] == line
        audio = sum(len(base64.b64decode(e["delta"])) for e in client.of("response.output_audio.delta"))
    finally:
        await client.close()
    return audio / BYTES_PER_MS


@pytest.mark.parametrize("name", profile_names())
async def test_profile_goodbye_fits_the_hangup_budget(engine_url: str, name: str) -> None:
    profile = load_profile(name)
    ms = await _spoken_ms(engine_url, profile.goodbye)
    assert 200 < ms <= LIMIT_MS, f"{name}: {profile.goodbye!r} takes {ms:.0f} ms to say"


async def test_default_goodbyes_fit_too(engine_url: str) -> None:
    for line in {AgentProfile.model_fields["goodbye"].default, GOODBYE}:
        assert await _spoken_ms(engine_url, line) <= LIMIT_MS, line
