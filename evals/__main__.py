"""``python -m evals run|add …``: the same as ``switchboard evals …`` (before the CLI wires it)."""

from __future__ import annotations

import argparse
import sys

from evals.cli import add_parser, cmd_evals
from switchboard.config import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["evals", *(sys.argv[1:] if argv is None else argv)])
    return cmd_evals(args, get_settings())


if __name__ == "__main__":
    sys.exit(main())
