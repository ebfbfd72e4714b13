"""The fixed key of the encrypted replay fixtures (``tests/histories/encrypted_*.json``).

A test key, public on purpose: it wraps the data keys of histories recorded by
``tests/workflows/test_privacy.py`` (and any fixture re-recorded) with ``SWITCHBOARD_EXPORT_HISTORIES=1``, so the replay test can
decrypt them without KMS. Never used outside tests.
"""

from __future__ import annotations

from switchboard.codec import StaticKeys

TEST_MASTER_KEY = b"switchboard test key: never use!"  # 32 bytes
TEST_KEYS = StaticKeys(TEST_MASTER_KEY)
