"""How a plugin (channel, payment provider, intent backend) declares its own settings.

A plugin's configuration is a frozen dataclass whose fields are declared with
:func:`option`: each names the environment key it is read from, whether it is a secret
and what it is for. ``Settings`` keeps the environment it was built from
(``Settings.env``); the composition root reads each registered plugin's dataclass from it
with :func:`load`. So adding a plugin never edits ``Settings``, and ``haat check``, log
redaction and ``describe`` learn the plugin's keys from :func:`options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Option:
    """One environment key a plugin reads."""

    env: str
    secret: bool = False
    doc: str = ""
    default: str | None = None


def option(env: str, default: str | None = None, *, secret: bool = False,
           doc: str = "") -> Any:
    """A config-dataclass field read from ``env`` (secrets stay out of ``repr``)."""
    return field(default=default, repr=not secret,
                 metadata={"option": Option(env, secret, doc, default)})


def options(config_type: type[Any]) -> tuple[Option, ...]:
    """The keys ``config_type`` reads, in declaration order."""
    if not is_dataclass(config_type):
        raise TypeError(f"{config_type!r} is not a config dataclass")
    return tuple(f.metadata["option"] for f in fields(config_type) if "option" in f.metadata)


def load(config_type: type[T], env: Mapping[str, str]) -> T:
    """Build ``config_type`` from ``env``; an empty value counts as unset."""
    values: dict[str, object] = {}
    for f in fields(config_type):  # type: ignore[arg-type]
        spec = f.metadata.get("option")
        if spec is None:
            continue
        value = env.get(spec.env)
        if value:
            values[f.name] = value
        elif f.default is MISSING:
            values[f.name] = None
    return config_type(**values)


def secret_values(config: object) -> list[str]:
    """The values of ``config``'s secret options that are set (for log redaction)."""
    out: list[str] = []
    for f in fields(config):  # type: ignore[arg-type]
        spec = f.metadata.get("option")
        value = getattr(config, f.name)
        if spec is not None and spec.secret and isinstance(value, str) and value:
            out.append(value)
    return out


def describe(config: object) -> dict[str, str]:
    """A loggable view keyed by environment name: which secrets are set, never values."""
    out: dict[str, str] = {}
    for f in fields(config):  # type: ignore[arg-type]
        spec = f.metadata.get("option")
        if spec is None:
            continue
        value = getattr(config, f.name)
        out[spec.env] = ("set" if value else "unset") if spec.secret else str(value)
    return out
