"""The bridge state machine, with no sockets: events in, actions out."""

from __future__ import annotations

import base64
import itertools
import json
import typing
from typing import Any

import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel

from switchboard.models import Speaker, ToolResult, TurnDetection
from voice import twilio_media
from voice.bridge import (
    Action,
    AppendAudio,
    Bridge,
    BridgeConfig,
    CloseStream,
    DtmfReceived,
    EmitTurn,
    Notify,
    SendRealtime,
    SendTwilio,
    ToolCallRequested,
    Transfer,
)
from voice.realtime import parse_server_event, turn_detection_config
from voice.twilio_media import ClearOut, MarkOut, MediaOut

_ids = itertools.count(1)
CHUNK_100MS = base64.b64encode(bytes(range(200)) * 4).decode()  # 800 bytes = 100 ms


# -- event makers (validated against the SDK / the Twilio models) ------------------------------


def tw(event: str, **fields: Any) -> Any:
    return twilio_media.decode(json.dumps({"event": event, "streamSid": "MZ1", **fields}))


def start() -> Any:
    return tw("start", start={"streamSid": "MZ1", "callSid": "CA1", "customParameters": {}})


def media(ts: int, payload: str = base64.b64encode(b"\x11" * 160).decode()) -> Any:
    return tw("media", media={"track": "inbound", "chunk": "1", "timestamp": str(ts), "payload": payload})


def mark(name: str) -> Any:
    return tw("mark", mark={"name": name})


def rt(type_: str, **fields: Any) -> Any:
    return parse_server_event(json.dumps({"type": type_, "event_id": f"event_{next(_ids)}", **fields}))


def created(rid: str) -> Any:
    return rt(
        "response.created", response={"id": rid, "object": "realtime.response", "status": "in_progress"}
    )


def done(rid: str, status: str = "completed") -> Any:
    return rt("response.done", response={"id": rid, "object": "realtime.response", "status": status})


def delta(rid: str, item: str, payload: str = CHUNK_100MS) -> Any:
    return rt(
        "response.output_audio.delta",
        response_id=rid, item_id=item, output_index=0, content_index=0, delta=payload,
    )  # fmt: skip


def transcript_done(rid: str, item: str, text: str) -> Any:
    return rt(
        "response.output_audio_transcript.done",
        response_id=rid, item_id=item, output_index=0, content_index=0, transcript=text,
    )  # fmt: skip


def speech_started(ms: int, item: str = "item_user") -> Any:
    return rt("input_audio_buffer.speech_started", audio_start_ms=ms, item_id=item)


def function_call(rid: str, name: str, args: dict[str, Any], call_id: str = "call_1") -> Any:
    return rt(
        "response.function_call_arguments.done",
        response_id=rid, item_id="item_fc", output_index=0, call_id=call_id, name=name, arguments=json.dumps(args),
    )  # fmt: skip


# -- helpers -----------------------------------------------------------------------------------


def make_bridge(interrupt_response: bool = True) -> Bridge:
    td = turn_detection_config(TurnDetection(interrupt_response=interrupt_response))
    return Bridge(BridgeConfig(turn_detection=td))


def run_bridge(events_in: list[Any], bridge: Bridge | None = None) -> list[Action]:
    """Feed Twilio messages and Realtime events in order; every action out, in order."""
    bridge = bridge or make_bridge()
    out: list[Action] = []
    for event in events_in:
        if isinstance(event, BaseModel) and hasattr(event, "event"):
            out += bridge.on_twilio(event)  # type: ignore[arg-type]
        else:
            out += bridge.on_realtime(event)
    for action in out:
        if isinstance(action, SendRealtime):
            assert_client_event(action.event)
    return out


_CLIENT = {
    typing.get_args(c.model_fields["type"].annotation)[0]: c
    for c in typing.get_args(typing.get_args(RealtimeClientEvent)[0])
}


