"""`podium.toml`: read once, validated once, handed around as frozen values.

The file is optional. Every section has named defaults, so an empty or missing file is the embedded default
configuration. pydantic validates the file here and nowhere else; an unknown key or a bad value becomes one
`ConfigError` that names the key, the value and what is allowed. The JSON schema editors use is generated
from the same models (`podium config schema`).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from podium.verification.errors import ConfigError

CONFIG_FILENAME = "podium.toml"
DEFAULT_MAX_FILE_BYTES = 2_000_000
DEFAULT_LEASE_SECONDS = 600


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateConfig(_Section):
    """How the verification gate judges an edit."""

    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES, gt=0, description="Largest file (bytes) the gate reads or writes."
    )
    python_compile: bool = Field(
        default=True, description="Also run Python's compile() to catch what tree-sitter accepts."
    )
    severity: Literal["error", "warning", "info", "hint"] = Field(
        default="error", description="Lowest severity of a new finding that rejects an edit."
    )


class MissionConfig(_Section):
    """How missions use git and leases."""

    branch_prefix: str = Field(default="podium/", min_length=1, description="Prefix of integration branches.")
    lease_seconds: int = Field(
        default=DEFAULT_LEASE_SECONDS,
        gt=0,
        le=86_400,
        description="How long a claim lasts without a heartbeat.",
    )


class PodiumConfig(_Section):
    """The whole of `podium.toml`."""

    gate: GateConfig = GateConfig()
    missions: MissionConfig = MissionConfig()


DEFAULT_CONFIG = PodiumConfig()


def load_config(root: Path, explicit: Path | None = None) -> PodiumConfig:
    """Load `explicit`, or `<root>/podium.toml` when present, or the defaults.

    Raises:
        ConfigError: the file is unreadable, not TOML, or fails validation.
    """
    path = explicit if explicit is not None else root / CONFIG_FILENAME
    if explicit is None and not path.exists():
        return DEFAULT_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], *, source: str = CONFIG_FILENAME) -> PodiumConfig:
    """Validate an already-parsed mapping; the error names every bad key."""
    try:
        return PodiumConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def _describe(err: ErrorDetails) -> str:
    key = ".".join(str(part) for part in err["loc"])
    value = json.dumps(err.get("input"), default=str)
    if err["type"] == "extra_forbidden":
        parent = PodiumConfig
        for part in err["loc"][:-1]:
            field = parent.model_fields.get(str(part))
            annotation = field.annotation if field else None
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                break
            parent = annotation
        allowed = ", ".join(sorted(parent.model_fields))
        return f"unknown key '{key}' (allowed here: {allowed})"
    return f"'{key}' = {value} is not allowed: {err['msg']}"


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of `podium.toml`, for editors (taplo, Even Better TOML)."""
    schema = PodiumConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "podium.toml"
    return schema
