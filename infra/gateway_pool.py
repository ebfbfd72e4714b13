"""Lambda's execution environments for the local gateway: one process each, one invocation at a time.

An environment is a process that imports the function's handler once, with the function's
environment variables, and then runs invocations one after another, as a warm Lambda does: the
module-level state (the event loop, the Temporal client, Powertools' ``app``, logger and metrics)
is its own. A function's ``FunctionPool`` keeps up to ``max_concurrency`` of them (Lambda's
concurrency per function), starting ``warm`` at boot and more on demand; a request waits for the
first environment that is free, never behind one busy invocation while another environment idles.

Environments are forked from a fork server that has already imported what every handler uses
(Powertools, the Temporal client, boto3, pydantic, twilio, phonenumbers: ``PRELOAD``), so a cold
start costs the handler module's own import (~0.3 s of CPU) rather than a fresh interpreter's
(~2.5 s), much as Lambda's runtime and layers are already in place. Nothing in the fork server has
a thread, a socket or an event loop: each environment makes its own on import.

An invocation that overruns the function's timeout is abandoned and its environment is killed and
replaced, as Lambda does after ``Task timed out``; an environment that dies mid-invocation fails
that invocation only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from infra.gateway_events import LambdaContext

log = logging.getLogger("infra.gateway")

Handler = Callable[[dict[str, Any], Any], Any]

# What the handlers import, loaded once in the fork server (modules only: no state is created).
PRELOAD = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.parameters",
    "boto3",
    "phonenumbers",
    "pydantic",
    "temporalio.client",
    "temporalio.contrib.pydantic",
    "twilio.request_validator",
    "twilio.rest",
    "infra.gateway",  # the gateway's own module: multiprocessing re-runs the main module in each child
)
_processes = multiprocessing.get_context("forkserver")
_processes.set_forkserver_preload(list(PRELOAD))


class InvocationTimeout(TimeoutError):
    """The handler ran past the function's timeout (its environment was recycled)."""


class InvocationFailed(RuntimeError):
    """The handler raised, or its environment died; the message carries the traceback."""


