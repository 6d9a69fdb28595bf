"""What `podium install` / `podium uninstall` print: the diff for ``--dry-run``, else one line per key.

Results go to stdout; notes (which OpenCode shape and why, keys left alone) go to stderr.
"""

from __future__ import annotations

import sys

from podium.server.install.installer import InstallOptions, Outcome

__all__ = ["print_outcome"]

_RESTART = {
    "opencode": "restart OpenCode to load it",
    "claude": "restart Claude Code to load it (a project's .mcp.json server asks for approval once)",
    "vscode": "reload the VS Code window to load it",
}


def print_outcome(outcome: Outcome, options: InstallOptions, *, verb: str) -> None:
    """Print ``outcome`` of ``verb`` (install or uninstall)."""
    for note in outcome.notes:
        print(f"podium: {note}", file=sys.stderr)
    plan = outcome.plan
    where = f"{options.target}: {plan.file.path}"
    if options.dry_run and plan.changed:
        print(plan.diff(), end="")
        return
    if not plan.changed:
        print(f"{where}: nothing to change")
        return
    action = "deleted (Podium had created it)" if plan.after is None else "updated"
    print(f"{where}: {action}")
    for change in plan.changes:
        if change.action != "leave":
            print(f"  {change.describe()}")
    if outcome.backup is not None:
        print(f"  backup: {outcome.backup}")
    print(f"  {_RESTART[options.target]}")
