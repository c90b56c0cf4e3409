"""Frozen settings built from the environment: the only reader of ``os.environ``.

Secrets are kept out of ``repr`` so that logging a Settings object never leaks them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

DEFAULT_SHOP_DIR = Path(__file__).resolve().parent  # the demo shop ships inside config/


def _on(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _yes(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


# Settings field, its environment key, and how its text becomes the field's value
_FROM_ENV: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("database_url", "HAAT_DATABASE_URL", str),
    ("public_url", "HAAT_PUBLIC_URL", str),
    ("admin_token", "HAAT_ADMIN_TOKEN", str),
    ("nlu_backend", "HAAT_NLU_BACKEND", str),
    ("log_level", "HAAT_LOG_LEVEL", str),
    ("shop_dir", "HAAT_SHOP_DIR", Path),
    ("event_loop", "HAAT_EVENT_LOOP", str),
    ("outbox_sender", "HAAT_OUTBOX_SENDER", str),
    ("sqlite_synchronous", "HAAT_SQLITE_SYNC", str.upper),
    ("simulator_owner", "HAAT_SIMULATOR_OWNER", _on),
    ("sqlite_max_pages", "HAAT_SQLITE_MAX_PAGES", int),
    ("allow_sandbox_with_live_channel", "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL", _yes),
    ("outbox_lease_seconds", "HAAT_OUTBOX_LEASE_SECONDS", float),
    ("server_timing", "HAAT_SERVER_TIMING", _on),
    ("reload_interval_seconds", "HAAT_RELOAD_INTERVAL", float),
)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///haat.db"
    public_url: str = "http://localhost:8080"
    shop_dir: Path = DEFAULT_SHOP_DIR
    # the simulator is a test tool: a message on it from an owner number gets merchant
    # powers only when this is set (HAAT_SIMULATOR_OWNER=1); anyone holding the simulator
    # token could otherwise ship or refund real channels' orders
    simulator_owner: bool = False
    admin_token: str | None = field(default=None, repr=False)
    nlu_backend: str = "builtin"
    # SQLite: NORMAL survives a crash of the server (commits are in the OS before the 200);
    # FULL also survives a power cut, at an fsync (~7 ms here) per group commit
    sqlite_synchronous: str = "NORMAL"
    # a size cap for the SQLite file, in pages (HAAT_SQLITE_MAX_PAGES): writes past it are
    # refused with a 503 as a full disk would be; None = no cap
    sqlite_max_pages: int | None = None
    event_loop: str = "uvloop"  # or "asyncio" (HAAT_EVENT_LOOP)
    # "process": REST sends (Cloud API, Twilio) run in a child process, off the event loop;
    # "inline": in the server's own loop (HAAT_OUTBOX_SENDER)
    outbox_sender: str = "process"
    # PostgreSQL: how long a server's claim on an outbox row holds; the row of a server that
    # died mid-send is taken over by another one after it (HAAT_OUTBOX_LEASE_SECONDS)
    outbox_lease_seconds: float = 60.0
    reload_interval_seconds: float = 2.0
    # trained intent-model weights, keyed by a hash of their training data (None: no cache)
    model_cache_dir: Path | None = None
    log_level: str = "INFO"
    # tests move the clock; production leaves it at 0
    clock_offset_seconds: float = 0.0
    # HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL=1: serve a sandbox-paid shop to real WhatsApp
    # users anyway (a staging number); `haat serve` refuses it otherwise
    allow_sandbox_with_live_channel: bool = False
    # HAAT_SERVER_TIMING=1: a Server-Timing header on every answer (the handler's time, the
    # run-queue wait in it; webhooks/timing.py). For haat fuzz; off, it costs nothing
    server_timing: bool = False
    # the environment itself: each plugin (channel, payment provider, intent backend) reads
    # its own keys from it through its config dataclass (config/plugins.py), so adding one
    # never edits this class
    # (a plain dict, never mutated: Settings is pickled to the sender and worker processes)
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for attr, name, convert in _FROM_ENV:
            value = env.get(name)
            if value:  # unset and empty are the same: the default
                values[attr] = convert(value)
        cache = env.get("HAAT_MODEL_CACHE")
        if cache is None:
            values["model_cache_dir"] = Path.home() / ".cache" / "haat"
        elif cache:
            values["model_cache_dir"] = Path(cache)
        values["env"] = {k: v for k, v in env.items() if v}
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.event_loop not in ("uvloop", "asyncio"):
            raise ValueError("HAAT_EVENT_LOOP must be uvloop or asyncio")
        if settings.outbox_sender not in ("process", "inline"):
            raise ValueError("HAAT_OUTBOX_SENDER must be process or inline")
        if settings.sqlite_synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError("HAAT_SQLITE_SYNC must be NORMAL, FULL or EXTRA")
        return settings

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_env(self, **keys: str | None) -> Settings:
        """These environment keys set (or, given None, unset) for the plugins."""
        env = dict(self.env)
        for key, value in keys.items():
            if value:
                env[key] = value
            else:
                env.pop(key, None)
        return replace(self, env=env)

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")

    def describe(self) -> dict[str, str]:
        """A loggable view: which secrets are set, never their values."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name == "env":
                continue
            value = getattr(self, f.name)
            if not f.repr:
                out[f.name] = "set" if value else "unset"
            elif f.name == "database_url":
                out[f.name] = _redact_url(str(value))
            else:
                out[f.name] = str(value)
        return out


def _redact_url(url: str) -> str:
    """Hide a password in an SQLAlchemy URL (``postgresql://u:secret@h/db``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
