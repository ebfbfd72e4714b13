"""Every payload Switchboard hands to Temporal, encrypted: AES-256-GCM under envelope keys from KMS.

Temporal keeps each call's inputs, results, signals and Updates in its history: phone numbers,
names, transcripts, tool arguments. ``EnvelopeCodec`` is the payload codec every client gets from
``switchboard.temporal`` (workers, voice worker, Lambdas, dashboard, CLI, evals), so the server
only ever stores ciphertext.

Envelope encryption: a *data key* (256 random bits from KMS ``GenerateDataKey``) encrypts the
payloads; KMS's encrypted copy of that data key travels in each payload's metadata
(``encryption-key``), so any process allowed to call ``kms:Decrypt`` on the key can read any payload,
written before or after any number of rotations. The current data key is replaced after
``rotate_after_s`` seconds or ``rotate_after_uses`` payloads (AES-GCM with random 96-bit nonces
stays far inside its safe bound of 2^32 messages per key); decrypted data keys are cached by their
encrypted blob for ``cache_ttl_s`` and then asked of KMS again. KMS calls are blocking boto3 calls
and run in a thread; the hot path (a cached key) is one AES-GCM operation per payload.

A person's own payloads (a call's workflows, once the caller or lead is known) are sealed under
*their* data key instead (``switchboard.people``): the codec learns the workflow id from the SDK's
serialization context (``with_context``), finds the workflow's scope and its person's key, and
names that key by id only (``encryption-person-key``), never with its envelope. Destroying the
key's one stored copy (``switchboard forget``) leaves those payloads unreadable everywhere: decoding
one raises ``PayloadErased``.

A payload without the ``binary/encrypted`` encoding (histories recorded before the codec) decodes
as it is. Keys are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from switchboard.people import scope_of

ENCODING = b"binary/encrypted"
CIPHER = b"AES256-GCM"
META_KEY = "encryption-key"  # the data key, encrypted by KMS (the envelope)
META_KEY_ID = "encryption-key-id"  # a short fingerprint of that envelope, for people reading a history
META_CIPHER = "encryption-cipher"
META_PERSON_KEY = "encryption-person-key"  # a person's data key, by id (its envelope is not here)
NONCE_BYTES = 12
# Bound to every ciphertext, and the KMS encryption context of every data key: a blob made for
# something else does not decrypt here.
_AAD = b"switchboard/payload/v1"
_KMS_CONTEXT = {"purpose": "switchboard-payload"}


class PayloadDecryptError(ValueError):
    """An encrypted payload could not be decrypted (unknown or destroyed key, or tampered data)."""


class PayloadErased(PayloadDecryptError):
    """The payload's person was erased: their data key no longer exists."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"person key {fingerprint(key_id.encode()).decode()} was destroyed (erased)")
        self.key_id = key_id


class KeyRefused(LookupError):
    """The key source will never unwrap this envelope (not its key, destroyed, disabled): a bad
    payload, unlike a throttled or unreachable KMS, which is raised as it is and can be retried."""


# KMS's answers that mean "this blob will not decrypt", as opposed to a passing fault.
_KMS_REFUSALS = {
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "AccessDeniedException",
}


class KeySource(Protocol):
    """Where data keys come from. Both methods block (network or not); the codec calls them in a thread."""

    def generate(self) -> tuple[bytes, bytes]:
        """A new data key: ``(plaintext 32 bytes, encrypted envelope)``."""
        ...

    def unwrap(self, envelope: bytes) -> bytes:
        """The plaintext of a data key from its envelope."""
        ...


class KmsKeys:
    """Data keys from AWS KMS (moto locally): ``GenerateDataKey`` under ``key_id``, ``Decrypt`` by blob."""

    def __init__(self, key_id: str, kms_client: Callable[[], Any]) -> None:
        self.key_id = key_id
        self._factory = kms_client
        self._kms: Any = None

    def _client(self) -> Any:
        if self._kms is None:
            self._kms = self._factory()  # boto3 clients are thread-safe once built
        return self._kms

    def generate(self) -> tuple[bytes, bytes]:
        out = self._client().generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=_KMS_CONTEXT
        )
        return bytes(out["Plaintext"]), bytes(out["CiphertextBlob"])

    def unwrap(self, envelope: bytes) -> bytes:
        try:
            out = self._client().decrypt(CiphertextBlob=envelope, EncryptionContext=_KMS_CONTEXT)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _KMS_REFUSALS:
                raise KeyRefused(err.response["Error"]["Code"]) from None
            raise
        return bytes(out["Plaintext"])