def _environment_main(conn: Connection, handler_path: str, env: dict[str, str]) -> None:
    """The environment process: import the handler once (Lambda's init phase), then serve invocations."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the gateway; its exit ends this (EOF)
    os.environ.update(env)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        module_name, _, attr = handler_path.replace("/", ".").rpartition(".")
        handler: Handler = getattr(importlib.import_module(module_name), attr)
    except BaseException:
        conn.send(("init_error", traceback.format_exc()))
        return
    conn.send(("ready", None))
    while True:
        try:
            event, context = conn.recv()
        except (EOFError, OSError):  # the gateway is gone: so is this environment
            return
        try:
            reply: tuple[str, Any] = ("ok", handler(event, context))
        except Exception:
            reply = ("error", traceback.format_exc())
        conn.send(reply)


class ExecutionEnvironment:
    """One environment process and the pipe the gateway talks to it through."""

    def __init__(self, function: str, handler_path: str, env: dict[str, str], number: int) -> None:
        self.name = f"{function}#{number}"
        self._conn, child = _processes.Pipe()
        self.process = _processes.Process(
            target=_environment_main, args=(child, handler_path, env), name=f"lambda-{self.name}", daemon=True
        )
        self.process.start()
        child.close()
        self._reply: asyncio.Future[tuple[str, Any]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set while its pipe is watched
        self._gone = False

    def _on_readable(self) -> None:
        future, self._reply = self._reply, None
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            message = ("error", f"the execution environment {self.name} exited")
            self._gone = True
            self._stop_reading()
        if future is not None and not future.done():
            future.set_result(message)

    def _stop_reading(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self._conn.fileno())

    async def _receive(self, timeout_s: float) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        self._reply = loop.create_future()
        if self._loop is None:
            loop.add_reader(self._conn.fileno(), self._on_readable)
            self._loop = loop
        return await asyncio.wait_for(self._reply, timeout_s)

    async def ready(self, timeout_s: float) -> None:
        kind, detail = await self._receive(timeout_s)
        if kind != "ready":
            raise InvocationFailed(f"{self.name} failed to initialise:\n{detail}")

    async def invoke(self, event: dict[str, Any], context: LambdaContext, timeout_s: float) -> Any:
        try:
            self._conn.send((event, context))
        except OSError as err:  # the process is gone
            self._gone = True
            raise InvocationFailed(f"the execution environment {self.name} is gone: {err}") from err
        try:
            kind, payload = await self._receive(timeout_s)
        except TimeoutError as err:
            raise InvocationTimeout(f"{self.name} timed out after {timeout_s:.1f} s") from err
        if kind != "ok":
            raise InvocationFailed(str(payload))
        return payload

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.is_alive()

    def kill(self) -> None:
        self._gone = True
        self._stop_reading()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=2)
        self._conn.close()


class FunctionPool:
    """A function's environments: ``warm`` started at boot, up to ``max_concurrency`` on demand."""

    def __init__(
        self,
        name: str,
        handler_path: str,
        env: dict[str, str],
        *,
        max_concurrency: int,
        warm: int = 1,
        init_timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self.handler_path = handler_path
        self.env = env
        self.max_concurrency = max(1, max_concurrency)
        self.warm = max(0, min(warm, self.max_concurrency))
        self.init_timeout_s = init_timeout_s
        self._idle: asyncio.Queue[ExecutionEnvironment] | None = None
        self._all: set[ExecutionEnvironment] = set()
        self._starting: set[asyncio.Task[None]] = set()
        self._numbered = 0

    @property
    def size(self) -> int:
        """Environments running or starting."""
        return len(self._all) + len(self._starting)

    def _queue(self) -> asyncio.Queue[ExecutionEnvironment]:
        if self._idle is None:
            self._idle = asyncio.Queue()
        return self._idle

    async def start(self) -> None:
        """Start the warm environments (Lambda's provisioned concurrency) and wait until they are ready."""
        await asyncio.gather(*(self._new_environment() for _ in range(self.warm)))

    def _new_environment(self) -> asyncio.Task[None]:
        self._numbered += 1
        task = asyncio.create_task(self._add(self._numbered), name=f"init-{self.name}#{self._numbered}")
        self._starting.add(task)
        task.add_done_callback(self._started)
        return task

    def _started(self, task: asyncio.Task[None]) -> None:
        self._starting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an execution environment of %s failed to start: %s", self.name, task.exception())

    async def _add(self, number: int) -> None:
        began = time.monotonic()
        environment = await asyncio.to_thread(
            ExecutionEnvironment, self.name, self.handler_path, self.env, number
        )
        try:
            await environment.ready(self.init_timeout_s)
        except BaseException:
            environment.kill()
            raise
        log.info("%s initialised in %.2f s", environment.name, time.monotonic() - began)
        self._all.add(environment)
        self._queue().put_nowait(environment)

    def _scale_up(self) -> None:
        if self.size < self.max_concurrency:
            self._new_environment()

    async def acquire(self, timeout_s: float) -> ExecutionEnvironment:
        """The first free environment; starts another (a cold start) when all are busy."""
        idle = self._queue()
        while True:
            if idle.empty():
                self._scale_up()
            environment = await asyncio.wait_for(idle.get(), timeout_s)
            if environment.alive:
                return environment
            self._discard(environment)

    def _discard(self, environment: ExecutionEnvironment) -> None:
        self._all.discard(environment)
        environment.kill()

    async def invoke(
        self,
        event: dict[str, Any],
        context: Callable[[], LambdaContext],
        *,
        wait_s: float,
        timeout_s: float,
    ) -> Any:
        """Run one invocation on the first free environment (waiting at most ``wait_s`` for one:
        ``TimeoutError``). ``context`` is made when the invocation starts, so its remaining time is
        the function's. Raises ``InvocationTimeout`` or ``InvocationFailed`` as the handler fares."""
        environment = await self.acquire(wait_s)
        # Shielded: a request abandoned by its client must not leave the environment mid-invocation.
        return await asyncio.shield(asyncio.create_task(self._run(environment, event, context(), timeout_s)))

    async def _run(
        self,
        environment: ExecutionEnvironment,
        event: dict[str, Any],
        context: LambdaContext,
        timeout_s: float,
    ) -> Any:
        healthy = False
        try:
            result = await environment.invoke(event, context, timeout_s)
            healthy = True
            return result
        except InvocationFailed:
            healthy = environment.alive  # the handler raised: the environment itself is fine
            raise
        finally:
            if healthy:
                self._queue().put_nowait(environment)
            else:  # timed out (still running) or died: Lambda resets it
                self._discard(environment)

    def close(self) -> None:
        for task in list(self._starting):
            task.cancel()
        for environment in list(self._all):
            self._discard(environment)
