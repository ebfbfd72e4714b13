"""One place for configuration: environment variables with local defaults.

Every default points at the local stack that ``switchboard up`` starts on 127.0.0.1.
Pointing Switchboard at Temporal Cloud, AWS, OpenAI or Twilio is a matter of setting the
variables below; no code path changes.

Switchboard's own settings read ``SWITCHBOARD_*``; the standard variables of each service
(``TEMPORAL_ADDRESS``, ``AWS_ENDPOINT_URL``, ``OPENAI_API_KEY``, ``TWILIO_*``) keep their usual names.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.costs import PriceTable

LOCAL_HOST = "127.0.0.1"

_PRICES = PriceTable()  # the defaults of the SWITCHBOARD_PRICE_* settings

# Values of AWS_ENDPOINT_URL that mean "the real AWS endpoints, no override".
_REAL_AWS = {"", "aws", "none"}


def _env(name: str) -> Any:
    """A field whose environment variable has a standard (non-prefixed) name."""
    return AliasChoices(name)


class Ports(BaseSettings):
    """Local ports (all bound to 127.0.0.1). Each can be moved with ``SWITCHBOARD_PORT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_PORT_", extra="ignore")

    temporal: int = 7233
    temporal_ui: int = 8233
    moto: int = 4566
    gateway: int = 3000
    voice: int = 8080  # the voice load balancer (haproxy) when more than one voice worker runs
    voice_workers: int = 8081  # the first voice worker behind it; the next on 8082, …
    realtime: int = 8765
    phone: int = 8766
    tts: int = 8767
    dashboard: int = 8000
    codec: int = 8234
    # Metrics: Prometheus itself, and the Temporal SDK's endpoint of each worker process (0: none).
    prometheus: int = 9090
    temporal_metrics: int = 9101
    worker_sdk_metrics: int = 9102
    voice_sdk_metrics: int = 9103


