"""The OpenCode commands (`/task`, `/status`) and subagents (`podium-planner`, `-worker`, `-reviewer`) Podium
installs, read from the Markdown files shipped in ``assets/``.

Each file is in OpenCode's own Markdown format (YAML front matter, then the prompt), so the same files can be
dropped into ``.opencode/commands/`` and ``.opencode/agents/`` by hand; `podium install opencode` turns them
into ``command``/``agent`` entries of ``opencode.json`` instead, where Podium can find and remove them again.
``clients/opencode/`` holds identical copies (a test keeps them identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from podium.server.install.jsonc import as_object

__all__ = [
    "AGENTS",
    "ASSET_FILES",
    "TaskMode",
    "Definition",
    "agent",
    "asset_text",
    "command",
]

TaskMode = Literal["client", "server"]
"""How `/task` runs a mission: the OpenCode agent and its subagents do the work, or Podium's own agents."""

AGENTS = ("podium-planner", "podium-worker", "podium-reviewer")
COMMANDS: dict[str, dict[TaskMode, str]] = {
    "task": {"client": "commands/task.md", "server": "commands/task-server.md"},
    "status": {"client": "commands/status.md", "server": "commands/status.md"},
}
ASSET_FILES = (
    "commands/task.md",
    "commands/task-server.md",
    "commands/status.md",
    *(f"agents/{name}.md" for name in AGENTS),
)
"""Every shipped file, relative to ``assets/``."""


@dataclass(frozen=True, slots=True)
class Definition:
    """A Markdown definition: its front matter and its body (the command template or the agent prompt)."""

    front: dict[str, Any]
    body: str


def asset_text(relative: str) -> str:
    """The text of one shipped file, ``relative`` to ``assets/``."""
    return (resources.files(__package__ or "podium.server.install") / "assets" / relative).read_text("utf-8")


@cache
def _definition(relative: str) -> Definition:
    text = asset_text(relative)
    _, front, body = text.split("---\n", 2)
    loaded = as_object(yaml.safe_load(front))
    if loaded is None:
        raise ValueError(f"assets/{relative}: the front matter is not a mapping")
    return Definition(loaded, body.strip())


def command(name: str, mode: TaskMode) -> dict[str, Any]:
    """The ``command.<name>`` value of ``opencode.json``: description and template."""
    definition = _definition(COMMANDS[name][mode])
    return {**definition.front, "template": definition.body}


def agent(name: str) -> dict[str, Any]:
    """The ``agent.<name>`` value of ``opencode.json``: description, mode, permission and prompt."""
    definition = _definition(f"agents/{name}.md")
    return {**definition.front, "prompt": definition.body}
