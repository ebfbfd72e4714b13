"""The recording shipped in segments as the call goes: cut on the call's clock, joined with the
gaps as silence; on moto, a call recorded by two recorders on two "hosts" (a resume) archives as
one WAV covering both parts, and a refusal or an erasure deletes every shipped segment."""

from __future__ import annotations

import argparse
import io
import itertools
import uuid
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from activities.recordings import RecordingActivities
from cli.forget import _delete_recordings
from cli.main import cmd_recording
from functions._runtime import assign_person
from switchboard import aws
from switchboard.config import Settings
from switchboard.messages import ArchiveInput
from switchboard.people import person_id
from switchboard.recording_segments import (
    BYTES_PER_MS,
    from_wav,
    join,
    list_segments,
    segment_prefix,
    segment_start_ms,
    to_wav,
)
from switchboard.temporal import person_keys
from voice.audio import mulaw_decode, mulaw_encode
from voice.recorder import Recorder
from voice.segments import SegmentShipper


def _tone(ms: int, value: int) -> bytes:
    return mulaw_encode(np.full(ms * 8, value, dtype=np.int16))


def _stereo(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)


def _record(path: Path, ms: int, value: int, **options: object) -> Recorder:
    rec = Recorder(path, **options)  # type: ignore[arg-type]
    for ts in range(0, ms, 20):
        rec.caller_audio(ts, _tone(20, value))
    rec.close()
    return rec


def test_join_lays_segments_on_the_call_clock_with_gaps_as_silence() -> None:
    a = np.full((800, 2), 100, "<i2").tobytes()  # 100 ms
    b = np.full((400, 2), -7, "<i2").tobytes()  # 50 ms
    joined = _stereo(join([(300, b), (0, a)]))
    assert len(joined) == 350 * 8
    assert set(joined[: 100 * 8].ravel()) == {100}
    assert set(joined[100 * 8 : 300 * 8].ravel()) == {0}  # the gap: silence
    assert set(joined[300 * 8 :].ravel()) == {-7}
    assert join([]) == b""


def test_the_recorder_hands_over_segments_that_join_into_its_own_file(tmp_path: Path) -> None:
    parts: list[tuple[int, bytes]] = []
    rec = _record(tmp_path / "call.wav", 12_000, 1000, on_segment=lambda at, pcm: parts.append((at, pcm)))
    starts = [at for at, _ in parts]
    assert starts[0] == 0 and len(parts) == 3  # ~5 s segments, the rest at close
    assert all(b - a >= 5000 for a, b in itertools.pairwise(starts))
    with wave.open(str(rec.path)) as w:
        local = w.readframes(w.getnframes())
    assert join(parts) == local  # the segments are exactly the recording


def test_a_resumed_stream_is_placed_after_its_offset(tmp_path: Path) -> None:
    parts: list[tuple[int, bytes]] = []
    _record(tmp_path / "b.wav", 2000, 500, on_segment=lambda at, pcm: parts.append((at, pcm)), offset_ms=9000)
    assert parts[0][0] == 9000


