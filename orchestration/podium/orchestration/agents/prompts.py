"""What Podium says to an agent: the planning, work and review prompts, built from templates.

Templates are plain text with `{name}` placeholders. Only the names listed for each template are replaced;
any other brace (a JSON example, code) is left as written, so templates need no escaping.

* work: `{task_id} {mission_id} {title} {description} {files} {attempt} {worktree} {findings}
  {reviewer_comments}`; `{findings}` and `{reviewer_comments}` expand to a whole paragraph with its own
  heading, or to nothing on a first attempt.
* plan: `{goal} {mission_id} {root}`.
* review: `{task_id} {title} {description} {files} {verdict} {diff} {answer_format}`.

Prompts are bounded (`MAX_PROMPT_CHARS`): a CLI agent gets its prompt as one argv element, and Linux refuses
a single argument over 128 KiB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from podium.orchestration.agents.base import PlanRequest, ReviewRequest, WorkRequest
from podium.verification.findings import Finding

__all__ = [
    "JSON_REVIEW_FORMAT",
    "MAX_PROMPT_CHARS",
    "PLAN_TEMPLATE",
    "REVIEW_TEMPLATE",
    "TEXT_REVIEW_FORMAT",
    "WORK_TEMPLATE",
    "fill",
    "plan_prompt",
    "render_findings",
    "review_prompt",
    "work_prompt",
]

MAX_PROMPT_CHARS = 100_000
"""Longest prompt sent; findings and diffs are cut first."""

MAX_FINDINGS = 30
"""Findings quoted in a work prompt; the rest are counted."""

MAX_DIFF_CHARS = 60_000
"""Characters of a task's diff shown to a reviewer."""

WORK_TEMPLATE = """\
You are one worker on a larger mission. Work only on this task, in the current directory \
(a git worktree of the project: {worktree}).

Task {task_id}: {title}
{description}

Files this task declares (change others only if the task cannot be done without it):
{files}
{findings}{reviewer_comments}
Edit the files in place and stop when the task is done. Do not commit; Podium checks your changes with its \
verification gate and merges them.
"""

PLAN_TEMPLATE = """\
You are the planner of a mission on the project in {root}. Goal:

{goal}

Split the goal into small tasks that separate workers can do in parallel, each touching few files. \
Do not change any file. Answer with only a JSON object on standard output, in this form:

{"tasks": [{"key": "short-label", "title": "What to do", "description": "Details a worker needs",
            "files": ["path/relative/to/root.py"], "depends_on": ["key of an earlier task"],
            "priority": 0, "size": "S", "review": false}]}

`size` is one of XS, S, M, L; `depends_on` lists keys of tasks that must be merged first; set `review` to \
true for a task whose result a reviewer should read.
"""

REVIEW_TEMPLATE = """\
You review one task of a mission before it is merged. The change passed the verification gate ({verdict}).

Task {task_id}: {title}
{description}

Declared files: {files}

The change:
{diff}

Approve it if it does what the task asks and nothing harmful; otherwise reject it with comments a \
worker can act on.
{answer_format}
"""

TEXT_REVIEW_FORMAT = (
    "Answer with APPROVE or REJECT alone on the first line, then your comments on the following lines."
)
JSON_REVIEW_FORMAT = 'Answer with only a JSON object: {"approve": true or false, "comments": "..."}.'

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace each `{name}` whose name is in ``values``; leave every other brace as it is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(replace, template)


def work_prompt(request: WorkRequest, template: str = WORK_TEMPLATE) -> str:
    """The prompt of one work attempt: the task, its files, and what went wrong last time."""
    task = request.task
    findings = ""
    if request.findings:
        findings = (
            f"\nYour previous attempt was rejected by the verification gate. It introduced these problems; "
            f"fix them:\n{render_findings(request.findings)}\n"
        )
    comments = ""
    if request.reviewer_comments.strip():
        comments = f"\nThe reviewer rejected the previous attempt:\n{request.reviewer_comments.strip()}\n"
    values = {
        "task_id": task.id,
        "mission_id": task.mission_id,
        "title": task.title,
        "description": task.description,
        "files": _bullets(task.files),
        "attempt": str(request.attempt),
        "worktree": str(request.worktree),
        "findings": findings,
        "reviewer_comments": comments,
    }
    return _bounded(fill(template, values))


def plan_prompt(request: PlanRequest, template: str = PLAN_TEMPLATE) -> str:
    """The planner's prompt: the goal and the roadmap JSON to answer with."""
    values = {"goal": request.goal, "mission_id": request.mission_id, "root": str(request.root)}
    return _bounded(fill(template, values))


def review_prompt(
    request: ReviewRequest, template: str = REVIEW_TEMPLATE, answer_format: str = TEXT_REVIEW_FORMAT
) -> str:
    """The reviewer's prompt: the task, the gate's verdict and the diff (cut to `MAX_DIFF_CHARS`)."""
    task = request.task
    diff = request.diff
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + f"\n… ({len(request.diff) - MAX_DIFF_CHARS} more characters not shown)"
    values = {
        "task_id": task.id,
        "title": task.title,
        "description": task.description,
        "files": ", ".join(task.files) or "(none declared)",
        "verdict": request.verdict_summary,
        "diff": diff,
        "answer_format": answer_format,
    }
    return _bounded(fill(template, values))


def render_findings(findings: Sequence[Finding], limit: int = MAX_FINDINGS) -> str:
    """Each finding as `- path:line:column [source code] message`, with its code frame indented."""
    blocks: list[str] = []
    for finding in findings[:limit]:
        where = f" (in {finding.symbol})" if finding.symbol else ""
        block = f"- {finding.location} [{finding.source} {finding.code}] {finding.message}{where}"
        if finding.reason:
            block += f"\n    why it counts: {finding.reason}"
        if finding.frame:
            block += "\n" + "\n".join(f"    {line}" for line in finding.frame.splitlines())
        blocks.append(block)
    if len(findings) > limit:
        blocks.append(f"- … and {len(findings) - limit} more")
    return "\n".join(blocks)


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none declared)"


def _bounded(prompt: str) -> str:
    if len(prompt) <= MAX_PROMPT_CHARS:
        return prompt
    note = "\n… (prompt cut to its limit)\n"
    return prompt[: MAX_PROMPT_CHARS - len(note)] + note