def _no_extra(model: Any, where: str) -> None:
    if isinstance(model, BaseModel):
        assert not model.model_extra, f"unknown fields at {where}: {model.model_extra}"
        for name in type(model).model_fields:
            _no_extra(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, value in enumerate(model):
            _no_extra(value, f"{where}[{i}]")


def assert_client_event(event: dict[str, Any]) -> None:
    """Strictly a GA client event: known type, valid shape, no unknown field anywhere."""
    _no_extra(_CLIENT[event["type"]].model_validate(event), event["type"])


def of(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def twilio_out(actions: list[Action]) -> list[Any]:
    return [a.message for a in of(actions, SendTwilio)]


def realtime_types(actions: list[Action]) -> list[str]:
    return [a.event["type"] for a in of(actions, SendRealtime)]


def marks(actions: list[Action]) -> list[str]:
    return [m.name for m in twilio_out(actions) if isinstance(m, MarkOut)]


# -- pass-through and marks --------------------------------------------------------------------


def test_audio_passes_through_unchanged_both_ways() -> None:
    payload = base64.b64encode(bytes(range(160))).decode()
    actions = run_bridge([start(), media(0, payload), created("r1"), delta("r1", "item_a")])
    assert actions[0] == AppendAudio(payload)
    assert twilio_out(actions) == [MediaOut(CHUNK_100MS), MarkOut("item_a:100:g0:m1")]


def test_marks_name_item_sent_position_generation_and_sequence() -> None:
    actions = run_bridge(
        [start(), media(0), created("r1"), delta("r1", "a"), delta("r1", "a"), delta("r1", "b")]
    )
    assert marks(actions) == ["a:100:g0:m1", "a:200:g0:m2", "b:100:g0:m3"]


def test_gap_in_caller_audio_is_padded_with_silence_to_keep_the_clocks_aligned() -> None:
    actions = run_bridge([start(), media(0), media(20), media(100)])
    appends = of(actions, AppendAudio)
    assert len(appends) == 4
    assert base64.b64decode(appends[2].payload) == b"\xff" * (60 * 8)


def test_agent_turn_emitted_once_the_audio_has_played() -> None:
    bridge = make_bridge()
    out = run_bridge([start(), media(0), created("r1"), delta("r1", "a"), delta("r1", "a")], bridge)
    names = marks(out)
    out = run_bridge([transcript_done("r1", "a", "hello there"), done("r1"), mark(names[0])], bridge)
    assert of(out, EmitTurn) == []  # 100 ms still queued at Twilio
    (emit,) = of(run_bridge([mark(names[1])], bridge), EmitTurn)
    assert emit.turn.speaker is Speaker.AGENT and emit.turn.text == "hello there"
    assert (emit.turn.start_ms, emit.turn.end_ms, emit.turn.interrupted) == (20, 220, False)


# -- barge-in ----------------------------------------------------------------------------------


def _speaking(bridge: Bridge, chunks: int = 4, heard: int = 1) -> list[str]:
    out = run_bridge([start(), media(0), created("r1")] + [delta("r1", "a")] * chunks, bridge)
    names = marks(out)
    run_bridge([mark(n) for n in names[:heard]], bridge)
    return names


@pytest.mark.parametrize("interrupt_response", [True, False])
def test_barge_in_clears_at_once_and_truncates_at_heard_plus_margin(interrupt_response: bool) -> None:
    bridge = make_bridge(interrupt_response)
    _speaking(bridge, chunks=4, heard=1)
    out = run_bridge([speech_started(300)], bridge)
    assert isinstance(out[0], SendTwilio) and out[0].message == ClearOut()
    truncate = of(out, SendRealtime)[0].event
    assert truncate == {
        "type": "conversation.item.truncate",
        "item_id": "a",
        "content_index": 0,
        "audio_end_ms": 150,
    }
    expected = ["conversation.item.truncate"] + ([] if interrupt_response else ["response.cancel"])
    assert realtime_types(out) == expected


def test_truncate_never_goes_past_what_was_sent() -> None:
    bridge = make_bridge()
    _speaking(bridge, chunks=3, heard=2)  # heard 200 of 300: 200 + 50 < 300
    out = run_bridge([speech_started(300)], bridge)
    assert of(out, SendRealtime)[0].event["audio_end_ms"] == 250
    bridge = make_bridge()
    names = _speaking(bridge, chunks=2, heard=1)
    bridge._items["a"].heard_ms = 180  # a mark mid-chunk: 180 + 50 > 200 sent
    out = run_bridge([speech_started(300)], bridge)
    assert of(out, SendRealtime)[0].event["audio_end_ms"] == 200
    assert names


def test_marks_echoed_after_the_clear_are_ignored() -> None:
    bridge = make_bridge()
    names = _speaking(bridge, chunks=4, heard=1)
    run_bridge([speech_started(300)], bridge)
    assert run_bridge([mark(n) for n in names[1:]], bridge) == []
    assert bridge.late_marks == 3
    assert bridge._items["a"].heard_ms == 100


def test_deltas_of_the_cancelled_response_are_dropped() -> None:
    bridge = make_bridge()
    _speaking(bridge)
    run_bridge([speech_started(300)], bridge)
    assert run_bridge([delta("r1", "a"), delta("r1", "a")], bridge) == []
    assert bridge.dropped_deltas == 2
    out = run_bridge([done("r1", "cancelled"), created("r2"), delta("r2", "b")], bridge)
    assert marks(out) == ["b:100:g1:m5"]  # the next response plays, in the new generation


def test_no_truncate_when_nothing_is_pending() -> None:
    bridge = make_bridge()
    names = _speaking(bridge, chunks=2, heard=0)
    run_bridge([done("r1")] + [mark(n) for n in names], bridge)
    assert run_bridge([speech_started(900)], bridge) == []


def test_interrupted_turn_keeps_only_what_was_heard() -> None:
    bridge = make_bridge()
    _speaking(bridge, chunks=4, heard=2)  # 200 of 400 ms heard
    out = run_bridge(
        [speech_started(300), transcript_done("r1", "a", "one two three four five six seven eight")], bridge
    )
    (emit,) = of(out, EmitTurn)
    assert emit.turn.text == "one two three four"
    assert emit.turn.interrupted and emit.turn.end_ms == emit.turn.start_ms + 200


# -- opening line ------------------------------------------------------------------------------


def test_opening_line_is_not_interruptible_until_it_has_played() -> None:
    bridge = make_bridge(interrupt_response=True)
    run_bridge([start(), media(0)], bridge)
    out = bridge.speak_line("Hi, I'm an AI assistant. May I record this call?")
    for action in out:
        assert_client_event(action.event)  # type: ignore[union-attr]
    update, create = (a.event for a in of(out, SendRealtime))
    assert update["session"]["audio"]["input"]["turn_detection"]["interrupt_response"] is False
    assert (
        create["response"]["instructions"]
        == 'Say exactly: "Hi, I\'m an AI assistant. May I record this call?"'
    )
    out = run_bridge([created("r1"), delta("r1", "a"), delta("r1", "a")], bridge)
    names = marks(out)
    assert run_bridge([speech_started(50)], bridge) == []  # no clear during the line
    out = run_bridge([done("r1"), mark(names[0])], bridge)
    assert realtime_types(out) == []
    out = run_bridge([mark(names[1])], bridge)
    (restore,) = of(out, SendRealtime)
    assert restore.event["session"]["audio"]["input"]["turn_detection"]["interrupt_response"] is True
    assert Notify("opening_line_done") in out
    run_bridge([created("r2"), delta("r2", "b")], bridge)
    assert twilio_out(run_bridge([speech_started(900)], bridge))[0] == ClearOut()


def test_refused_opening_line_restores_interruption() -> None:
    bridge = make_bridge()
    out = bridge.speak_line("Hello")
    event_id = of(out, SendRealtime)[1].event["event_id"]
    error = rt(
        "error", error={"type": "invalid_request_error", "code": "x", "message": "m", "event_id": event_id}
    )
    out = run_bridge([error], bridge)
    assert Notify("opening_line_failed") in out and realtime_types(out) == ["session.update"]


# -- tools and ending --------------------------------------------------------------------------


def _tool_round(bridge: Bridge, output: dict[str, Any]) -> list[Action]:
    out = run_bridge(
        [start(), media(0), created("r1"), function_call("r1", "end_call", {}), done("r1")], bridge
    )
    (req,) = of(out, ToolCallRequested)
    assert not req.cancelled and req.call.response_id == "r1"
    result = ToolResult(call_id=req.call.call_id, name=req.call.name, ok=True, output=output)
    return bridge.on_tool_result(result, cancelled=False, response_id="r1")


@pytest.mark.parametrize(("output", "final"), [({"action": "end_call"}, CloseStream("agent_ended")),
                                               ({"action": "transfer", "to": "+61255550199"}, Transfer("+61255550199"))])  # fmt: skip
def test_end_call_waits_for_the_goodbye_to_finish_playing(output: dict[str, Any], final: Action) -> None:
    bridge = make_bridge()
    out = _tool_round(bridge, output)
    assert realtime_types(out) == ["conversation.item.create", "response.create"]
    for action in of(out, SendRealtime):
        assert_client_event(action.event)
    assert json.loads(of(out, SendRealtime)[0].event["item"]["output"]) == output
    out = run_bridge([created("r2"), delta("r2", "bye"), delta("r2", "bye"), done("r2")], bridge)
    names = marks(out)
    assert final not in out
    assert final not in run_bridge([mark(names[0])], bridge)
    assert final in run_bridge([mark(names[1])], bridge)


def test_tool_call_of_a_response_cancelled_by_barge_in_is_flagged() -> None:
    bridge = make_bridge()
    run_bridge(
        [start(), media(0), created("r1"), delta("r1", "a"), function_call("r1", "book", {"day": "mon"})],
        bridge,
    )
    out = run_bridge([speech_started(100), done("r1", "cancelled")], bridge)
    (req,) = of(out, ToolCallRequested)
    assert req.cancelled and req.call.arguments == {"day": "mon"}
    result = ToolResult(call_id=req.call.call_id, name="book", ok=True, output={"booked": True})
    assert realtime_types(bridge.on_tool_result(result, cancelled=True, response_id="r1")) == [
        "conversation.item.create"
    ]  # the output is recorded, but the agent does not speak over the caller


def test_dtmf_surfaces_as_an_action() -> None:
    assert run_bridge([start(), tw("dtmf", dtmf={"track": "inbound_track", "digit": "5"})]) == [
        DtmfReceived("5")
    ]


def test_stop_ends_the_stream() -> None:
    assert run_bridge([start(), tw("stop", stop={"callSid": "CA1"})]) == [CloseStream("caller_hung_up")]


def test_caller_turn_on_the_stream_clock() -> None:
    events = [
        start(),
        media(40),
        speech_started(1000, "item_u"),
        rt("input_audio_buffer.speech_stopped", audio_end_ms=2500, item_id="item_u"),
        rt(
            "conversation.item.input_audio_transcription.completed",
            item_id="item_u", content_index=0, transcript=" Book me in. ", usage={"type": "duration", "seconds": 1.5},
        ),
    ]  # fmt: skip
    (emit,) = of(run_bridge(events), EmitTurn)
    assert emit.turn.speaker is Speaker.CALLER and emit.turn.text == "Book me in."
    assert (emit.turn.start_ms, emit.turn.end_ms) == (1040, 2540)


def test_non_fatal_error_is_reported_not_fatal() -> None:
    error = rt(
        "error", error={"type": "invalid_request_error", "code": "response_cancel_not_active", "message": "m"}
    )
    (notify,) = run_bridge([start(), error])
    assert isinstance(notify, Notify) and notify.data["code"] == "response_cancel_not_active"


def test_say_and_end_closes_once_the_line_has_played() -> None:
    bridge = make_bridge()
    run_bridge([start(), media(0)], bridge)
    bridge.speak_line("We have reached the time limit. Goodbye.", then_close="max_length")
    names = marks(run_bridge([created("r1"), delta("r1", "a"), done("r1")], bridge))
    assert run_bridge([speech_started(10)], bridge) == []  # not interruptible
    assert CloseStream("max_length") in run_bridge([mark(names[0])], bridge)


def test_voicemail_line_cuts_the_disclosure_and_ends_after_it_has_played() -> None:
    bridge = make_bridge(interrupt_response=True)
    run_bridge([start(), media(0)], bridge)
    bridge.speak_line("Hi, I'm an AI assistant. May I record this call?")
    names = marks(run_bridge([created("r1"), delta("r1", "a"), delta("r1", "a")], bridge))
    run_bridge([mark(names[0])], bridge)  # the machine has heard the start of the disclosure
    out = bridge.interrupt_with_line("Please call us back.", then_close="agent_ended")
    assert twilio_out(out)[0] == ClearOut()  # what is left of the disclosure is dropped at once
    assert realtime_types(out) == [
        "conversation.item.truncate",
        "response.cancel",
        "session.update",
        "response.create",
    ]
    assert (
        'Say exactly: "Please call us back."' in of(out, SendRealtime)[-1].event["response"]["instructions"]
    )
    assert not of(run_bridge([done("r1", "cancelled"), mark(names[1])], bridge), CloseStream)  # old line
    names = marks(run_bridge([created("r2"), delta("r2", "b")], bridge))
    out = run_bridge([done("r2"), mark(names[-1])], bridge)
    assert CloseStream("agent_ended") in out
