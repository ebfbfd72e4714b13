"""Twilio Media Streams messages: typed decoding (numbers arrive as strings), one error for bad frames."""

from __future__ import annotations

import binascii
import json

import pytest

from voice import twilio_media as tm


def test_start_and_media_decode_with_string_numbers() -> None:
    start = tm.decode(
        json.dumps(
            {
                "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                "start": {"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
                          "customParameters": {"call_id": "c1", "token": "t"},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
            }
        )
    )  # fmt: skip
    assert isinstance(start, tm.StartMessage)
    assert start.sequenceNumber == 1 and start.start.customParameters["call_id"] == "c1"
    media = tm.decode(
        '{"event":"media","sequenceNumber":"3","streamSid":"MZ1",'
        '"media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8="}}'
    )
    assert isinstance(media, tm.MediaMessage) and (media.media.timestamp, media.media.chunk) == (5, 1)


@pytest.mark.parametrize(
    "frame",
    [
        "{",
        b"\xff\xfe",
        "[]",
        '{"event":"nope"}',
        '{"event":"media","media":{"timestamp":"5"}}',
        '{"event":"media","media":{"timestamp":"x","payload":"AA=="}}',
        '{"event":"media","media":{"timestamp":"5","payload":"not base64!\\""}}',
        '{"event":"dtmf","dtmf":{"digit":"55"}}',
        '{"event":"mark","mark":{}}',
        '{"event":"start","start":{}}',
    ],
)
def test_malformed_frames_raise_one_typed_error(frame: str | bytes) -> None:
    with pytest.raises(tm.TwilioFrameError):
        tm.decode(frame)


def test_other_inbound_messages() -> None:
    assert isinstance(
        tm.decode('{"event":"connected","protocol":"Call","version":"1.0.0"}'), tm.ConnectedMessage
    )
    dtmf = tm.decode(
        '{"event":"dtmf","sequenceNumber":"5","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"#"}}'
    )
    assert isinstance(dtmf, tm.DtmfMessage) and dtmf.dtmf.digit == "#"
    mark = tm.decode('{"event":"mark","streamSid":"MZ1","mark":{"name":"a:100:g0:m1"}}')
    assert isinstance(mark, tm.MarkMessage) and mark.mark.name == "a:100:g0:m1"
    assert isinstance(
        tm.decode('{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA1"}}'), tm.StopMessage
    )


def test_encode_outbound_messages() -> None:
    assert json.loads(tm.encode(tm.MediaOut("//8="), "MZ1")) == {
        "event": "media", "streamSid": "MZ1", "media": {"payload": "//8="}
    }  # fmt: skip
    assert json.loads(tm.encode(tm.MarkOut('x"y'), "MZ1")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": 'x"y'},
    }
    assert json.loads(tm.encode(tm.ClearOut(), "MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def test_encode_escapes_a_payload_that_is_not_json_safe() -> None:
    assert json.loads(tm.encode(tm.MediaOut('a"b\\c'), "MZ1"))["media"]["payload"] == 'a"b\\c'


# -- the media fast path ------------------------------------------------------------------------

_MEDIA_FRAMES = [
    '{"event":"media","sequenceNumber":"3","streamSid":"MZ1",'
    '"media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8="}}',
    '{"event":"media","media":{"timestamp":7,"payload":""}}',
    '{"media":{"payload":"AAAA","timestamp":"0","extra":1},"event":"media","other":[1]}',
    '{"event":"media","media":{"timestamp":"-5","payload":"AA=="}}',
    '{"event":"media","media":{"timestamp":"5","payload":"AA==="}}',
    '{"event":"media","media":{"timestamp":"5","payload":"AA\\nA"}}',
    '{"event":"media","media":{"timestamp":"5","payload":7}}',
    '{"event":"media","media":{"timestamp":"5.5","payload":"AA=="}}',
    '{"event":"media","sequenceNumber":"x","media":{"timestamp":"5","payload":"AA=="}}',
    '{"event":"media","streamSid":5,"media":{"timestamp":"5","payload":"AA=="}}',
    '{"event":"media","media":{"chunk":"y","timestamp":"5","payload":"AA=="}}',
    '{"event":"media","media":{"track":null,"timestamp":"5","payload":"AA=="}}',
    '{"event":"media","media":"AA=="}',
    '{"event":"media"}',
    '{"event":"mark","streamSid":"MZ1","mark":{"name":"a:100:g0:m1"}}',
    '{"event":"stop","streamSid":"MZ1"}',
    "{",
    "[]",
    b"\x00\x01",
]


@pytest.mark.parametrize("frame", _MEDIA_FRAMES)
def test_decode_hot_reads_exactly_what_decode_reads(frame: str | bytes) -> None:
    try:
        typed: object = tm.decode(frame)
    except tm.TwilioFrameError:
        typed = None
    hot = tm.decode_hot(frame)
    if isinstance(typed, tm.MediaMessage):
        try:
            audio = binascii.a2b_base64(typed.media.payload, strict_mode=True)
        except binascii.Error:
            assert hot is None  # stricter than decode(): the relay counts it as malformed
        else:
            assert hot == (typed.media.timestamp, typed.media.payload, audio)
    elif isinstance(typed, tm.MarkMessage):
        assert hot == typed.mark.name
    else:
        assert hot is None  # not caller audio or a mark: decode() types it, or counts it as malformed


def test_decode_hot_returns_timestamp_payload_and_audio() -> None:
    payload = "/w8A" * 53 + "//8="
    frame = '{"event":"media","media":{"timestamp":"20","payload":"' + payload + '"}}'
    assert tm.decode_hot(frame) == (20, payload, binascii.a2b_base64(payload))
