"""Lifecycle hooks: ordered callbacks the Commander runs at seven points of a mission, some able to veto.

Events: ``mission_started``, ``task_claimed``, ``before_gate``, ``after_verdict``, ``before_merge``,
``after_merge``, ``mission_finished``. A veto counts only on :data:`VETOABLE_EVENTS` (``before_gate``,
``before_merge``); elsewhere it becomes a warning. ``before_merge`` comes between the gate's verdict and
the merge: the Commander holds a task for review whenever a hook that may veto listens to it. Hooks may
also rewrite the free texts an event carries (task logs, verdict texts); the next hook sees the rewritten
texts, and so does the Commander's record.

Order: by phase (early, normal, late), within it after every declared dependency, then by priority (higher
first), then by name. Depending on a hook of a later phase, on an unknown hook, or in a cycle is a
``ConfigError`` that names the hooks involved. A hook that fails (raises, times out) vetoes a vetoable
event — a guard that cannot run must not wave work through — and is a warning elsewhere.

Built-ins: secret redaction (early, so every later hook and record sees redacted texts), the forbidden-path
guard and the scope guard. User hooks are commands: argv (never a shell), the event as JSON on stdin, exit 0
to agree. :func:`build_hooks` puts a run's hooks together from :class:`HookSettings`.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import anyio
from anyio.abc import ByteReceiveStream

from podium.orchestration.events import JsonValue
from podium.verification.errors import ConfigError

__all__ = [
    "DEFAULT_FORBIDDEN_PATHS",
    "DEFAULT_HOOK_TIMEOUT_S",
    "HOOK_EVENTS",
    "REDACTED",
    "VETOABLE_EVENTS",
    "CommandHookSpec",
    "Hook",
    "HookEvent",
    "HookEventName",
    "HookOutcome",
    "HookResult",
    "HookSettings",
    "Hooks",
    "Phase",
    "ScopePolicy",
    "build_hooks",
    "command_hook",
    "forbidden_path_hook",
    "path_matches",
    "redact_secrets",
    "scope_guard_hook",
    "secret_redaction_hook",
]

logger = logging.getLogger(__name__)

HookEventName = Literal[
    "mission_started",
    "task_claimed",
    "before_gate",
    "after_verdict",
    "before_merge",
    "after_merge",
    "mission_finished",
]
HOOK_EVENTS: tuple[HookEventName, ...] = (
    "mission_started",
    "task_claimed",
    "before_gate",
    "after_verdict",
    "before_merge",
    "after_merge",
    "mission_finished",
)
VETOABLE_EVENTS: frozenset[HookEventName] = frozenset({"before_gate", "before_merge"})
"""Events where a hook's veto stops the step: the gate does not run, or the merge does not happen."""

DEFAULT_HOOK_TIMEOUT_S = 30.0
"""Seconds a command hook may run before it counts as failed."""
OUTPUT_LIMIT = 64_000
"""Bytes of a command hook's output kept for its reason."""
REASON_CHARS = 500
"""Characters of a command hook's output quoted in a veto or warning."""


class Phase(StrEnum):
    EARLY = "early"
    NORMAL = "normal"
    LATE = "late"


_PHASE_RANK = {Phase.EARLY: 0, Phase.NORMAL: 1, Phase.LATE: 2}


