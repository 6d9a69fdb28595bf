"""`podium doctor`: which verification sources would judge an edit in this project, per language, and
whether the environment (git, Python) and the clients' configs (OpenCode, Claude Code, VS Code) are right.

Nothing is started: a diagnostics source is "active" when its program is found (see
`podium.verification.catalog` for where Podium looks), "unavailable" otherwise; an unavailable source is
noted in verdicts, never a reason to reject. The environment and client checks live in
`podium.server.install.health`; ``failed`` is true when one of them fails hard (exit status 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.orchestration.config import PodiumConfig
from podium.orchestration.verify import language_sources, source_specs, tool_dirs
from podium.verification.catalog import ActiveSource, active_sources
from podium.verification.languages import LANGUAGES


def diagnostics_sources(root: Path, config: PodiumConfig) -> tuple[ActiveSource, ...]:
    """Every configured (language, diagnostics source) pair with the command that would start it."""
    if not config.gate.diagnostics:
        return ()
    return active_sources(root, language_sources(config), source_specs(config), tool_dirs(config, root))


def doctor_report(
    root: Path,
    config: PodiumConfig,
    env: Mapping[str, str] | None = None,
    *,
    opencode: Path | None = None,
) -> dict[str, Any]:
    """The report as JSON-able data: syntax sources, diagnostics sources per language, the environment,
    and Podium's entries in each client config; ``failed`` when a hard check failed."""
    from podium.server.install.clientconfig import find_opencode
    from podium.server.install.health import client_checks, environment_checks

    env = os.environ if env is None else env
    found = find_opencode(opencode, env)
    environment = environment_checks(env, found)
    clients = client_checks(root, env, found)
    syntax = ["tree-sitter"] + (["python-compile"] if config.gate.python_compile else [])
    return {
        "root": str(root),
        "syntax": {"sources": syntax, "languages": sorted(spec.name for spec in LANGUAGES)},
        "diagnostics_enabled": config.gate.diagnostics,
        "diagnostics": [
            {
                "language": row.language,
                "source": row.name,
                "kind": row.kind,
                "available": row.available,
                "command": list(row.command) if row.command is not None else None,
                "looked_for": list(row.looked_for),
            }
            for row in diagnostics_sources(root, config)
        ],
        "environment": environment,
        "clients": clients,
        "failed": environment["hard"] or any(check["hard"] for check in clients),
    }


def render_doctor(report: dict[str, Any]) -> str:
    """The report for a terminal."""
    syntax = report["syntax"]
    lines = [
        f"project: {report['root']}",
        f"syntax: {', '.join(syntax['sources'])} ({len(syntax['languages'])} languages)",
    ]
    lines.extend(_render_environment(report["environment"]))
    if not report["diagnostics_enabled"]:
        lines.append("diagnostics: off ([gate] diagnostics = false)")
    else:
        lines.extend(_render_diagnostics(report["diagnostics"]))
    lines.extend(_render_clients(report["clients"]))
    return "\n".join(lines)


def _render_environment(environment: dict[str, Any]) -> list[str]:
    git = environment["git"]
    python = environment["python"]
    opencode = environment["opencode"]
    lines = [
        f"git: {git['version'] or 'NOT FOUND'}",
        f"python: {python['version']} ({python['path']}){'' if python['ok'] else '  TOO OLD (3.11+ needed)'}",
    ]
    if opencode["version"] is not None:
        shape = str(opencode["shape"]).upper()
        lines.append(f"opencode: {opencode['version']} ({opencode['path']}), config shape {shape}")
    else:
        lines.append("opencode: not found" if opencode["path"] is None else f"opencode: {opencode['path']}")
    lines.extend(f"  fix: {problem}" for problem in environment["problems"])
    return lines


def _render_clients(clients: list[dict[str, Any]]) -> list[str]:
    lines = ["clients:"]
    width = max(len(f"{check['client']} {check['scope']}") for check in clients)
    for check in clients:
        name = f"{check['client']} {check['scope']}"
        if check["parses"] is False:
            state = "DOES NOT PARSE"
        elif check["installed"]:
            present = sum(1 for status in check["entries"].values() if status == "present")
            state = f"installed ({present}/{len(check['entries'])} entries current)"
        else:
            state = f"not installed (to add: {check['install']})"
        lines.append(f"  {name:<{width}}  {check['path']}  {state}")
        lines.extend(f"    problem: {problem}" for problem in check["problems"])
        lines.extend(f"    fix: {fix}" for fix in check["fixes"])
    return lines


def _render_diagnostics(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["diagnostics:"]
    width = max((len(row["language"]) for row in rows), default=0)
    name_width = max((len(row["source"]) for row in rows), default=0)
    for row in rows:
        where = (
            " ".join(row["command"])
            if row["available"]
            else f"unavailable (looked for {', '.join(row['looked_for'])})"
        )
        lines.append(
            f"  {row['language']:<{width}}  {row['source']:<{name_width}}  {row['kind']:<3}  {where}"
        )
    return lines
