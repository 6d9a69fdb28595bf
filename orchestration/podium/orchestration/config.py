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
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from podium.orchestration.hooks import (
    DEFAULT_FORBIDDEN_PATHS,
    DEFAULT_HOOK_TIMEOUT_S,
    CommandHookSpec,
    HookEventName,
    HookSettings,
    Phase,
    build_hooks,
)
from podium.verification.catalog import DEFAULT_LANGUAGES, DEFAULT_SOURCES
from podium.verification.errors import ConfigError
from podium.verification.languages import LANGUAGES
from podium.verification.policy import DEFAULT_ALLOW_RULES, DEFAULT_BLOCKING_RULES, DEFAULT_DENY_RULES

CONFIG_FILENAME = "podium.toml"
DEFAULT_MAX_FILE_BYTES = 2_000_000
DEFAULT_LEASE_SECONDS = 600


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_SOURCE_SECONDS = 600.0


class SourceConfig(_Section):
    """One diagnostics source: a built-in one's overrides, or a new source (then `commands` is required).

    Unset keys keep the built-in source's value (or the default of a new source).
    """

    kind: Literal["lsp", "cli"] | None = Field(
        default=None, description="lsp: a language server over stdio; cli: a linter command with JSON output."
    )
    commands: list[list[str]] | None = Field(
        default=None,
        min_length=1,
        description="Candidate argv lists, the first whose program is found wins. A cli command may use "
        "{files} and {root}.",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SOURCE_SECONDS,
        description="Seconds one check may take on a running server.",
    )
    start_timeout: float | None = Field(
        default=None, gt=0, le=MAX_SOURCE_SECONDS, description="Seconds a server may take to start."
    )
    diagnostics: Literal["auto", "pull", "push"] | None = Field(
        default=None, description="How diagnostics are obtained from a language server."
    )
    settle: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description="Quiet seconds after which unversioned pushed diagnostics count as final.",
    )
    settings: dict[str, Any] | None = Field(
        default=None, description="Answers to the server's workspace/configuration requests, by section."
    )
    initialization_options: dict[str, Any] | None = Field(
        default=None, description="initializationOptions sent with initialize."
    )
    output_format: Literal["ruff", "pyright"] | None = Field(
        default=None, description="How a cli source's JSON output reads."
    )

    @field_validator("commands")
    @classmethod
    def _commands_name_programs(cls, commands: list[list[str]] | None) -> list[list[str]] | None:
        for command in commands or []:
            if not command or not command[0].strip():
                raise ValueError("every command is a non-empty argv list whose first item names a program")
        return commands


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
    diagnostics: bool = Field(
        default=True, description="Ask language servers and linters too (false: the syntax check only)."
    )
    on_source_failure: Literal["reject", "accept"] = Field(
        default="reject",
        description="A diagnostics source that crashed or timed out: reject the edit as unverified, or "
        "accept it with a note.",
    )
    require_attribution: bool = Field(
        default=True,
        description="A new finding blocks only if it touches a changed line or uses a name the edit removed "
        "or redefined (docs/cli.md); false: every new finding blocks.",
    )
    blocking_rules: dict[str, list[str]] = Field(
        default={source: list(rules) for source, rules in DEFAULT_BLOCKING_RULES},
        description="Per source, the only rules whose new findings block (code prefixes); sources not "
        "listed block on every rule. The default keeps the type checker to rules that mean a failure.",
    )
    inferred_types_block: bool = Field(
        default=False,
        description="Whether a blocking_rules finding about a type the checker inferred (a union it "
        "narrowed to, a type variable, Unknown, a callable matched structurally; docs/cli.md) blocks too.",
    )
    allow_rules: list[str] = Field(
        default=list(DEFAULT_ALLOW_RULES),
        description="Rules whose findings never block: 'source:code' or 'code', codes matched as prefixes.",
    )
    deny_rules: list[str] = Field(
        default=list(DEFAULT_DENY_RULES),
        description="Rules whose new findings block at any severity (same patterns as allow_rules).",
    )
    tool_dirs: list[str] = Field(
        default=[],
        description="Extra directories (relative to the project root) with language servers and linters.",
    )
    sources: dict[str, SourceConfig] = Field(
        default={}, description="Diagnostics sources by name: overrides of the built-in ones, or new ones."
    )
    languages: dict[str, list[str]] = Field(
        default={k: list(v) for k, v in DEFAULT_LANGUAGES.items()},
        description="The diagnostics sources of each language, by name; a language not listed keeps its "
        "default sources.",
    )

    @field_validator("allow_rules", "deny_rules")
    @classmethod
    def _rules_are_patterns(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if not rule or any(char.isspace() for char in rule):
                raise ValueError(f"rule pattern {rule!r} must be 'source:code' or 'code' without spaces")
        return rules

    @field_validator("sources")
    @classmethod
    def _new_sources_are_complete(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name, source in sources.items():
            if name in DEFAULT_SOURCES:
                continue
            if source.commands is None:
                raise ValueError(f"source '{name}' is not built in, so it needs 'commands'")
            if source.kind == "cli" and source.output_format is None:
                raise ValueError(f"cli source '{name}' needs 'output_format' (ruff or pyright)")
        return sources

    @field_validator("languages")
    @classmethod
    def _languages_name_known_sources(
        cls, languages: dict[str, list[str]], info: ValidationInfo
    ) -> dict[str, list[str]]:
        known_languages = sorted(spec.name for spec in LANGUAGES)
        configured: dict[str, SourceConfig] = info.data.get("sources") or {}
        known_sources = sorted({*DEFAULT_SOURCES, *configured})
        for language, names in languages.items():
            if language not in known_languages:
                raise ValueError(f"unknown language '{language}' (known: {', '.join(known_languages)})")
            for name in names:
                if name not in known_sources:
                    raise ValueError(
                        f"unknown source '{name}' for {language} (known: {', '.join(known_sources)})"
                    )
        return {**{k: list(v) for k, v in DEFAULT_LANGUAGES.items()}, **languages}


class MissionConfig(_Section):
    """How missions use git and leases."""

    branch_prefix: str = Field(default="podium/", min_length=1, description="Prefix of integration branches.")
    lease_seconds: int = Field(
        default=DEFAULT_LEASE_SECONDS,
        gt=0,
        le=86_400,
        description="How long a claim lasts without a heartbeat.",
    )


BackendKind = Literal["scripted", "command", "openai", "opencode-server"]


def _argv_names_a_program(argv: list[str]) -> list[str]:
    if argv and not argv[0].strip():
        raise ValueError("the first item of an argv list names a program")
    return argv


class ScriptedAgentConfig(_Section):
    """The `scripted` backend: plans and edits played from a script file."""

    script: str | None = Field(
        default=None, description="The script (YAML or JSON), relative to the project root."
    )
    time_scale: float = Field(default=1.0, ge=0, description="Factor on every simulated duration (0: none).")


class CommandAgentConfig(_Section):
    """The `command` backend: a CLI coding agent run in the task's worktree (argv, never a shell)."""

    argv: list[str] = Field(
        default=[], description='The worker\'s command, e.g. ["opencode", "run", "{prompt}"].'
    )
    plan_argv: list[str] = Field(default=[], description="The planner's command (empty: argv).")
    review_argv: list[str] = Field(default=[], description="The reviewer's command (empty: argv).")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds one agent run may take (unset: the backend's default)."
    )

    _programs = field_validator("argv", "plan_argv", "review_argv")(_argv_names_a_program)


class OpenAIAgentConfig(_Section):
    """The `openai` backend: an OpenAI-compatible chat-completions endpoint. Unset keys: the defaults."""

    base_url: str | None = Field(default=None, min_length=1, description="The API root.")
    model: str | None = Field(default=None, min_length=1, description="The model name.")
    api_key_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the API key."
    )
    max_turns: int | None = Field(default=None, ge=1, description="Model requests per work attempt.")
    request_timeout_s: float | None = Field(default=None, gt=0, description="Seconds one request may take.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")


class OpenCodeAgentConfig(_Section):
    """The `opencode-server` backend: each call an OpenCode session on `opencode serve`. Unset: defaults."""

    url: str | None = Field(
        default=None, min_length=1, description="A running `opencode serve` (unset: Podium starts one)."
    )
    binary: str | None = Field(
        default=None,
        min_length=1,
        description="The `opencode` executable of a started server (unset: $PODIUM_OPENCODE, else PATH).",
    )
    model: str | None = Field(
        default=None,
        pattern=r"^[^/]+/.+$",
        description="'provider/model' sent with each prompt (unset: OpenCode's configured model).",
    )
    agent: str | None = Field(default=None, min_length=1, description="The OpenCode agent (default build).")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds one session may take before it is aborted."
    )
    start_timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds the server may take to answer healthy."
    )
    request_timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds one HTTP request to the server may take."
    )
    on_permission: Literal["reject", "allow", "fail"] | None = Field(
        default=None,
        description="A session's permission request: reject it (default), allow it once, or fail the "
        "attempt.",
    )
    keep_sessions: bool | None = Field(
        default=None, description="Keep finished sessions on the server for inspection (default: delete)."
    )
    password_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the password of `url`."
    )
    extra_env: dict[str, str] = Field(
        default={}, description="Extra environment variables of a started server."
    )


