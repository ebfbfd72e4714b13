"""The dashboard's own settings: ``SWITCHBOARD_DASHBOARD_*`` environment variables with local defaults."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.config import LOCAL_HOST


class DashboardSettings(BaseSettings):
    """Sign-in and sessions. Set a real password (and a session secret, so sessions survive restarts)
    anywhere but a developer's machine."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_DASHBOARD_", extra="ignore")

    password: SecretStr = Field(
        default=SecretStr("switchboard-local"), description="The supervisors' sign-in password."
    )
    session_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="Signs session cookies; random per process unless set.",
    )
    session_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="A session expires this long after sign-in."
    )
    bind: str = LOCAL_HOST
    poll_s: float = Field(default=0.5, gt=0, description="How often the server reads live calls' state.")
    recording_url_ttl_s: int = Field(default=300, ge=10, le=3600)
    secure_cookies: bool = Field(default=False, description="Set behind HTTPS.")
