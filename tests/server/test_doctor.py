"""`podium doctor`'s report: the sources that would judge an edit, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.orchestration.config import DEFAULT_CONFIG, parse_config
from podium.server.doctor import doctor_report, render_doctor
from podium.verification.catalog import TOOL_PATH_ENV


def test_the_report_lists_each_language_with_its_sources_and_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOOL_PATH_ENV, "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    report = doctor_report(tmp_path, DEFAULT_CONFIG)
    text = render_doctor(report)

    rows = {(row["language"], row["source"]): row for row in report["diagnostics"]}
    assert rows[("python", "basedpyright")]["available"]
    assert rows[("python", "basedpyright")]["command"][-1] == "--stdio"
    assert not rows[("typescript", "tsserver")]["available"]
    assert report["syntax"]["sources"] == ["tree-sitter", "python-compile"]
    lines = text.splitlines()
    assert any(
        line.split()[:3] == ["python", "ruff", "lsp"] and line.endswith("ruff server") for line in lines
    )
    assert "unavailable (looked for tsc, typescript-language-server)" in text


def test_with_diagnostics_off_the_report_says_so(tmp_path: Path) -> None:
    report = doctor_report(tmp_path, parse_config({"gate": {"diagnostics": False}}))

    assert report["diagnostics"] == []
    assert "diagnostics: off ([gate] diagnostics = false)" in render_doctor(report)
