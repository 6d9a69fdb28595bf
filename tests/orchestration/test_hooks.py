"""Lifecycle hooks: ordering, cycles, vetoes, text rewriting, the built-ins and command hooks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from podium.orchestration.hooks import (
    DEFAULT_HOOK_TIMEOUT_S,
    REDACTED,
    CommandHookSpec,
    Hook,
    HookEvent,
    HookEventName,
    HookResult,
    Hooks,
    HookSettings,
    Phase,
    build_hooks,
    command_hook,
    forbidden_path_hook,
    path_matches,
    redact_secrets,
    scope_guard_hook,
)
from podium.verification.errors import ConfigError

ALL: frozenset[HookEventName] = frozenset(
    {"mission_started", "before_gate", "after_verdict", "before_merge", "after_merge"}
)


def recorder(log: list[str], result: HookResult | None = None) -> Callable[..., Hook]:
    def make(
        name: str,
        *,
        events: frozenset[HookEventName] = ALL,
        phase: Phase = Phase.NORMAL,
        priority: int = 0,
        depends_on: tuple[str, ...] = (),
    ) -> Hook:
        async def run(event: HookEvent) -> HookResult:
            log.append(name)
            return result or HookResult()

        return Hook(name, events, run, phase, priority, depends_on)

    return make


def event(
    name: HookEventName = "before_gate",
    *,
    files: tuple[str, ...] = (),
    paths: tuple[str, ...] = (),
    texts: dict[str, str] | None = None,
) -> HookEvent:
    return HookEvent(
        name=name, mission_id="m-1", task_id="T1", title="Task", files=files, paths=paths, texts=texts or {}
    )


def test_hooks_run_by_phase_then_priority_then_name() -> None:
    make = recorder([])
    hooks = Hooks(
        [
            make("late", phase=Phase.LATE, priority=100),
            make("b-normal"),
            make("a-normal"),
            make("urgent", priority=10),
            make("early", phase=Phase.EARLY, priority=-5),
        ]
    )
    assert hooks.order == ("early", "urgent", "a-normal", "b-normal", "late")


def test_a_declared_dependency_runs_first_whatever_the_priorities() -> None:
    make = recorder([])
    hooks = Hooks([make("audit", priority=50, depends_on=("format",)), make("format", priority=-50)])
    assert hooks.order == ("format", "audit")


def test_a_dependency_cycle_is_a_config_error_that_names_it() -> None:
    make = recorder([])
    with pytest.raises(ConfigError, match="dependency cycle a → b → c → a"):
        Hooks(
            [
                make("a", depends_on=("b",)),
                make("b", depends_on=("c",)),
                make("c", depends_on=("a",)),
                make("d", depends_on=("a",)),
            ]
        )


def test_unknown_and_backward_dependencies_and_twin_names_are_config_errors() -> None:
    make = recorder([])
    with pytest.raises(ConfigError, match="depends on unknown hook nope"):
        Hooks([make("a", depends_on=("nope",))])
    with pytest.raises(ConfigError, match="runs later"):
        Hooks([make("first", phase=Phase.EARLY, depends_on=("last",)), make("last", phase=Phase.LATE)])
    with pytest.raises(ConfigError, match="more than one hook is named twin"):
        Hooks([make("twin"), make("twin")])


async def test_a_veto_on_a_vetoable_event_stops_the_hooks_after_it() -> None:
    log: list[str] = []
    make = recorder(log)
    veto = recorder(log, HookResult(veto=True, reason="not today"))
    hooks = Hooks([make("a", priority=2), veto("no", priority=1), make("c")])
    outcome = await hooks.emit(event("before_merge"))
    assert outcome.vetoed
    assert (outcome.vetoed_by, outcome.reason) == ("no", "not today")
    assert log == ["a", "no"]


async def test_a_veto_where_the_event_allows_none_is_only_a_warning() -> None:
    log: list[str] = []
    vetoing = recorder(log, HookResult(veto=True, reason="too late"))("no", priority=1)
    hooks = Hooks([vetoing, recorder(log)("after")])
    outcome = await hooks.emit(event("after_merge"))
    assert not outcome.vetoed
    assert log == ["no", "after"]
    assert outcome.warnings == ("no: too late (a veto does not count on after_merge)",)


async def test_a_hook_that_raises_vetoes_a_vetoable_event() -> None:
    async def broken(event: HookEvent) -> HookResult:
        raise RuntimeError("guard crashed")

    outcome = await Hooks([Hook("guard", ALL, broken)]).emit(event("before_gate"))
    assert outcome.vetoed_by == "guard"
    assert "guard crashed" in outcome.reason


async def test_texts_rewritten_by_one_hook_are_what_the_next_one_sees() -> None:
    seen: list[str] = []

    async def shout(event: HookEvent) -> HookResult:
        return HookResult(texts={"log": event.texts["log"].upper()})

    async def look(event: HookEvent) -> HookResult:
        seen.append(event.texts["log"])
        return HookResult()

    hooks = Hooks([Hook("shout", ALL, shout, Phase.EARLY), Hook("look", ALL, look)])
    outcome = await hooks.emit(event(texts={"log": "quiet", "verdict": "ok"}))
    assert seen == ["QUIET"]
    assert dict(outcome.event.texts) == {"log": "QUIET", "verdict": "ok"}


def test_only_the_hooks_of_an_event_run_on_it() -> None:
    make = recorder([])
    hooks = Hooks(
        [make("gate", events=frozenset({"before_gate"})), make("merge", events=frozenset({"after_merge"}))]
    )
    assert [h.name for h in hooks.for_event("before_gate")] == ["gate"]
    assert hooks.has("after_merge")
    assert not hooks.has("before_merge")


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "key"),
        ("ghp_" + "a1B2" * 9, "token"),
        ("sk-proj-" + "x" * 30, "openai"),
        ("xoxb-1234567890-abcdefghij", "slack"),
    ],
)
def test_secrets_are_redacted_by_their_shape(secret: str, kept: str) -> None:
    text = f"using {kept} {secret} now"
    assert redact_secrets(text) == f"using {kept} {REDACTED} now"


def test_assigned_secrets_bearer_tokens_and_private_keys_are_redacted() -> None:
    text = (
        'DB_PASSWORD="hunter2hunter2"\n'
        "api_key: abcdefgh12345678\n"
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\n"
        "password=short\n"
    )
    redacted = redact_secrets(text)
    assert "hunter2" not in redacted
    assert "abcdefgh12345678" not in redacted
    assert "abcdefghijklmnopqrstuvwxyz012345" not in redacted
    assert "MIIEow" not in redacted
    assert 'DB_PASSWORD="[redacted]"' in redacted
    assert "Authorization: Bearer [redacted]" in redacted
    assert "password=short" in redacted, "values too short to be secrets stay"


def test_ordinary_text_is_left_alone() -> None:
    text = "def tokenize(source):\n    return source.split()  # the skeleton key of parsing\n"
    assert redact_secrets(text) == text


async def test_the_redaction_hook_cleans_the_texts_of_every_event() -> None:
    hooks = build_hooks(HookSettings(forbidden_paths=(), scope_policy="off"))
    for name in ("task_claimed", "after_verdict", "mission_finished"):
        outcome = await hooks.emit(event(name, texts={"log": "token=abcdefghijklmnop"}))
        assert outcome.event.texts["log"] == f"token={REDACTED}"


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        (".git/config", ".git", True),
        ("src/.git", ".git", False),
        ("secrets/prod/key.txt", "secrets/**", True),
        ("a/b/c.pem", "**/*.pem", True),
        ("c.pem", "**/*.pem", True),
        ("src/app.py", "src/*.py", True),
        ("src/sub/app.py", "src/*.py", False),
        ("src/sub/app.py", "src", True),
        ("srcs/app.py", "src", False),
    ],
)
def test_path_patterns_cover_files_and_what_lies_below_directories(
    path: str, pattern: str, matches: bool
) -> None:
    assert path_matches(path, pattern) is matches


async def test_the_forbidden_path_guard_vetoes_changes_to_forbidden_paths() -> None:
    hooks = Hooks([forbidden_path_hook((".git", "deploy/**"))])
    vetoed = await hooks.emit(event(paths=("app.py", "deploy/prod.yaml")))
    assert vetoed.vetoed_by == "forbidden-paths"
    assert "deploy/prod.yaml" in vetoed.reason
    assert not (await hooks.emit(event(paths=("app.py",)))).vetoed


async def test_the_scope_guard_warns_about_files_outside_the_declared_ones() -> None:
    hooks = Hooks([scope_guard_hook("warn")])
    outcome = await hooks.emit(event(files=("src",), paths=("src/a.py", "README.md")))
    assert not outcome.vetoed
    assert len(outcome.warnings) == 1
    assert "README.md" in outcome.warnings[0]
    assert "src/a.py" not in outcome.warnings[0]


async def test_the_scope_guard_rejects_in_reject_mode_and_ignores_tasks_without_declared_files() -> None:
    hooks = Hooks([scope_guard_hook("reject")])
    outcome = await hooks.emit(event(files=("app.py",), paths=("app.py", "other.py")))
    assert outcome.vetoed_by == "scope-guard"
    assert "other.py" in outcome.reason
    assert not (await hooks.emit(event(files=(), paths=("anything.py",)))).vetoed
    assert not (await hooks.emit(event(files=("app.py",), paths=("app.py",)))).vetoed


def test_the_default_hooks_are_the_three_built_ins() -> None:
    assert build_hooks().order == ("redact-secrets", "forbidden-paths", "scope-guard")


def python_hook(
    tmp_path: Path,
    body: str,
    *,
    events: tuple[HookEventName, ...] = ("before_merge",),
    timeout: float = DEFAULT_HOOK_TIMEOUT_S,
) -> CommandHookSpec:
    script = tmp_path / "hook.py"
    script.write_text(body)
    return CommandHookSpec("user-check", (sys.executable, str(script)), events, timeout=timeout)


async def test_a_command_hook_reads_the_event_as_json_on_stdin_and_agrees_with_exit_zero(
    tmp_path: Path,
) -> None:
    spec = python_hook(
        tmp_path,
        "import json, sys, pathlib\n"
        "pathlib.Path(sys.argv[0]).with_name('seen.json').write_text(sys.stdin.read())\n",
    )
    outcome = await Hooks([command_hook(spec)]).emit(
        event("before_merge", paths=("app.py",), files=("app.py",))
    )
    assert not outcome.vetoed
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["event"] == "before_merge"
    assert seen["task"] == {"id": "T1", "title": "Task", "files": ["app.py"]}
    assert seen["paths"] == ["app.py"]


async def test_a_command_hook_that_exits_non_zero_vetoes_with_its_output(tmp_path: Path) -> None:
    spec = python_hook(tmp_path, "import sys\nprint('T1 breaks the release freeze')\nsys.exit(3)\n")
    outcome = await Hooks([command_hook(spec)]).emit(event("before_merge"))
    assert outcome.vetoed_by == "user-check"
    assert "exited with 3" in outcome.reason
    assert "release freeze" in outcome.reason


async def test_a_command_hook_that_does_not_read_stdin_can_still_veto(tmp_path: Path) -> None:
    spec = python_hook(tmp_path, "import sys\nsys.exit(1)\n")
    big = event("before_merge", texts={"log": "x" * 1_000_000})
    assert (await Hooks([command_hook(spec)]).emit(big)).vetoed


async def test_a_command_hook_that_overruns_its_timeout_vetoes(tmp_path: Path) -> None:
    spec = python_hook(tmp_path, "import time\ntime.sleep(60)\n", timeout=0.3)
    outcome = await Hooks([command_hook(spec)]).emit(event("before_merge"))
    assert outcome.vetoed
    assert "did not finish within 0.3 s" in outcome.reason


async def test_a_command_hook_whose_program_is_missing_vetoes(tmp_path: Path) -> None:
    spec = CommandHookSpec(name="gone", argv=(str(tmp_path / "no-such-program"),), events=("before_gate",))
    outcome = await Hooks([command_hook(spec)]).emit(event("before_gate"))
    assert outcome.vetoed_by == "gone"
    assert "could not run" in outcome.reason


def test_command_hook_specs_are_validated() -> None:
    with pytest.raises(ConfigError, match="unknown event before_lunch"):
        CommandHookSpec(name="x", argv=("true",), events=("before_lunch",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="argv"):
        CommandHookSpec(name="x", argv=(), events=("before_gate",))
    with pytest.raises(ConfigError, match="timeout"):
        CommandHookSpec(name="x", argv=("true",), events=("before_gate",), timeout=0)


def test_user_hooks_take_part_in_the_order_and_may_depend_on_built_ins() -> None:
    spec = CommandHookSpec(
        name="notify",
        argv=("true",),
        events=("after_merge",),
        phase=Phase.EARLY,
        depends_on=("redact-secrets",),
    )
    assert build_hooks(HookSettings(commands=(spec,))).order == (
        "redact-secrets",
        "forbidden-paths",
        "notify",
        "scope-guard",
    )
