"""Where diagnostics programs are found, and which sources are active for a project."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from podium.verification.catalog import (
    DEFAULT_LANGUAGES,
    DEFAULT_SOURCES,
    TOOL_PATH_ENV,
    TSSERVER,
    active_sources,
    find_program,
    resolve_commands,
    search_dirs,
)


def program(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_programs_are_found_in_the_extra_dirs_before_the_project_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOOL_PATH_ENV, raising=False)
    project_local = program(tmp_path / "node_modules" / ".bin", "tsc")
    extra = program(tmp_path / "tools", "tsc")

    assert find_program("tsc", search_dirs(tmp_path, [Path("tools")])) == extra
    assert find_program("tsc", search_dirs(tmp_path)) == project_local


def test_the_tool_path_variable_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = program(tmp_path / "elsewhere", "typescript-language-server")
    monkeypatch.setenv(TOOL_PATH_ENV, str(tmp_path / "elsewhere"))

    [command] = resolve_commands(TSSERVER, search_dirs(tmp_path / "project"))

    assert command == (str(found), "--stdio")


def test_the_virtual_environment_holds_ruff_and_basedpyright(tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent

    assert find_program("ruff", search_dirs(tmp_path)) == venv_bin / "ruff"
    assert (
        find_program("basedpyright-langserver", search_dirs(tmp_path)) == venv_bin / "basedpyright-langserver"
    )


def test_a_file_that_is_not_executable_is_not_a_program(tmp_path: Path) -> None:
    (tmp_path / "tsc").write_text("")

    assert find_program("tsc", [tmp_path]) != tmp_path / "tsc"
    assert find_program(str(tmp_path / "tsc"), []) is None


def test_active_sources_list_every_language_with_what_would_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOOL_PATH_ENV, "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    rows = active_sources(tmp_path, DEFAULT_LANGUAGES, DEFAULT_SOURCES)

    by_key = {(row.language, row.name): row for row in rows}
    assert by_key[("python", "ruff")].available
    assert by_key[("python", "basedpyright")].command is not None
    typescript = by_key[("typescript", "tsserver")]
    assert not typescript.available
    assert typescript.looked_for == ("tsc", "typescript-language-server")
