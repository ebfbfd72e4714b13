"""Run one Lambda handler from an artifact directory alone, as Lambda's Python runtime would.

Started as ``python -I -S -B deploy/invoke.py HANDLER ARTIFACT RUNTIME``: no site-packages, no
``PYTHON*`` variables, no bytecode written, and ``sys.path`` is the artifact (``/var/task``), then
the runtime's own packages (boto3), then the standard library. It imports the handler once (the
init phase) and prints one JSON line: the import time and every module file it loaded from outside
those three places (none, for a self-contained artifact). Then, for each JSON line on stdin
(``{"event": …, "context": {…}}``), it invokes the handler and prints ``{"result": …}`` or
``{"error": "<traceback>"}``, as one warm execution environment does.

Standard library only: nothing of the project may be importable from here but the artifact.
"""

import json
import os
import sys
import sysconfig
import time
import traceback
import uuid
from typing import Any


class Context:
    """The Lambda context object the handlers (Powertools) read."""

    def __init__(self, function_name: str = "", memory_mb: int = 512, timeout_s: float = 10.0) -> None:
        function_name = function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"twin/{function_name}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def foreign_modules(allowed: list[str]) -> list[str]:
    """Files of loaded modules that are not under ``allowed`` (the artifact, the runtime, the stdlib)."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) if name not in ("__main__", "__mp_main__") else None
        if path and not any(path.startswith(prefix) for prefix in allowed):
            found.append(path)
    return sorted(found)


def main() -> None:
    handler_path, artifact, runtime = sys.argv[1:4]
    sys.path[:0] = [artifact, runtime]
    stdlib = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]]
    out = sys.stdout
    sys.stdout = sys.stderr  # the handlers' own prints (Powertools' metrics) stay off the protocol
    started = time.perf_counter()
    try:
        module_name, _, attr = handler_path.rpartition(".")
        module = __import__(module_name, fromlist=[attr])
        handler = getattr(module, attr)
    except BaseException:
        print(json.dumps({"init_error": traceback.format_exc()}), file=out, flush=True)
        return
    init_s = time.perf_counter() - started
    loaded = {
        "init_s": init_s,
        "module_file": module.__file__,
        "foreign": foreign_modules([artifact, runtime, *stdlib]),
        "python": "{}.{}".format(*sys.version_info[:2]),
    }
    print(json.dumps(loaded), file=out, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        context = Context(**request.get("context", {}))
        reply: dict[str, Any]
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception:
            reply = {"error": traceback.format_exc()}
        print(json.dumps(reply, default=str), file=out, flush=True)


if __name__ == "__main__":
    main()