class Settings(BaseSettings):
    """Switchboard's settings. Construct with ``get_settings()``; tests may build their own."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path(".local"), description="State, logs and local files of the stack.")
    host: str = Field(default="local", description="This machine's name; voice task queue is voice-<host>.")
    bind_address: str = Field(
        default=LOCAL_HOST,
        description="Where the voice worker listens: 0.0.0.0 in a container behind a load balancer.",
    )
    voice_workers: int = Field(
        default=2, ge=1, le=16, description="Voice workers `switchboard up` starts (behind haproxy when > 1)."
    )
    voice_drain_timeout_s: float | None = Field(
        default=None,
        description="How long a voice worker given SIGTERM waits for its calls to end (default: the "
        "longest profile's maximum call length plus a minute); the calls still live are then resumed elsewhere.",
    )
    live_calls_service: str = Field(
        default="",
        description="The ECS service whose LiveCalls metric this voice worker sends (none locally).",
    )

    # Temporal: local dev server by default, Temporal Cloud by setting the three standard variables.
    temporal_address: str = Field(default=f"{LOCAL_HOST}:7233", validation_alias=_env("TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field(default="default", validation_alias=_env("TEMPORAL_NAMESPACE"))
    temporal_api_key: SecretStr | None = Field(default=None, validation_alias=_env("TEMPORAL_API_KEY"))
    temporal_ui_url: str = Field(default=f"http://{LOCAL_HOST}:8233")
    task_queue: str = Field(default="calls", description="Task queue of the workflow worker.")

    # AWS: moto by default; AWS_ENDPOINT_URL=aws (or empty) means the real endpoints.
    aws_endpoint_url: str | None = Field(
        default=f"http://{LOCAL_HOST}:4566", validation_alias=_env("AWS_ENDPOINT_URL")
    )
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    recordings_bucket: str = "switchboard-recordings"
    recordings_kms_alias: str = "alias/switchboard-recordings"
    idempotency_table: str = "switchboard-idempotency"
    call_records_table: str = Field(
        default="switchboard-call-records", description="A record per finished call (call_record_store.py)."
    )

    # Temporal payloads: AES-256-GCM under data keys from this KMS key (switchboard/codec.py).
    payload_kms_alias: str = Field(
        default="alias/switchboard-payloads", description="KMS key of the payloads' data keys."
    )
    payload_key_rotate_s: float = Field(default=300.0, description="A data key encrypts for this long.")
    payload_key_max_uses: int = Field(default=1_000_000, description="…and for this many payloads at most.")
    payload_key_cache_s: float = Field(default=3600.0, description="A decrypted data key is kept this long.")
    # A data key per person (switchboard/people.py): erasure destroys it. "" turns person keys off.
    people_table: str = Field(default="switchboard-people", description="The people table (DynamoDB).")
    person_pepper: SecretStr = Field(
        default=SecretStr("local-person-pepper"),
        description="Keys the HMAC that names a person by their number (Secrets Manager in AWS).",
    )
    person_key_cache_s: float = Field(
        default=60.0,
        description="A person's key is kept in memory this long (erasure reaches a process by then).",
    )
    # The codec server the Temporal UI decodes through (``switchboard codec-server``).
    codec_secret: SecretStr = Field(
        default=SecretStr(""),  # none by default: it decrypts every history, so nobody gets a known one
        description="The codec server's bearer token (Authorization: Bearer <secret>).",
    )
    codec_origins: str = Field(
        default=f"http://{LOCAL_HOST}:8233,http://localhost:8233",
        description="Origins (comma-separated) allowed to call it: the Temporal UI.",
    )
    codec_ui_path_token: SecretStr = Field(
        default=SecretStr(""),  # off: production's codec server takes the Authorization header only
        description=(
            "The local stack only: the codec server also takes this token as the first path segment "
            "(/<token>/decode), for the dev server's UI, which sends no Authorization header."
        ),
    )
    history_retention_days: int = Field(
        default=30,
        ge=1,
        description=(
            "Days a closed call's Temporal history and its recording are kept: the local namespace's "
            "retention and the recordings' S3 expiry (template.yaml's RetentionDays in AWS)."
        ),
    )
    mail_sender: str = "agent@switchboard.local"
    business_timezone: str = Field(
        default="Australia/Sydney",
        description="The business's zone: the dashboard's dates and the weekly digest's Monday 08:00.",
    )
    review_digest_to: str = Field(
        default="team@switchboard.local",
        description="Who gets the weekly review digest (comma-separated addresses; empty: no digest).",
    )
    dashboard_url: str = Field(
        default=f"http://{LOCAL_HOST}:8000", description="The dashboard's address, for links in emails."
    )

    # OpenAI Realtime: the local engine by default.
    realtime_url: str = f"ws://{LOCAL_HOST}:8765/v1/realtime?model=gpt-realtime"
    realtime_reconnect_attempts: int = Field(
        default=4, description="New sessions tried after a Realtime session fails, before a human takes over."
    )
    realtime_session_cap_s: float = Field(
        default=3600.0, description="The Realtime session's maximum duration (OpenAI's: 60 minutes)."
    )
    realtime_rollover_before_s: float = Field(
        default=300.0, description="A session this close to its cap is replaced at the next quiet moment."
    )
    realtime_replay_items: int = Field(
        default=40, description="Conversation items replayed to a new session; older ones are summarised."
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))

    # What a call costs (switchboard/costs.py), in US dollars. The model's defaults are OpenAI's
    # published gpt-realtime prices per 1M tokens, the phone's Twilio's US per-minute rates (see
    # the README's "Operating in production" for the sources and the date they were read).
    price_model: str = Field(default=_PRICES.model, description="The model the prices are for.")
    price_text_input: Decimal = _PRICES.text_input
    price_text_cached_input: Decimal = _PRICES.text_cached_input
    price_text_output: Decimal = _PRICES.text_output
    price_audio_input: Decimal = _PRICES.audio_input
    price_audio_cached_input: Decimal = _PRICES.audio_cached_input
    price_audio_output: Decimal = _PRICES.audio_output
    price_phone_inbound_per_min: Decimal = _PRICES.phone_inbound_per_min
    price_phone_outbound_per_min: Decimal = _PRICES.phone_outbound_per_min

    # Twilio: the local phone network by default (its REST API speaks Twilio's wire format).
    twilio_account_sid: str = Field(
        default="AC00000000000000000000000000000000", validation_alias=_env("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr = Field(
        default=SecretStr("local-auth-token"), validation_alias=_env("TWILIO_AUTH_TOKEN")
    )
    twilio_api_url: str | None = Field(
        default=f"http://{LOCAL_HOST}:8766",
        validation_alias=AliasChoices("TWILIO_API_URL", "SWITCHBOARD_TWILIO_API_URL"),
    )
    tts_url: str = Field(default=f"http://{LOCAL_HOST}:8767", description="The local Piper speech process.")
    twilio_from_number: str = Field(default="+61255550100", validation_alias=_env("TWILIO_FROM_NUMBER"))

    # Public URLs that Twilio and callers reach (behind a load balancer in production).
    public_voice_url: str = f"ws://{LOCAL_HOST}:8080/media-stream"
    public_api_url: str = f"http://{LOCAL_HOST}:3000"
    voice_webhook_url: str = Field(
        default=f"http://{LOCAL_HOST}:3000/twilio/voice",
        description="Where the phone number's incoming calls are posted (the inbound_call function).",
    )
    stream_secret: SecretStr = Field(
        default=SecretStr("local-stream-secret"), description="Signs the media stream's call token."
    )

    calling_hours: Literal["au_telemarketing", "always"] = Field(
        default="au_telemarketing", description="When outbound callbacks may dial, in the lead's time zone."
    )

    ports: Ports = Field(default_factory=Ports)

    @field_validator("twilio_api_url", mode="after")
    @classmethod
    def _empty_is_real_twilio(cls, value: str | None) -> str | None:
        return value or None

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, for a child process to read back the same."""
        env: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if name == "ports":
                env |= {f"SWITCHBOARD_PORT_{k.upper()}": str(v) for k, v in value.model_dump().items()}
                continue
            alias = info.validation_alias
            key = alias.choices[0] if isinstance(alias, AliasChoices) else f"SWITCHBOARD_{name.upper()}"
            if value is None:
                if name in ("aws_endpoint_url", "twilio_api_url"):
                    env[str(key)] = ""  # explicitly the real service, not the local default
                continue
            env[str(key)] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return env

    @property
    def aws_endpoint(self) -> str | None:
        """The endpoint override for boto3, or None for the real AWS endpoints."""
        url = (self.aws_endpoint_url or "").strip()
        return None if url.lower() in _REAL_AWS else url

    @property
    def is_local_aws(self) -> bool:
        return self.aws_endpoint is not None

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def prices(self) -> PriceTable:
        """The price table: ``SWITCHBOARD_PRICE_<NAME>`` for each of its fields."""
        return PriceTable(**{name: getattr(self, f"price_{name}") for name in PriceTable.model_fields})

    @property
    def voice_task_queue(self) -> str:
        return f"voice-{self.host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