class AgentsConfig(_Section):
    """Which backend each role uses, and each backend's settings."""

    worker: BackendKind = Field(default="scripted", description="The workers' backend (`--backend`).")
    planner: BackendKind | None = Field(
        default=None, description="The planner's backend (unset: the workers')."
    )
    reviewer: BackendKind | None = Field(
        default=None, description="The reviewer's backend (unset: the workers')."
    )
    scripted: ScriptedAgentConfig = ScriptedAgentConfig()
    command: CommandAgentConfig = CommandAgentConfig()
    openai: OpenAIAgentConfig = OpenAIAgentConfig()
    opencode: OpenCodeAgentConfig = OpenCodeAgentConfig()


class CommanderConfig(_Section):
    """How `podium run` (the Commander) runs a mission."""

    max_attempts: int = Field(default=3, ge=1, description="Attempts at a task before it fails.")
    max_split_depth: int = Field(default=2, ge=0, description="How deep subtasks may nest.")
    review: Literal["task", "always", "never"] = Field(
        default="task", description="Reviews: for tasks that ask (task), always, or never."
    )
    stagnation_rounds: int = Field(
        default=10, ge=1, description="Finished attempts without progress before the mission pauses."
    )
    max_rounds: int | None = Field(default=None, ge=1, description="Stop after this many attempts.")
    time_limit_s: float | None = Field(default=None, gt=0, description="Stop after this many seconds.")
    shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="Seconds running attempts get to finish when a run stops."
    )
    planners: int = Field(default=1, ge=1, description="Planners at once.")
    workers: int = Field(default=8, ge=1, description="Workers at once (`--workers`).")
    reviewers: int = Field(default=2, ge=1, description="Reviewers at once.")
    backend_caps: dict[str, int] = Field(default={}, description="Calls at once per backend, by name.")
    memory_budget_mb: int | None = Field(
        default=None, gt=0, description="Above this resident memory, low-priority work waits."
    )
    low_priority_max: int = Field(
        default=0, description="Tasks of this priority or lower wait while over the memory budget."
    )

    @field_validator("backend_caps")
    @classmethod
    def _caps_are_positive(cls, caps: dict[str, int]) -> dict[str, int]:
        bad = [name for name, cap in caps.items() if cap < 1]
        if bad:
            raise ValueError(f"the cap of {', '.join(bad)} must be at least 1")
        return caps


