"""The `opencode-server` backend: every call is an OpenCode session on a running `opencode serve`.

Connection: the server at `url`, or (no `url`) one this backend starts on first use and stops on `aclose`
(`agents.opencode_process`; its output goes to `<log_dir>/opencode-server.log`). The Commander closes its
backends when a run ends.

* work: a session per attempt in the task's worktree, titled `<task id>: <title>`, prompted with the work
  prompt (the task, its files, the previous attempt's findings and the reviewer's comments). When the
  session is settled the result is `done` with no edits: the gate judges the worktree as OpenCode's own
  tools left it. A reply cut short by the context window or the output limit gives up the task.
* plan: a read-only session (edits, shell and sub-agents denied) in the project root, answered with the
  roadmap JSON (`agents.answers`).
* review: a read-only session in the worktree, answered with `{"approve": …, "comments": …}`.

Faults: the model's HTTP 429 (after OpenCode's own retries) raises `RateLimited`; any other session error,
a timeout (`timeout_s`, after which the session is aborted) or a server failure raises `BackendError`.
A cancelled worker aborts its session. Sessions are deleted once settled unless `keep_sessions` is set.
The prompt and a line per step of the session go to the task log, as for the `command` backend.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import anyio

from podium.orchestration.agents.answers import extract_json, parse_review, planned_tasks
from podium.orchestration.agents.base import (
    BackendError,
    PlannedTask,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.agents.opencode_http import OpenCodeClient
from podium.orchestration.agents.opencode_process import (
    DEFAULT_START_TIMEOUT_S,
    SERVER_USERNAME,
    ManagedServer,
    ServerLaunch,
    wait_healthy,
)
from podium.orchestration.agents.opencode_session import (
    PermissionPolicy,
    SessionOutcome,
    SessionSpec,
    run_session,
)
from podium.orchestration.agents.prompts import (
    JSON_REVIEW_FORMAT,
    PLAN_TEMPLATE,
    REVIEW_TEMPLATE,
    WORK_TEMPLATE,
    plan_prompt,
    review_prompt,
    work_prompt,
)
from podium.orchestration.agents.tasklog import LineFilter, TaskLog, open_task_log, redact
from podium.verification.errors import ConfigError

__all__ = ["BINARY_ENV", "OpenCodeServerBackend", "OpenCodeServerSettings", "SERVER_LOG"]

logger = logging.getLogger(__name__)

DEFAULT_AGENT = "build"
DEFAULT_TIMEOUT_S = 1800.0
"""How long one session (a work attempt, a plan, a review) may take before it is aborted."""
DEFAULT_REQUEST_TIMEOUT_S = 30.0
"""How long one HTTP request to the server may take."""
BINARY_ENV = "PODIUM_OPENCODE"
"""The environment variable naming the `opencode` executable when `binary` is unset."""
SERVER_LOG = "opencode-server.log"
"""The managed server's output, in the log directory."""
GIVE_UP_FAULTS = frozenset({"ContextOverflowError", "MessageOutputLengthError"})
"""Session errors that another attempt would only repeat: the worker gives the task up."""


@dataclass(frozen=True, slots=True)
class OpenCodeServerSettings:
    """How to reach OpenCode and what to ask it.

    Attributes:
        url: a running `opencode serve` (e.g. `http://127.0.0.1:4096`); None starts one.
        binary: the `opencode` executable of a started server; None: `$PODIUM_OPENCODE`, else `opencode`
            on PATH.
        model: `provider/model` sent with each prompt; None: the server's configured model.
        agent: the OpenCode agent of each session.
        timeout_s: the longest one session may take.
        start_timeout_s: how long a started server (or the one at `url`) may take to answer healthy.
        request_timeout_s: the longest one HTTP request may take.
        on_permission: a permission request of a session: `reject` it (the tool call fails and the
            model goes on), `allow` it once, or `fail` the attempt.
        keep_sessions: keep settled sessions on the server for inspection instead of deleting them.
        password_env: the environment variable holding the password of the server at `url`.
        cwd: where a started server runs (the project root); None: the current directory.
        env: extra environment variables of a started server.
        log_dir: where the task logs and the started server's log go; None keeps none.
        log_filter: rewrites each line before it reaches a log (the secret-redaction hook).
        work_template, plan_template, review_template: prompt templates (see `agents.prompts`).
        name: the backend's name in logs, limits and the circuit breaker.
    """

    url: str | None = None
    binary: Path | None = None
    model: str | None = None
    agent: str = DEFAULT_AGENT
    timeout_s: float = DEFAULT_TIMEOUT_S
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    on_permission: PermissionPolicy = "reject"
    keep_sessions: bool = False
    password_env: str | None = None
    cwd: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    log_dir: Path | None = None
    log_filter: LineFilter | None = None
    work_template: str = WORK_TEMPLATE
    plan_template: str = PLAN_TEMPLATE
    review_template: str = REVIEW_TEMPLATE
    name: str = "opencode-server"


