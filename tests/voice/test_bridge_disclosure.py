"""What the caller says over the disclosure: kept, and answered once the disclosure has played.

The session settings that make it work with OpenAI's turn detection are checked here: while the
line plays, ``interrupt_response`` and ``create_response`` are off (the server neither cancels
the line at the caller's speech nor answers behind it), and both are restored once it has played.
"""

from __future__ import annotations

from typing import Any

from switchboard.models import Speaker, TurnDetection
from tests.voice.test_bridge import (
    assert_client_event,
    created,
    delta,
    done,
    mark,
    marks,
    media,
    of,
    realtime_types,
    rt,
    run_bridge,
    speech_started,
    start,
    transcript_done,
)
from voice.bridge import Bridge, BridgeConfig, EmitTurn, Notify, SendRealtime
from voice.realtime import turn_detection_config

DISCLOSURE = "Hi, I'm an AI assistant. Is it okay if I record this call?"


def stopped(ms: int, item: str = "item_user") -> Any:
    return rt("input_audio_buffer.speech_stopped", audio_end_ms=ms, item_id=item)


def heard(text: str, item: str = "item_user") -> Any:
    return rt(
        "conversation.item.input_audio_transcription.completed",
        item_id=item, content_index=0, transcript=text, usage={"type": "duration", "seconds": 1.0},
    )  # fmt: skip


def unheard(item: str = "item_user") -> Any:
    return rt(
        "conversation.item.input_audio_transcription.failed",
        item_id=item, content_index=0, error={"type": "server_error", "code": "x", "message": "m"},
    )  # fmt: skip


def turn_detection(action: SendRealtime) -> dict[str, Any]:
    assert action.event["type"] == "session.update"
    td: dict[str, Any] = action.event["session"]["audio"]["input"]["turn_detection"]
    return td


def playing(td: TurnDetection | None = None) -> tuple[Bridge, list[str], list[SendRealtime]]:
    """A bridge whose disclosure has streamed (two chunks, r1 done) and is still playing."""
    bridge = Bridge(BridgeConfig(turn_detection_config(td or TurnDetection())))
    run_bridge([start(), media(0)], bridge)
    sent = of(bridge.speak_line(DISCLOSURE), SendRealtime)
    for action in sent:
        assert_client_event(action.event)
    names = marks(run_bridge([created("r1"), delta("r1", "a"), delta("r1", "a")], bridge))
    run_bridge([transcript_done("r1", "a", DISCLOSURE), done("r1")], bridge)
    return bridge, names, sent


def test_turn_detection_is_held_during_the_disclosure_and_restored_after_it() -> None:
    profile = TurnDetection(type="semantic_vad", eagerness="low")
    bridge, names, (update, create) = playing(profile)
    assert turn_detection(update) == {
        **turn_detection_config(profile), "interrupt_response": False, "create_response": False
    }  # fmt: skip
    assert create.event["type"] == "response.create"
    out = run_bridge([mark(names[0]), mark(names[1])], bridge)
    (restore,) = of(out, SendRealtime)
    assert turn_detection(restore) == turn_detection_config(profile)  # the profile's own, both back on
    assert turn_detection(restore)["interrupt_response"] is True
    assert turn_detection(restore)["create_response"] is True
    assert Notify("opening_line_done") in out


def test_an_answer_over_the_disclosure_is_kept_and_answered_once_it_has_played() -> None:
    bridge, names, _ = playing()
    out = run_bridge([speech_started(1200), stopped(2400), heard(" Yes, that's fine. ")], bridge)
    assert realtime_types(out) == []  # no clear, no cancel, no answer while the line plays
    (emit,) = of(out, EmitTurn)
    assert emit.turn.speaker is Speaker.CALLER and emit.turn.text == "Yes, that's fine."
    assert emit.turn.over_disclosure is True
    assert realtime_types(run_bridge([mark(names[0])], bridge)) == []
    out = run_bridge([mark(names[1])], bridge)
    assert realtime_types(out) == ["session.update", "response.create"]  # restored first, then answered
    for action in of(out, SendRealtime):
        assert_client_event(action.event)
    assert any(isinstance(a, Notify) and a.name == "answer_over_disclosure" for a in out)


def test_a_transcript_that_comes_after_the_disclosure_is_answered_when_it_comes() -> None:
    bridge, names, _ = playing()
    run_bridge([speech_started(1200), stopped(2400)], bridge)
    out = run_bridge([mark(names[0]), mark(names[1])], bridge)
    assert realtime_types(out) == ["session.update"]  # the words are not in yet
    out = run_bridge([heard("Yeah, go ahead.")], bridge)
    assert realtime_types(out) == ["response.create"]
    assert of(out, EmitTurn)[0].turn.over_disclosure is True


def test_noise_over_the_disclosure_is_not_answered() -> None:
    bridge, names, _ = playing()
    run_bridge([speech_started(1200, "n1"), stopped(1500, "n1"), heard("  ", "n1")], bridge)
    run_bridge([speech_started(1700, "n2"), stopped(1900, "n2"), unheard("n2")], bridge)
    out = run_bridge([mark(names[0]), mark(names[1])], bridge)
    assert realtime_types(out) == ["session.update"]


def test_a_caller_still_talking_when_the_disclosure_ends_is_answered_by_the_server() -> None:
    """create_response is back on: the server answers when they stop (both turns at once)."""
    bridge, names, _ = playing()
    run_bridge([speech_started(1200, "u1"), stopped(2000, "u1"), heard("Yes.", "u1")], bridge)
    run_bridge([speech_started(2300, "u2")], bridge)
    out = run_bridge([mark(names[0]), mark(names[1])], bridge)
    assert realtime_types(out) == ["session.update"]
    out = run_bridge([stopped(3500, "u2"), heard("Go ahead.", "u2")], bridge)
    assert realtime_types(out) == []
    assert of(out, EmitTurn)[0].turn.over_disclosure is True  # it began over the line


def test_speech_after_the_disclosure_is_an_ordinary_turn() -> None:
    bridge, names, _ = playing()
    run_bridge([mark(names[0]), mark(names[1])], bridge)
    out = run_bridge([speech_started(3000), stopped(3600), heard("Yes.")], bridge)
    assert realtime_types(out) == []  # the server answers it (create_response is on)
    assert of(out, EmitTurn)[0].turn.over_disclosure is False


def test_what_is_said_over_a_closing_line_is_not_answered() -> None:
    """A voicemail message or the wrap-up at the maximum length ends the call when it has played."""
    bridge = Bridge(BridgeConfig(turn_detection_config(TurnDetection())))
    run_bridge([start(), media(0)], bridge)
    bridge.speak_line("Please call us back.", then_close="agent_ended")
    names = marks(run_bridge([created("r1"), delta("r1", "a")], bridge))
    out = run_bridge([speech_started(300), stopped(800), heard("Hello?"), done("r1")], bridge)
    assert of(out, EmitTurn)[0].turn.over_disclosure is False
    out = run_bridge([mark(names[0])], bridge)
    assert realtime_types(out) == ["session.update"]