class HookCommandConfig(_Section):
    """A user hook: a program that reads the event as JSON on stdin; a non-zero exit vetoes."""

    name: str = Field(min_length=1, description="The hook's name (for ordering and messages).")
    argv: list[str] = Field(min_length=1, description="The command, never run through a shell.")
    events: list[HookEventName] = Field(min_length=1, description="The lifecycle events it runs on.")
    timeout_s: float = Field(default=DEFAULT_HOOK_TIMEOUT_S, gt=0, description="Seconds it may run.")
    phase: Literal["early", "normal", "late"] = "normal"
    priority: int = Field(default=0, description="Higher runs first within a phase.")
    depends_on: list[str] = Field(default=[], description="Hooks that must run before this one.")

    _program = field_validator("argv")(_argv_names_a_program)

    def spec(self, cwd: Path | None = None) -> CommandHookSpec:
        return CommandHookSpec(
            name=self.name,
            argv=tuple(self.argv),
            events=tuple(self.events),
            timeout=self.timeout_s,
            phase=Phase(self.phase),
            priority=self.priority,
            depends_on=tuple(self.depends_on),
            cwd=cwd,
        )


class HooksConfig(_Section):
    """The built-in hooks and the user's command hooks."""

    redact_secrets: bool = Field(default=True, description="Redact secrets in task logs and verdicts.")
    forbidden_paths: list[str] = Field(
        default=list(DEFAULT_FORBIDDEN_PATHS), description="Glob patterns no agent edit may touch."
    )
    scope_policy: Literal["off", "warn", "reject"] = Field(
        default="warn", description="Edits outside a task's declared files: ignore, warn or reject."
    )
    commands: list[HookCommandConfig] = Field(default=[], description="User hooks ([[hooks.commands]]).")

    def settings(self, cwd: Path | None = None) -> HookSettings:
        """The frozen hook settings (command hooks run in ``cwd``)."""
        return HookSettings(
            redact_secrets=self.redact_secrets,
            forbidden_paths=tuple(self.forbidden_paths),
            scope_policy=self.scope_policy,
            commands=tuple(command.spec(cwd) for command in self.commands),
        )

    @model_validator(mode="after")
    def _hooks_can_be_ordered(self) -> HooksConfig:
        # names twice, unknown or backwards dependencies and cycles are config errors, found at load time
        try:
            build_hooks(self.settings())
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return self