class StaticKeys:
    """Data keys wrapped (RFC 3394 AES key wrap) under one fixed master key, without KMS.

    For tests and the recorded replay fixtures only (``tests/histories/encrypted_*.json`` use
    ``tests/support/keys.py``'s test key). Production uses ``KmsKeys``.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master = master_key

    def generate(self) -> tuple[bytes, bytes]:
        plaintext = AESGCM.generate_key(bit_length=256)
        return plaintext, aes_key_wrap(self._master, plaintext)

    def unwrap(self, envelope: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._master, envelope)
        except (InvalidUnwrap, ValueError) as err:  # not wrapped under this master key
            raise KeyRefused(type(err).__name__) from None


class PersonKeySource(Protocol):
    """Where a person's data key is found (``switchboard.people.PersonKeys``). Both methods block."""

    def key_of_scope(self, scope: str) -> str | None:
        """The id of the key a scope's payloads are sealed with, or None (no person)."""
        ...

    def unwrap(self, key_id: str) -> bytes | None:
        """The plaintext of a person's key, or None once it has been destroyed."""
        ...


@dataclass
class _DataKey:
    envelope: bytes
    aead: AESGCM
    fingerprint: bytes
    born: float
    uses: int = 0


def fingerprint(envelope: bytes) -> bytes:
    """A short public name for a data key: the first 16 hex digits of its envelope's SHA-256."""
    return hashlib.sha256(envelope).hexdigest()[:16].encode()


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


class EnvelopeCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM over whole serialized payloads, under rotating data keys from ``keys``.

    Parameters:
        keys: where data keys come from (``KmsKeys`` in every deployment).
        rotate_after_s: age at which the current data key is replaced.
        rotate_after_uses: payloads encrypted under one data key before it is replaced.
        cache_ttl_s: how long a decrypted data key is kept in memory.
        cache_size: how many decrypted data keys are kept at most.
        people: where persons' own keys are found; without it every payload uses the shared keys.
        person_cache_s: how long a person's key (and which key a scope uses) is kept in memory: a
            key destroyed by ``forget`` stops decrypting in a running process within this time.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        rotate_after_s: float = 300.0,
        rotate_after_uses: int = 1_000_000,
        cache_ttl_s: float = 3600.0,
        cache_size: int = 1024,
        people: PersonKeySource | None = None,
        person_cache_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self.people = people
        self.person_cache_s = person_cache_s
        self._scopes: dict[str, tuple[str | None, float]] = {}
        self._persons: dict[str, tuple[AESGCM, float]] = {}
        self.rotate_after_s = rotate_after_s
        self.rotate_after_uses = rotate_after_uses
        self.cache_ttl_s = cache_ttl_s
        self.cache_size = cache_size
        self._clock = clock
        self._current: _DataKey | None = None
        self._cache: OrderedDict[bytes, _DataKey] = OrderedDict()
        # A thread lock, not an asyncio one: one codec serves clients on several loops (the Lambda
        # runtime's private loop, tests), and the slow work runs in threads anyway.
        self._lock = threading.Lock()
        self.generated = 0  # data keys asked of the key source (for tests and the benchmark)

    # -- keys ------------------------------------------------------------------------------

    def _fresh(self, key: _DataKey | None) -> bool:
        return (
            key is not None
            and key.uses < self.rotate_after_uses
            and self._clock() - key.born < self.rotate_after_s
        )

    def _rotate(self) -> _DataKey:
        with self._lock:
            if self._fresh(self._current):  # another caller rotated while this one waited
                assert self._current is not None
                return self._current
            plaintext, envelope = self.keys.generate()
            self.generated += 1
            self._current = self._admit(plaintext, envelope)
            return self._current

    def rotate(self) -> None:
        """Retire the current data key now: the next payload gets a new one."""
        with self._lock:
            self._current = None

    def _admit(self, plaintext: bytes, envelope: bytes) -> _DataKey:
        """A data key in hand, kept for decrypting (its own payloads included) until it ages out."""
        key = _DataKey(envelope, AESGCM(plaintext), fingerprint(envelope), self._clock())
        self._cache[key.envelope] = key
        self._cache.move_to_end(key.envelope)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return key

    def _cached(self, envelope: bytes) -> _DataKey | None:
        key = self._cache.get(envelope)
        if key is None or self._clock() - key.born >= self.cache_ttl_s:
            return None
        return key

    def _unwrap(self, envelope: bytes) -> _DataKey:
        with self._lock:
            key = self._cached(envelope)
            if key is not None:
                return key
            try:
                plaintext = self.keys.unwrap(envelope)
            except KeyRefused as err:  # not our key, destroyed, wrong master key: say which key only
                raise PayloadDecryptError(
                    f"data key {fingerprint(envelope).decode()} could not be unwrapped: {err}"
                ) from None
            return self._admit(plaintext, envelope)

    async def _key_for(self, envelope: bytes) -> _DataKey:
        key = self._cached(envelope)
        return key if key is not None else await asyncio.to_thread(self._unwrap, envelope)

    # -- the codec -------------------------------------------------------------------------

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key = self._current
        if not self._fresh(key):
            key = await asyncio.to_thread(self._rotate)
        assert key is not None
        key.uses += len(payloads)
        return [self._seal(key, p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for p in payloads:
            if not is_encrypted(p):
                out.append(p)  # written before the codec: as it is
                continue
            if p.metadata.get(META_CIPHER, CIPHER) != CIPHER:
                raise PayloadDecryptError(
                    f"an encrypted payload names an unknown cipher: {p.metadata[META_CIPHER]!r}"
                )
            person = p.metadata.get(META_PERSON_KEY)
            if person:
                out.append(self._open_person(await self._person_key(person.decode()), person, p))
                continue
            envelope = p.metadata.get(META_KEY)
            if not envelope:
                raise PayloadDecryptError("an encrypted payload names no data key")
            out.append(self._open(await self._key_for(envelope), p))
        return out

    @staticmethod
    def _seal(key: _DataKey, payload: Payload) -> Payload:
        meta = {META_KEY: key.envelope, META_KEY_ID: key.fingerprint}
        return _sealed(key.aead, payload, _AAD, meta)

    @staticmethod
    def _open(key: _DataKey, payload: Payload) -> Payload:
        return _opened(key.aead, payload, _AAD, key.fingerprint)

    def _open_person(self, aead: AESGCM, key_id: bytes, payload: Payload) -> Payload:
        return _opened(aead, payload, _AAD + b"/person/" + key_id, fingerprint(key_id))

    # -- persons' keys ---------------------------------------------------------------------

    def with_context(self, context: SerializationContext) -> EnvelopeCodec:
        """The codec for one workflow's payloads: sealed under its person's key when it has one."""
        workflow_id = getattr(context, "workflow_id", None)
        if self.people is None or not workflow_id:
            return self
        return _PersonCodec(self, scope_of(workflow_id))

    def _fresh_entry(self, born: float) -> bool:
        return self._clock() - born < self.person_cache_s

    async def _scope_key(self, scope: str) -> str | None:
        assert self.people is not None
        hit = self._scopes.get(scope)
        if hit is not None and self._fresh_entry(hit[1]):
            return hit[0]
        key_id = await asyncio.to_thread(self.people.key_of_scope, scope)
        self._scopes[scope] = (key_id, self._clock())
        return key_id

    async def _person_key(self, key_id: str) -> AESGCM:
        hit = self._persons.get(key_id)
        if hit is not None and self._fresh_entry(hit[1]):
            return hit[0]
        if self.people is None:
            raise PayloadDecryptError("a person's payload, and no people table to find their key")
        plaintext = await asyncio.to_thread(self.people.unwrap, key_id)
        if plaintext is None:
            self._persons.pop(key_id, None)
            raise PayloadErased(key_id)
        aead = AESGCM(plaintext)
        self._persons[key_id] = (aead, self._clock())
        return aead

    def forget_cached(self, key_id: str) -> None:
        """Drop a person's key from this process's memory (``forget`` calls it on its own codec)."""
        self._persons.pop(key_id, None)
        self._scopes = {s: v for s, v in self._scopes.items() if v[0] != key_id}

    async def encode_for(self, scope: str, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal ``payloads`` of ``scope``: under its person's key, or the shared keys if it has none."""
        key_id = await self._scope_key(scope)
        if key_id is None:
            return await self.encode(payloads)
        aead = await self._person_key(key_id)
        ref = key_id.encode()
        meta = {META_PERSON_KEY: ref, META_KEY_ID: fingerprint(ref)}
        return [_sealed(aead, p, _AAD + b"/person/" + ref, meta) for p in payloads]


class _PersonCodec(EnvelopeCodec):
    """``EnvelopeCodec`` bound to one scope: encodes under its person's key, shares all the state."""

    def __init__(self, parent: EnvelopeCodec, scope: str) -> None:
        self._parent = parent
        self._scope = scope

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._parent.encode_for(self._scope, payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._parent.decode(payloads)

    def with_context(self, context: SerializationContext) -> EnvelopeCodec:  # type: ignore[override]
        return self._parent.with_context(context)  # a view of a view would be the parent's anyway


def _sealed(aead: AESGCM, payload: Payload, aad: bytes, meta: dict[str, bytes]) -> Payload:
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, payload.SerializeToString(), aad)
    return Payload(metadata={"encoding": ENCODING, META_CIPHER: CIPHER, **meta}, data=nonce + sealed)


def _opened(aead: AESGCM, payload: Payload, aad: bytes, name: bytes) -> Payload:
    data = payload.data
    try:
        plain = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], aad)
    except Exception:
        raise PayloadDecryptError(f"payload under data key {name.decode()} failed authentication") from None
    return Payload.FromString(plain)
