"""Deploying Switchboard: the one lock, the Lambda artifacts that ``sam build`` ships, their local twin.

- ``deploy.lock``: ``requirements.lock`` (every package, with hashes, from ``pyproject.toml``) and
  its subsets ``deploy/lambda.lock`` (the functions', for Lambda's arm64 Python 3.12) and
  ``deploy/host.lock`` (the host image's, no extras); ``python -m deploy.lock compile`` regenerates
  them (``make lock``), ``check`` says whether they are stale.
- ``deploy.artifact``: one function builds a function artifact for a platform, Lambda's or this
  machine's (the twin the tests import and invoke); ``make sam-build`` runs it through ``sam build``.
- ``deploy.invoke``: the stdlib-only runner that loads a handler from an artifact alone.

Nothing here is imported by the product: it is build tooling, like the Makefile.
"""