@dataclass(frozen=True, slots=True)
class HookEvent:
    """What happened, as hooks see it (and as command hooks read it on stdin, via :meth:`to_json`).

    Attributes:
        name: the lifecycle event.
        mission_id: the mission.
        task_id, title, files: the task (its declared files), when the event is about one.
        paths: the files the work changes (``before_gate``, ``before_merge``).
        attempt: the attempt at the task, from 1.
        texts: free texts hooks may rewrite: ``log`` (the worker's log), ``verdict`` (the verdict as text).
        data: anything else, as JSON data (the verdict summary, the merged commit, the run's outcome …).
    """

    name: HookEventName
    mission_id: str
    task_id: str | None = None
    title: str = ""
    files: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    attempt: int = 0
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    data: Mapping[str, JsonValue] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, JsonValue]:
        task: JsonValue = None
        if self.task_id is not None:
            task = {"id": self.task_id, "title": self.title, "files": list(self.files)}
        return {
            "event": self.name,
            "mission_id": self.mission_id,
            "task": task,
            "paths": list(self.paths),
            "attempt": self.attempt,
            "texts": dict(self.texts),
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class HookResult:
    """A hook's answer: agree (the default), veto with a reason, warn, and/or rewrite the event's texts."""

    veto: bool = False
    reason: str = ""
    warnings: tuple[str, ...] = ()
    texts: Mapping[str, str] | None = None


HookFn = Callable[[HookEvent], Awaitable[HookResult]]


@dataclass(frozen=True, slots=True)
class Hook:
    """A named callback on some events, with its place in the order."""

    name: str
    events: frozenset[HookEventName]
    run: HookFn
    phase: Phase = Phase.NORMAL
    priority: int = 0
    depends_on: tuple[str, ...] = ()
    may_veto: bool = True
    """False for hooks that never veto (redaction): the Commander need not make room for their veto."""


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """What the hooks of one event said: the event as they left it, the veto if any, the warnings."""

    event: HookEvent
    vetoed_by: str | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def vetoed(self) -> bool:
        return self.vetoed_by is not None


class Hooks:
    """The hooks of a run, validated and ordered once."""

    def __init__(self, hooks: Sequence[Hook] = ()) -> None:
        twice = sorted(name for name, n in Counter(hook.name for hook in hooks).items() if n > 1)
        if twice:
            raise ConfigError(f"hooks: more than one hook is named {', '.join(twice)}")
        self._hooks = {hook.name: hook for hook in hooks}
        self.order: tuple[str, ...] = _order(self._hooks)

    def for_event(self, name: HookEventName) -> tuple[Hook, ...]:
        return tuple(self._hooks[h] for h in self.order if name in self._hooks[h].events)

    def has(self, name: HookEventName) -> bool:
        return any(name in hook.events for hook in self._hooks.values())

    def may_veto(self, name: HookEventName) -> bool:
        """Whether a hook that may veto listens to ``name`` (and the event allows vetoes)."""
        return name in VETOABLE_EVENTS and any(name in h.events and h.may_veto for h in self._hooks.values())

    async def emit(self, event: HookEvent) -> HookOutcome:
        """Run the event's hooks in order; stop at the first veto of a vetoable event."""
        warnings: list[str] = []
        for hook in self.for_event(event.name):
            try:
                result = await hook.run(event)
            except Exception as exc:
                logger.warning("hook %s failed on %s: %s", hook.name, event.name, exc, exc_info=True)
                result = HookResult(veto=True, reason=f"hook {hook.name} failed: {type(exc).__name__}: {exc}")
            warnings.extend(f"{hook.name}: {w}" for w in result.warnings)
            if result.texts is not None:
                event = replace(event, texts=MappingProxyType({**event.texts, **result.texts}))
            if not result.veto:
                continue
            reason = result.reason or f"hook {hook.name} vetoed {event.name}"
            if event.name in VETOABLE_EVENTS:
                return HookOutcome(event, hook.name, reason, tuple(warnings))
            warnings.append(f"{hook.name}: {reason} (a veto does not count on {event.name})")
        return HookOutcome(event, None, "", tuple(warnings))


def _order(hooks: Mapping[str, Hook]) -> tuple[str, ...]:
    """Topological order (dependencies first), ties broken by phase, priority (higher first), name."""
    problems: list[str] = []
    for hook in hooks.values():
        for dep in hook.depends_on:
            if dep not in hooks:
                problems.append(f"hook {hook.name} depends on unknown hook {dep}")
            elif _PHASE_RANK[hooks[dep].phase] > _PHASE_RANK[hook.phase]:
                problems.append(
                    f"hook {hook.name} ({hook.phase}) depends on {dep}, which runs later ({hooks[dep].phase})"
                )
    if problems:
        raise ConfigError("hooks: " + "; ".join(problems))

    def key(name: str) -> tuple[int, int, str]:
        return (_PHASE_RANK[hooks[name].phase], -hooks[name].priority, name)

    waiting = {name: len(set(hook.depends_on)) for name, hook in hooks.items()}
    dependents: dict[str, list[str]] = {name: [] for name in hooks}
    for name, hook in hooks.items():
        for dep in set(hook.depends_on):
            dependents[dep].append(name)
    heap = [(key(name), name) for name, count in waiting.items() if count == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, name = heapq.heappop(heap)
        order.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(heap, (key(dependent), dependent))
    if len(order) < len(hooks):
        cycle = _find_cycle({n: hooks[n].depends_on for n in hooks if n not in order})
        raise ConfigError(f"hooks: dependency cycle {' → '.join(cycle)} (each hook depends on the next)")
    return tuple(order)


def _find_cycle(depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    """A closed path through the dependencies of hooks that a topological sort could not place."""
    start = min(depends_on)
    path = [start]
    seen = {start: 0}
    while True:
        nxt = min(dep for dep in depends_on[path[-1]] if dep in depends_on)
        if nxt in seen:
            cycle = path[seen[nxt] :]
            first = cycle.index(min(cycle))
            cycle = cycle[first:] + cycle[:first]
            return [*cycle, cycle[0]]
        seen[nxt] = len(path)
        path.append(nxt)


@dataclass(frozen=True, slots=True)
class CommandHookSpec:
    """A user hook from ``podium.toml``: a program run with the event as JSON on stdin.

    Exit 0 agrees; any other exit vetoes (where the event allows), with the output as the reason.
    """

    name: str
    argv: tuple[str, ...]
    events: tuple[HookEventName, ...]
    timeout: float = DEFAULT_HOOK_TIMEOUT_S
    phase: Phase = Phase.NORMAL
    priority: int = 0
    depends_on: tuple[str, ...] = ()
    cwd: Path | None = None

    def __post_init__(self) -> None:
        if not self.argv or not self.argv[0].strip():
            raise ConfigError(f"hook {self.name}: argv must name a program")
        if not self.events:
            raise ConfigError(f"hook {self.name}: name at least one event")
        unknown = [e for e in self.events if e not in HOOK_EVENTS]
        if unknown:
            raise ConfigError(
                f"hook {self.name}: unknown event {', '.join(unknown)} (known: {', '.join(HOOK_EVENTS)})"
            )
        if self.timeout <= 0:
            raise ConfigError(f"hook {self.name}: timeout must be positive, not {self.timeout}")


def command_hook(spec: CommandHookSpec) -> Hook:
    """The :class:`Hook` that runs ``spec``'s command."""

    async def run(event: HookEvent) -> HookResult:
        payload = json.dumps(event.to_json(), sort_keys=True).encode("utf-8")
        env = {**os.environ, "PODIUM_HOOK_EVENT": event.name, "PODIUM_MISSION_ID": event.mission_id}
        if event.task_id is not None:
            env["PODIUM_TASK_ID"] = event.task_id
        try:
            with anyio.fail_after(spec.timeout):
                code, output = await _run_command(spec.argv, payload, spec.cwd, env)
        except TimeoutError:
            return HookResult(veto=True, reason=f"hook {spec.name} did not finish within {spec.timeout:g} s")
        except OSError as exc:
            return HookResult(veto=True, reason=f"hook {spec.name} could not run {spec.argv[0]}: {exc}")
        if code == 0:
            return HookResult()
        said = output.strip()[-REASON_CHARS:] or "no output"
        return HookResult(veto=True, reason=f"hook {spec.name} exited with {code}: {said}")

    return Hook(
        name=spec.name,
        events=frozenset(spec.events),
        run=run,
        phase=spec.phase,
        priority=spec.priority,
        depends_on=spec.depends_on,
    )


async def _run_command(
    argv: Sequence[str], payload: bytes, cwd: Path | None, env: Mapping[str, str]
) -> tuple[int, str]:
    """Run ``argv`` with ``payload`` on stdin; return its exit code and its output (stdout then stderr)."""
    chunks: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}

    async def drain(stream: ByteReceiveStream, into: bytearray) -> None:
        async for chunk in stream:
            if len(into) < OUTPUT_LIMIT:
                into.extend(chunk[: OUTPUT_LIMIT - len(into)])

    async with await anyio.open_process(list(argv), cwd=cwd, env=dict(env)) as process:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stdout, chunks["out"])
            tg.start_soon(drain, process.stderr, chunks["err"])
            try:
                await process.stdin.send(payload)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # a hook may decide without reading the event
            finally:
                await process.stdin.aclose()
        code = await process.wait()
        text = (bytes(chunks["out"]) + bytes(chunks["err"])).decode("utf-8", errors="replace")
        return code, text


SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/-]{16,}=*"),
)
"""Secrets recognised by their own shape."""
_SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)
    \b(?P<key>[a-z0-9_.-]*(?:password|passwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|token))
    (?P<sep>["']?\s*[:=]\s*)
    (?P<quote>["']?)
    (?P<value>[^\s"',;]{8,})
    """
)
"""``name = value`` where the name says the value is a secret."""
REDACTED = "[redacted]"

DEFAULT_FORBIDDEN_PATHS: tuple[str, ...] = (".git", ".podium")
"""Paths (glob patterns; a directory covers what is below it) no agent edit may touch."""

ScopePolicy = Literal["off", "warn", "reject"]


def redact_secrets(text: str, patterns: Sequence[re.Pattern[str]] = SECRET_PATTERNS) -> str:
    """``text`` with secrets (tokens, keys, private keys, ``password=…`` values) as ``[redacted]``."""
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m['key']}{m['sep']}{m['quote']}{REDACTED}", text)


def path_matches(path: str, pattern: str) -> bool:
    """Whether ``path`` (POSIX, relative) is ``pattern`` or lies below a directory ``pattern`` names.

    ``*`` and ``?`` stay within one path component, ``**`` spans any number of them.
    """
    regex = _glob_regex(pattern.strip("/"))
    parts = path.split("/")
    return any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def secret_redaction_hook() -> Hook:
    """Redacts secrets in every event's texts; early and first, so nothing after it sees them."""

    async def run(event: HookEvent) -> HookResult:
        cleaned = {key: redact_secrets(text) for key, text in event.texts.items()}
        changed = {key: text for key, text in cleaned.items() if text != event.texts[key]}
        return HookResult(texts=changed or None)

    return Hook("redact-secrets", frozenset(HOOK_EVENTS), run, Phase.EARLY, priority=100, may_veto=False)


def forbidden_path_hook(patterns: Sequence[str] = DEFAULT_FORBIDDEN_PATHS) -> Hook:
    """Vetoes work that touches a forbidden path before the gate runs (so it never reaches a merge)."""

    async def run(event: HookEvent) -> HookResult:
        hits = sorted({p for p in event.paths for pattern in patterns if path_matches(p, pattern)})
        if not hits:
            return HookResult()
        return HookResult(
            veto=True,
            reason=f"the change touches forbidden paths: {', '.join(hits)} (forbidden: "
            f"{', '.join(patterns)})",
        )

    return Hook("forbidden-paths", frozenset({"before_gate"}), run, Phase.EARLY, priority=50)


def scope_guard_hook(policy: ScopePolicy = "warn") -> Hook:
    """Flags changes to files outside the task's declared ``files``: a warning, or a veto with ``reject``.

    A task that declares no files has no scope to leave.
    """

    async def run(event: HookEvent) -> HookResult:
        if policy == "off" or not event.files:
            return HookResult()
        outside = sorted(p for p in event.paths if not any(path_matches(p, f) for f in event.files))
        if not outside:
            return HookResult()
        message = (
            f"task {event.task_id} changes files outside its declared files: {', '.join(outside)} "
            f"(declared: {', '.join(event.files)})"
        )
        if policy == "reject":
            return HookResult(veto=True, reason=message + "; keep to the declared files or split the task")
        return HookResult(warnings=(message,))

    return Hook("scope-guard", frozenset({"before_gate"}), run)


@dataclass(frozen=True, slots=True)
class HookSettings:
    """Which built-in hooks run, and the user's command hooks."""

    redact_secrets: bool = True
    forbidden_paths: tuple[str, ...] = DEFAULT_FORBIDDEN_PATHS
    scope_policy: ScopePolicy = "warn"
    commands: tuple[CommandHookSpec, ...] = ()


def build_hooks(settings: HookSettings | None = None, extra: Sequence[Hook] = ()) -> Hooks:
    """The hooks of a run: the enabled built-ins, the command hooks, and ``extra`` ones, ordered.

    Raises:
        ConfigError: two hooks share a name, or their dependencies are unknown, backwards or cyclic.
    """
    settings = settings or HookSettings()
    hooks: list[Hook] = []
    if settings.redact_secrets:
        hooks.append(secret_redaction_hook())
    if settings.forbidden_paths:
        hooks.append(forbidden_path_hook(settings.forbidden_paths))
    if settings.scope_policy != "off":
        hooks.append(scope_guard_hook(settings.scope_policy))
    hooks.extend(command_hook(spec) for spec in settings.commands)
    hooks.extend(extra)
    return Hooks(hooks)