class OpenCodeServerBackend:
    """An `AgentBackend` whose calls are OpenCode sessions; `aclose` stops a server it started."""

    def __init__(self, settings: OpenCodeServerSettings) -> None:
        s = settings
        if s.url is not None and not s.url.startswith(("http://", "https://")):
            raise ConfigError(f"backend {s.name}: `url` must be an http(s) URL, not {s.url!r}")
        for key in ("timeout_s", "start_timeout_s", "request_timeout_s"):
            if getattr(s, key) <= 0:
                raise ConfigError(f"backend {s.name}: `{key}` must be positive, not {getattr(s, key)}")
        if s.model is not None and not _split_model(s.model):
            raise ConfigError(f"backend {s.name}: `model` must be 'provider/model', not {s.model!r}")
        self._settings = s
        self._binary = _find_binary(s) if s.url is None else None
        self._lock = anyio.Lock()
        self._client: OpenCodeClient | None = None
        self._server: ManagedServer | None = None

    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def server_url(self) -> str | None:
        """The URL of the server in use, once connected."""
        return self._client.base_url if self._client is not None else None

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        prompt = plan_prompt(request, self._settings.plan_template)
        title = f"{request.mission_id}: plan"
        outcome = await self._ask("planner", request.mission_id, "", 1, request.root, title, prompt)
        self._require_success(outcome, "planning")
        try:
            return planned_tasks(extract_json(outcome.text), where="the planner's roadmap", strict=False)
        except ValueError as exc:
            raise BackendError(f"backend {self.name}: the planner did not answer a roadmap: {exc}") from None

    async def work(self, request: WorkRequest) -> WorkResult:
        task = request.task
        prompt = work_prompt(request, self._settings.work_template)
        title = f"{task.id}: {task.title}"
        outcome = await self._ask(
            "worker", task.mission_id, task.id, request.attempt, request.worktree, title, prompt
        )
        fault = outcome.fault
        if fault is not None and fault.name in GIVE_UP_FAULTS:
            return WorkResult("gave_up", log=self._redact(f"{fault.name}: {fault.message}"))
        self._require_success(outcome, f"task {task.id}")
        return WorkResult("done", log=self._redact("\n".join(outcome.transcript[-20:])))

    async def review(self, request: ReviewRequest) -> ReviewResult:
        task = request.task
        prompt = review_prompt(request, self._settings.review_template, JSON_REVIEW_FORMAT)
        title = f"{task.id}: review"
        outcome = await self._ask(
            "reviewer", task.mission_id, task.id, task.attempts, request.worktree, title, prompt
        )
        self._require_success(outcome, f"the review of {task.id}")
        try:
            return parse_review(outcome.text)
        except ValueError as exc:
            raise BackendError(f"backend {self.name}: unreadable review of {task.id}: {exc}") from None

    async def aclose(self) -> None:
        """Forget the connection and stop a server this backend started; the next call connects again."""
        client, server = self._client, self._server
        self._client = self._server = None
        with anyio.CancelScope(shield=True):
            if client is not None:
                await client.aclose()
            if server is not None:
                logger.info("%s: stopping opencode serve (pid %d)", self.name, server.pid)
                await server.aclose()

    async def _ask(
        self, role: str, mission_id: str, task_id: str, attempt: int, directory: Path, title: str, prompt: str
    ) -> SessionOutcome:
        s = self._settings
        client = await self._connect()
        spec = SessionSpec(
            directory=directory,
            title=title,
            prompt=prompt,
            agent=s.agent,
            model=_split_model(s.model) if s.model else None,
            timeout_s=s.timeout_s,
            read_only=role != "worker",
            on_permission=s.on_permission,
            keep=s.keep_sessions,
        )
        log = await self._open_log(mission_id, task_id, role)
        try:
            if log is not None:
                await log.start_run(
                    role, task_id or mission_id, attempt, f"opencode {client.base_url}", prompt
                )
            outcome = await run_session(client, spec, name=self.name)
            if log is not None:
                await log.output("session", ("\n".join(outcome.transcript) + "\n").encode())
            return outcome
        except BackendError as exc:
            if log is not None:
                with anyio.CancelScope(shield=True):
                    await log.output("session", f"{exc.message}\n".encode())
            raise
        finally:
            if log is not None:
                with anyio.CancelScope(shield=True):
                    await log.aclose()

    def _require_success(self, outcome: SessionOutcome, what: str) -> None:
        fault = outcome.fault
        if fault is None:
            return
        message = self._redact(
            f"backend {self.name}: {what} failed in session {outcome.session_id}: "
            f"{fault.name}: {fault.message}"
        )
        if fault.status_code == 429:
            raise RateLimited(message)
        raise BackendError(message)

    async def _connect(self) -> OpenCodeClient:
        async with self._lock:
            if self._client is not None:
                return self._client
            s = self._settings
            if s.url is not None:
                client = OpenCodeClient(
                    s.url, request_timeout_s=s.request_timeout_s, auth=_auth(s), name=s.name
                )
                try:
                    with anyio.fail_after(s.start_timeout_s):
                        version = await wait_healthy(client)
                except TimeoutError:
                    await client.aclose()
                    raise BackendError(
                        f"backend {s.name}: {s.url} did not answer healthy within {s.start_timeout_s:g} s"
                    ) from None
                logger.info("%s: using opencode %s at %s", s.name, version, s.url)
            else:
                assert self._binary is not None
                launch = ServerLaunch(
                    binary=self._binary,
                    cwd=s.cwd or Path.cwd(),
                    log_path=s.log_dir / SERVER_LOG if s.log_dir is not None else None,
                    env={**os.environ, **dict(s.env)},
                    start_timeout_s=s.start_timeout_s,
                )
                self._server = await ManagedServer.start(launch, name=s.name)
                client = OpenCodeClient(
                    self._server.url,
                    request_timeout_s=s.request_timeout_s,
                    auth=self._server.auth,
                    name=s.name,
                )
            self._client = client
            return client

    async def _open_log(self, mission_id: str, task_id: str, role: str) -> TaskLog | None:
        s = self._settings
        return await open_task_log(self.name, s.log_dir, s.log_filter, mission_id, task_id, role)

    def _redact(self, text: str) -> str:
        return redact(text, self._settings.log_filter)


def _split_model(model: str) -> tuple[str, str] | None:
    provider, _, name = model.partition("/")
    return (provider, name) if provider and name else None


def _auth(settings: OpenCodeServerSettings) -> tuple[str, str] | None:
    if settings.password_env is None:
        return None
    password = os.environ.get(settings.password_env, "")
    return (SERVER_USERNAME, password) if password else None


def _find_binary(settings: OpenCodeServerSettings) -> Path:
    if settings.binary is not None:
        candidate = str(settings.binary)
        where = "`binary`"
    else:
        candidate = os.environ.get(BINARY_ENV) or "opencode"
        where = f"${BINARY_ENV}" if os.environ.get(BINARY_ENV) else "PATH"
    found = shutil.which(candidate)
    if found is None:
        raise ConfigError(
            f"backend {settings.name}: cannot find the OpenCode executable {candidate!r} (from {where}); "
            f"install opencode, set [agents.opencode] binary, or give the url of a running `opencode serve`"
        )
    return Path(found)