def test_two_hosts_archive_as_one_recording_with_the_gap_silent(stack: Settings, tmp_path: Path) -> None:
    call_id = f"call-{uuid.uuid4()}"
    first, second = int(mulaw_decode(_tone(1, 1000))[0]), int(mulaw_decode(_tone(1, -3000))[0])
    host_a = SegmentShipper(stack.model_copy(update={"host": "voice-a"}), processes=1)
    host_b = SegmentShipper(stack.model_copy(update={"host": "voice-b"}), processes=1)
    # Host a records 7 s and dies (its last segment shipped, its file lost); b resumes at 10 s.
    _record(tmp_path / "a.wav", 7000, 1000, on_segment=host_a.sink(call_id))
    host_a.close()
    _record(tmp_path / "b.wav", 4000, -3000, on_segment=host_b.sink(call_id), offset_ms=10_000)
    host_b.close()
    s3 = aws.client("s3", stack)
    keys = list_segments(s3, stack.recordings_bucket, call_id)
    assert {k.rsplit("-", 1)[-1] for k in keys} == {"a.wav", "b.wav"}
    assert segment_start_ms(keys[-1]) >= 10_000
    head = s3.head_object(Bucket=stack.recordings_bucket, Key=keys[0])
    assert head["ServerSideEncryption"] == "aws:kms"

    inp = ArchiveInput(
        call_id=call_id,
        recording_path=str(tmp_path / "b.wav"),
        profile="clinic_booking",
        consent=True,
        duration_s=4.0,
        started_at=datetime.now(UTC),
    )
    result = RecordingActivities(stack)._archive(inp)
    assert result.key is not None and result.deleted_local
    body = s3.get_object(Bucket=stack.recordings_bucket, Key=result.key)["Body"].read()
    caller = _stereo(from_wav(body))[:, 0]
    assert len(caller) * 4 == 14_000 * BYTES_PER_MS  # 0 → the end of the resumed part
    assert set(caller[: 7000 * 8]) == {first}
    assert set(caller[7000 * 8 : 10_000 * 8]) == {0}  # the crash's gap: silence
    assert set(caller[10_000 * 8 :]) == {second}
    assert not list_segments(s3, stack.recordings_bucket, call_id)  # folded into the archive
    assert not (tmp_path / "b.wav").exists()
    again = RecordingActivities(stack)._archive(inp)  # a retry finds it archived
    assert again.key == result.key and again.bytes == result.bytes


def test_a_refusal_deletes_every_shipped_segment(stack: Settings, tmp_path: Path) -> None:
    call_id = f"call-{uuid.uuid4()}"
    shipper = SegmentShipper(stack, processes=1)
    _record(tmp_path / "call.wav", 6000, 1000, on_segment=shipper.sink(call_id))
    shipper.close()
    s3 = aws.client("s3", stack)
    assert list_segments(s3, stack.recordings_bucket, call_id)
    inp = ArchiveInput(
        call_id=call_id,
        recording_path=str(tmp_path / "call.wav"),
        profile="clinic_booking",
        consent=False,
        duration_s=6.0,
        started_at=datetime.now(UTC),
    )
    result = RecordingActivities(stack)._delete(inp)
    assert result.key is None and "deleted" in result.note
    listing = s3.list_object_versions(Bucket=stack.recordings_bucket, Prefix=segment_prefix(call_id))
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    assert not (tmp_path / "call.wav").exists()


def test_shipped_segments_are_noted_for_erasure_and_forgotten(stack: Settings, tmp_path: Path) -> None:
    call_id, caller = f"call-{uuid.uuid4()}", "+61411000999"
    assert assign_person(stack, call_id, caller)
    shipper = SegmentShipper(stack, processes=1)
    _record(tmp_path / "call.wav", 3000, 1000, on_segment=shipper.sink(call_id))
    shipper.close()
    _, scopes, recordings = person_keys(stack).holdings(person_id(caller, "local-person-pepper"))
    assert call_id in scopes and segment_prefix(call_id) in recordings
    assert _delete_recordings(stack, recordings) == [segment_prefix(call_id)]
    assert not list_segments(aws.client("s3", stack), stack.recordings_bucket, call_id)


def test_a_segment_is_a_playable_wav() -> None:
    pcm = np.arange(160, dtype="<i2").tobytes()  # 80 stereo frames
    with wave.open(io.BytesIO(to_wav(pcm))) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 80)


def test_switchboard_recording_joins_the_segments_of_a_call_not_yet_archived(
    stack: Settings, tmp_path: Path
) -> None:
    call_id = f"call-{uuid.uuid4()}"  # no workflow: as if its history were not there yet
    shipper = SegmentShipper(stack, processes=1)
    _record(tmp_path / "call.wav", 6000, 1000, on_segment=shipper.sink(call_id))
    shipper.close()
    assert cmd_recording(argparse.Namespace(call_id=call_id), stack) == 0
    with wave.open(str(stack.home / "recordings" / f"{call_id}.wav")) as w:
        assert w.getnframes() == 6000 * 8 and w.getnchannels() == 2