class PodiumConfig(_Section):
    """The whole of `podium.toml`."""

    gate: GateConfig = GateConfig()
    missions: MissionConfig = MissionConfig()
    agents: AgentsConfig = AgentsConfig()
    commander: CommanderConfig = CommanderConfig()
    hooks: HooksConfig = HooksConfig()


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
        parent: type[BaseModel] = PodiumConfig
        keyed: type[BaseModel] | None = None
        for part in err["loc"][:-1]:
            if keyed is not None:
                # A table of tables ([gate.sources.NAME]) or an array of them: this part is NAME or index.
                parent, keyed = keyed, None
                continue
            field = parent.model_fields.get(str(part))
            annotation = field.annotation if field else None
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                parent = annotation
                continue
            keyed = _table_of(annotation)
            if keyed is None:
                break
        allowed = ", ".join(sorted(parent.model_fields))
        return f"unknown key '{key}' (allowed here: {allowed})"
    return f"'{key}' = {value} is not allowed: {err['msg']}"


def _table_of(annotation: Any) -> type[BaseModel] | None:
    """The model of a `dict[str, Model]` or `list[Model]` field's values, else None."""
    if get_origin(annotation) not in (dict, list):
        return None
    value = get_args(annotation)[-1]
    return value if isinstance(value, type) and issubclass(value, BaseModel) else None


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of `podium.toml`, for editors (taplo, Even Better TOML)."""
    schema = PodiumConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "podium.toml"
    return schema
