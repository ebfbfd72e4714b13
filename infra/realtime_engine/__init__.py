"""A local stand-in for OpenAI Realtime (GA), offline, on real speech.

Serves ``ws://127.0.0.1:8765/v1/realtime?model=…`` (and ``/realtime``) with the GA event
names and shapes only. Run it with ``python -m infra.realtime_engine``; the stack starts it
through ``service(settings)`` beside the Piper speech process it needs.

How a turn flows: ``input_audio_buffer.append`` → Silero VAD (``audio_in``) → ``speech_started``
/ ``speech_stopped`` on the input-audio clock → the user item is committed and transcribed by
Whisper tiny.en on a worker thread (started speculatively as soon as the caller pauses) →
the dialogue policy (``policy``) decides what to say and which function to call → Piper
speech, encoded to the session's format, streamed at real-time pace (``responder``).

Modules: ``server`` (socket, handshake checks, effects), ``session`` (the protocol state
machine, no I/O), ``config`` (session defaults, partial updates, validation), ``client_events``
(frame checks), ``conversation`` and ``response_events`` (items and the response sequence),
``audio_in`` (buffer + turn detection), ``responder`` (pacing), ``policy`` / ``args`` /
``spoken`` / ``phrasing`` (the dialogue policy), ``faults`` (latency profile, session cap and
fault injection via the query string or ``SWITCHBOARD_ENGINE_*``), ``armory`` (plans armed for
the next connections through ``/control``) and ``control`` (its client).

Public entry: ``service(settings)`` starts the engine; ``arm`` / ``disarm`` / ``armed`` drive
its ``/control`` routes from tests, so one call (or one reconnect) gets a drop, a refusal or a
short session cap while every connection uses the same URL::

    await arm(engine_url, fault="drop_at_ms:1500")  # the next connection is cut 1.5 s in
    await arm(engine_url, refuse=True, connections=2)  # the two after it get HTTP 503

What the dialogue policy is not: it is a deterministic keyword-and-schema machine, not a
language model. It follows no instructions except ``Say exactly: "…"``; it does not read
``instructions`` for persona, tone or language (English only). It chooses a tool by word
overlap with the tool's name, description and parameter names, so tools with similar words
are confused and paraphrases with no shared word are refused. Arguments are filled by kind
(date, time, digits, phone, integer, name, email, enum, boolean, free text) from the schema
type, format and property *name*; a property whose name does not reveal its kind is free text
and is filled only when it was just asked for. Times without am/pm between 1 and 7 are taken
as afternoon; dates are the next future occurrence relative to the engine's local date. Yes
and no are read from common phrasings ("that's fine", "go ahead", "no problem" / "I'd rather
not", "don't record"), a refusal word winning over an affirmative one. One tool call per
response, no parallel calls; ending or handing over the call is the function call alone, and
the one spoken line comes after its output (its ``say``). Free
text answers outside the tools get a refusal listing what the tools do. ``audio/pcma``, text
input images, MCP tools, ``idle_timeout_ms``, noise reduction and ``conversation: "none"``
out-of-band responses are not implemented (the last is answered from the main conversation).
"""

from __future__ import annotations

from infra.realtime_engine.control import ControlError, arm, armed, disarm
from infra.realtime_engine.service import service

__all__ = ["ControlError", "arm", "armed", "disarm", "service"]
