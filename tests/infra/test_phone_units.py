"""The phone network's sans-I/O pieces: TwiML, playback, scripts, noise, AMD, signing, turn taking."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from infra.phone import script as s
from infra.phone import twiml
from infra.phone.callbacks import signed_request
from infra.phone.callee import Callee
from infra.phone.caller import Ears, Mouth
from infra.phone.calls import CallOptions
from infra.phone.noise import NoiseBed
from infra.phone.performer import Performer
from infra.phone.playback import Playback
from infra.phone.progress import amd_verdict
from voice.audio import mulaw_decode, rms_dbfs, silence, write_wav


def test_twiml_connect_stream_with_parameters() -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi</Say><Connect>'
        '<Stream url="wss://voice.example/media-stream" name="agent" statusCallback="https://x/s">'
        '<Parameter name="call_id" value="c1"/><Parameter name="token" value="t.1"/></Stream>'
        '</Connect><Pause length="2"/><Dial><Number>+61255550199</Number></Dial><Hangup/><Gather/></Response>'
    )
    verbs = twiml.parse(doc)
    assert verbs[0] == twiml.Say("Hi")
    assert verbs[1] == twiml.Connect(
        twiml.Stream(
            "wss://voice.example/media-stream", "agent", {"call_id": "c1", "token": "t.1"}, "https://x/s"
        )
    )
    assert verbs[2:] == [
        twiml.Pause(2.0),
        twiml.Dial("+61255550199"),
        twiml.Hangup(),
        twiml.Unsupported("Gather"),
    ]
    assert twiml.parse("<Response><Dial>+61255550198</Dial></Response>") == [twiml.Dial("+61255550198")]


def test_twiml_relative_stream_url_and_errors() -> None:
    (verb,) = twiml.parse(
        '<Response><Connect><Stream url="/media"/></Connect></Response>', base_url="https://h/t"
    )
    assert isinstance(verb, twiml.Connect) and verb.stream.url == "wss://h/media"
    for bad in ("nope", "<Hangup/>", '<Response><Connect><Stream url="/x"/></Connect></Response>'):
        with pytest.raises(twiml.TwimlError):
            twiml.parse(bad)


def test_playback_marks_wait_for_audio_and_clear_flushes_them() -> None:
    p = Playback()
    assert p.mark("idle") == ["idle"]  # nothing queued: echoed at once
    p.feed(b"\x01" * 200)
    assert p.mark("m1") == []
    p.feed(b"\x02" * 100)
    p.mark("m2")
    first = p.play(160)
    assert first.audio == b"\x01" * 160 and first.marks == []
    second = p.play(160)
    assert second.audio == b"\x01" * 40 + b"\x02" * 100 and second.marks == ["m1", "m2"]
    p.feed(b"\x03" * 1000)
    p.mark("m3")
    p.mark("m4")
    assert p.clear() == (1000, ["m3", "m4"])
    assert p.play(160).audio == b"" and p.queued_bytes == 0


def test_scripts_are_plain_data() -> None:
    script = s.parse_script(
        {
            "noise": {"type": "white", "level_dbfs": -50},
            "steps": [
                {"say": "Hello."},
                {"say": {"text": "Hi", "barge_in_after_ms": 300, "length_scale": 1.4}},
                {"pause": 250},
                {"dtmf": "12#"},
                {"wait_for_agent": {"silence_ms": 500}},
                {"noise": "off"},
                "hangup",
            ],
        }
    )
    assert [step.kind for step in script.steps] == [
        "say",
        "say",
        "pause",
        "dtmf",
        "wait_for_agent",
        "noise",
        "hangup",
    ]
    assert script.steps[1] == s.Say(text="Hi", barge_in_after_ms=300, length_scale=1.4)
    assert script.noise == s.Noise(type="white", level_dbfs=-50)
    for bad in ({"steps": [{"dtmf": "12a"}]}, {"steps": [{"shout": "x"}]}, {"noise": {"type": "pink"}}):
        with pytest.raises(ValidationError):
            s.parse_script(bad)
    names = s.bundled_scripts()
    assert {"booking-caller", "job-status-caller", "barge-in-caller", "silent-hangup"} <= set(names)
    assert all(s.load_script(name).steps for name in names)
    assert s.load_script("barge-in-caller").steps[0] == s.Say(
        text="Sorry, can I just stop you there? I need to talk to a real person.", barge_in_after_ms=800
    )


def test_noise_is_deterministic_and_at_the_requested_level() -> None:
    for kind in ("white", "pink", "babble"):
        a, b = NoiseBed(kind, 7, -30.0), NoiseBed(kind, 7, -30.0)
        frames_a = [a.mix(silence(20)) for _ in range(100)]
        assert frames_a == [b.mix(silence(20)) for _ in range(100)]
        assert frames_a != [NoiseBed(kind, 8, -30.0).mix(silence(20)) for _ in range(100)]
        level = rms_dbfs(mulaw_decode(b"".join(frames_a)))
        assert -32.5 < level < -27.5, (kind, level)
    spectrum = np.abs(np.fft.rfft(NoiseBed("pink", 1, -20).samples(8000).astype(float)))
    assert spectrum[50:500].mean() > 3 * spectrum[3000:3500].mean()  # pink: more energy low


def test_amd_verdicts() -> None:
    human, machine = Callee(amd_human_ms=900), Callee(answer="voicemail")
    assert amd_verdict(human, CallOptions(machine_detection="Enable"), 0).answered_by == "human"
    end = amd_verdict(machine, CallOptions(machine_detection="DetectMessageEnd"), 3000)
    assert end.answered_by == "machine_end_beep" and end.after_ms == 3500
    assert amd_verdict(machine, CallOptions(machine_detection="Enable"), 6000).answered_by == "machine_start"
    kinds = [step.kind for step in machine.caller_script().steps]
    assert kinds == ["say", "tone", "pause", "hangup"]
    assert [step.kind for step in machine.caller_script(greeting_played=True).steps] == ["pause", "hangup"]


def test_get_webhooks_sign_the_full_url() -> None:
    v = RequestValidator("secret")
    url, body, headers = signed_request(v, "GET", "https://h/t?a=1", {"CallSid": "CA1"})
    assert url == "https://h/t?a=1&CallSid=CA1" and body is None
    assert v.validate(url, {}, headers["X-Twilio-Signature"])
    url, body, headers = signed_request(v, "POST", "https://h/t", {"CallSid": "CA1"})
    assert v.validate(url, body or {}, headers["X-Twilio-Signature"])


class _Line:
    def __init__(self) -> None:
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.hung_up: str | None = None

    async def send_dtmf(self, digit: str) -> None:
        self.notes.append(("dtmf", {"digit": digit}))

    def set_noise(self, step: s.Noise | None, speech_dbfs: float) -> None:
        pass

    def hang_up(self, reason: str) -> None:
        self.hung_up = reason

    def note(self, kind: str, **detail: Any) -> None:
        self.notes.append((kind, detail))


async def _drive(script: s.CallerScript, agent_frames: set[int], frames: int) -> tuple[list[int], _Line]:
    """Tick the stream clock by hand; returns the frames in which the caller made sound."""
    mouth, ears, line = Mouth(), Ears(), _Line()
    task = asyncio.create_task(Performer(script, speech=None, mouth=mouth, ears=ears, line=line).run())
    spoke = []
    for n in range(frames):
        await asyncio.sleep(0)  # let the performer react to the last tick
        if mouth.frame(160).speech_bytes:
            spoke.append(n)
        ears.tick(n * 20, n in agent_frames)
        if task.done():
            break
    task.cancel()
    return spoke, line


async def test_turn_taking_waits_for_the_agent_to_finish() -> None:
    script = s.parse_script(
        {"steps": [{"wait_for_agent": {"silence_ms": 100}}, {"tone": {"ms": 40}}, "hangup"]}
    )
    spoke, line = await _drive(script, agent_frames=set(range(10, 30)), frames=100)
    # The agent plays frames 10..29; 100 ms of quiet after frame 29 → the caller speaks from frame 35.
    assert spoke[:2] == [35, 36] or spoke[:2] == [36, 37]
    assert line.hung_up == "script"


async def test_turn_taking_times_out_and_hangs_up() -> None:
    script = s.parse_script(
        {"steps": [{"wait_for_agent": {"silence_ms": 100, "timeout_ms": 200, "on_timeout": "hangup"}}]}
    )
    spoke, line = await _drive(script, agent_frames=set(), frames=40)
    assert spoke == [] and line.hung_up == "agent_timeout"
    assert ("wait_for_agent_timeout", {"started": False}) in line.notes


async def test_barge_in_counts_from_the_agent_onset(tmp_path: Path) -> None:
    write_wav(tmp_path / "hey.wav", [np.full(1600, 8000, dtype=np.int16)], 8000)  # 200 ms at 8 kHz
    script = s.parse_script(
        {"steps": [{"play": {"path": "hey.wav", "barge_in_after_ms": 100}}]}, base_dir=tmp_path
    )
    spoke, _ = await _drive(script, agent_frames=set(range(10, 60)), frames=60)
    # Agent audio from frame 10 (200 ms); the caller starts 100 ms later, for 10 frames.
    assert spoke[0] in (15, 16) and len(spoke) == 10
