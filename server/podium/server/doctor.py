"""`podium doctor`: which verification sources would judge an edit in this project, per language.

Nothing is started: a diagnostics source is "active" when its program is found (see
`podium.verification.catalog` for where Podium looks), "unavailable" otherwise; an unavailable source is
noted in verdicts, never a reason to reject.
"""

from __future__ import annotations

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


def doctor_report(root: Path, config: PodiumConfig) -> dict[str, Any]:
    """The report as JSON-able data: syntax sources, then diagnostics sources per language."""
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
    }


def render_doctor(report: dict[str, Any]) -> str:
    """The report for a terminal."""
    syntax = report["syntax"]
    lines = [
        f"project: {report['root']}",
        f"syntax: {', '.join(syntax['sources'])} ({len(syntax['languages'])} languages)",
    ]
    if not report["diagnostics_enabled"]:
        lines.append("diagnostics: off ([gate] diagnostics = false)")
        return "\n".join(lines)
    lines.append("diagnostics:")
    rows: list[dict[str, Any]] = report["diagnostics"]
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
    return "\n".join(lines)
