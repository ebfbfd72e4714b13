"""Replay safety: histories of representative calls, recorded from real runs, must replay
against today's workflow code. A change that would break calls in flight fails here.

The replayer decodes through the same converter and payload codec as every client: histories
recorded before the codec hold plain JSON payloads and replay as they are;
``*encrypted*.json`` were recorded encrypted under the test key of ``tests/support/keys.py``
(re-recorded fixtures are too: with ``SWITCHBOARD_EXPORT_HISTORIES=1`` the ``temporal_client``
fixture encrypts under that key). The workers run with the tracing interceptor, so the replayer
does too, over histories recorded without trace headers and one recorded with them
(``test_one_call_is_one_trace_nested_and_without_personal_data``), and with headers through the
codec, as every client sends them now (``test_call_record_is_written_at_the_end``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.common import HeaderCodecBehavior
from temporalio.worker import Replayer

from switchboard import tracing
from switchboard.codec import ENCODING
from switchboard.temporal import data_converter
from tests.support.keys import TEST_KEYS
from workflows.worker import workflow_classes

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=list(workflow_classes()),
        data_converter=data_converter(keys=TEST_KEYS),
        interceptors=tracing.interceptor(),
        header_codec_behavior=HeaderCodecBehavior.CODEC,  # as every client: trace headers are encrypted
    )
    await replayer.replay_workflow(history)


def test_an_encrypted_history_is_among_them() -> None:
    encrypted = [p for p in HISTORIES if "encrypted" in p.stem]
    assert encrypted
    for path in encrypted:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.input.payloads[0].metadata["encoding"] == ENCODING
