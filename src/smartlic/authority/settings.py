"""The authority's one settings object, read from ``SMARTLIC_AUTHORITY_*`` environment variables.

Every field carries a description; ``docs/configuration.md`` documents each one and a test
checks that it does.

Usage::

    settings = AuthoritySettings()                       # environment + defaults
    settings = AuthoritySettings(data_dir=tmp_path)      # explicit, e.g. in tests
    settings.database                                    # sqlite:///<data_dir>/authority.sqlite3
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from smartlic.web.settings import LimitSettings

if TYPE_CHECKING:
    from smartlic.authority.services.egress import EgressPolicy
    from smartlic.authority.services.notifications import SmtpConfig

__all__ = ["ENV_PREFIX", "AuthoritySettings"]

ENV_PREFIX = "SMARTLIC_AUTHORITY_"
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogFormat = Literal["text", "json"]


class AuthoritySettings(LimitSettings):
    """Configuration of one authority (CSSM) process; the limits of ``LimitSettings`` too."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default=Path("var/authority"),
        description="Directory holding the authority's state: the default SQLite database, "
        "the key directory and demo.json. Relative paths are relative to the working directory.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database, e.g. "
        "postgresql+psycopg://user:pass@127.0.0.1/smartlic. "
        "Default: the SQLite file <data_dir>/authority.sqlite3.",
    )
    key_dir: Path | None = Field(
        default=None,
        description="Directory of the CA and response-signing keys (private keys mode 0600). "
        "Processes sharing one database must share it. Default: <data_dir>/keys.",
    )
    host: str = Field(default="127.0.0.1", description="Address `smartlic authority serve` binds.")
    port: int = Field(
        default=8000, ge=0, le=65535, description="TCP port `smartlic authority serve` binds."
    )
    workers: int = Field(
        default=1, ge=1, le=64, description="Number of uvicorn worker processes for `serve`."
    )
    log_level: LogLevel = Field(default="info", description="Log level of the server.")
    log_format: LogFormat = Field(
        default="text",
        description="`text` (uvicorn's lines) or `json` (one JSON object per line: time, level, "
        "logger, message) for log shippers.",
    )
    replay_window_s: float = Field(
        default=300.0,
        gt=0,
        description="Device protocol: a signed request whose timestamp is further than this "
        "many seconds from the authority's clock is refused as stale (docs/device-protocol.md).",
    )
    max_page_size: int = Field(
        default=500,
        ge=1,
        description="Largest `limit` a management API list (devices, events) accepts.",
    )
    portal_secret: str | None = Field(
        default=None,
        description="Key that signs portal session cookies. Unset: a random key is created "
        "once in `<data_dir>/portal-secret` (mode 0600); processes behind one address must "
        "share it.",
    )
    portal_https_only: bool = Field(
        default=False,
        description="Always mark the portal's session cookie `Secure` (the portal is served "
        "over HTTPS). Without it the cookie is `Secure` whenever the request came over HTTPS: "
        "directly, or from a `trusted_proxies` proxy that says so in `X-Forwarded-Proto`.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies in front of the "
        "authority (e.g. `127.0.0.1, 10.0.0.0/8`). Only requests from these have their "
        "`X-Forwarded-For` (the client address that portal log-in throttling counts) and "
        "`X-Forwarded-Proto` (HTTPS, for `Secure` cookies and HSTS) believed. Empty: both "
        "headers are ignored and the TCP peer is the client.",
    )
    portal_login_window_s: float = Field(
        default=900.0,
        gt=0,
        description="Portal log-in throttling: the sliding window, in seconds, in which failed "
        "log-ins are counted. No lock lasts longer than this (docs/security.md, Portal).",
    )
    portal_login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed log-ins allowed for one user from one client address in the "
        "window; the next attempt gets 429 until the oldest failure leaves the window.",
    )
    portal_login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed log-ins allowed from one client address (an IPv6 /64) in the "
        "window, whatever the usernames tried (password spraying).",
    )
    portal_login_max_failures_per_user: int = Field(
        default=50,
        ge=1,
        description="Failed log-ins allowed for one user from all addresses together in the "
        "window (guessing from many addresses). Addresses the user logged in from "
        "successfully in the last 30 days are spared this limit.",
    )

    smtp_url: str | None = Field(
        default=None,
        description="SMTP server for notification mail: `smtp://[user:pass@]host:port` "
        "(plain), `smtp+starttls://...` (STARTTLS, then AUTH) or `smtps://...` (TLS). "
        "Unset: mail stays queued in the outbox (docs/notifications.md).",
    )
    mail_from: str = Field(
        default="smartlic@localhost",
        description="`From:` address of notification mail.",
    )
    webhook_allow: str = Field(
        default="",
        description="Comma-separated host names and addresses or networks (`127.0.0.1`, "
        "`10.20.0.0/16`, `hooks.intranet`) that webhooks may be sent to although they are "
        "internal. Empty: a webhook URL whose host resolves to a loopback, private, "
        "link-local, multicast or reserved address (IPv4 or IPv6) is refused when created "
        "and at every delivery (docs/security.md, Webhooks).",
    )
    collector_sync_s: float = Field(
        default=86400.0,
        gt=0,
        description="A collector (an API-key caller acting for devices: their usage, usage "
        "files, authorization codes) not heard from for this many seconds is out of sync: "
        "the `collector-out-of-sync` "
        "notification is raised once per silence (docs/notifications.md).",
    )
    request_threads: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="How many requests one server process works on at once on its thread "
        "pool (the sync routes: every call into the services); more wait their turn. Unset: "
        "2 on SQLite (one writer at a time), 4 on PostgreSQL. One Python process runs one "
        "thread at a time, so threads beyond what the database's waits can overlap only pass "
        "the interpreter's lock back and forth: with 40 (the library default) a SQLite "
        "authorization cost the server about twice the CPU (docs/benchmarks.md).",
    )

    @property
    def threads(self) -> int:
        """``request_threads``, or the backend's default."""
        if self.request_threads is not None:
            return self.request_threads
        return 2 if self.database.startswith("sqlite") else 4

    jobs_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="How often the server's job runner looks for due jobs (reports, scans, "
        "mail, webhooks, pruning), in seconds; 0 turns the background runner off "
        "(`smartlic admin jobs run-due` still runs them).",
    )

    @field_validator("database_url", "key_dir", "smtp_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _fill_defaults(self) -> AuthoritySettings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'authority.sqlite3'}"
        if self.key_dir is None:
            self.key_dir = self.data_dir / "keys"
        return self

    @property
    def database(self) -> str:
        """The database URL, never ``None`` once validated."""
        assert self.database_url is not None
        return self.database_url

    @property
    def keys_path(self) -> Path:
        """The key directory, never ``None`` once validated."""
        assert self.key_dir is not None
        return self.key_dir

    @property
    def revocation_stamp(self) -> Path:
        """Rewritten on every revocation so that every server process and the CLI drop the
        access-token principals they cache (in the key directory, which they all share)."""
        return self.keys_path / "revoked.stamp"

    def smtp(self) -> SmtpConfig | None:
        """The parsed SMTP settings, or None when no server is configured."""
        from smartlic.authority.services.notifications import SmtpConfig  # settings stay light

        return SmtpConfig.parse(self.smtp_url, self.mail_from) if self.smtp_url else None

    def egress(self) -> EgressPolicy:
        """Where webhooks may be sent (``webhook_allow`` parsed)."""
        from smartlic.authority.services.egress import EgressPolicy  # settings stay light

        return EgressPolicy.parse(self.webhook_allow)

    @property
    def proxy_hosts(self) -> list[str]:
        """``trusted_proxies`` as a list (empty: trust no forwarding headers)."""
        return [h.strip() for h in self.trusted_proxies.split(",") if h.strip()]

    @property
    def demo_file(self) -> Path:
        """Where ``smartlic authority demo`` keeps the texts it printed (mode 0600)."""
        return self.data_dir / "demo.json"
