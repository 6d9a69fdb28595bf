"""The VS Code extension in clients/vscode: it type-checks, and its palette offers every operation.

`npm run compile` (tsc against the pinned `@types/vscode` and `vscode-languageclient`) needs
clients/vscode/node_modules (`npm ci` there; `make test` installs it). Without it the compile test skips,
unless ``PODIUM_REQUIRE_E2E_TOOLS=1`` (set by `make test`) makes its absence a failure. The output goes to
the test's own directory, so the checkout stays clean.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from podium.server.tooldocs import scratch_registry

pytestmark = pytest.mark.e2e

EXTENSION = Path(__file__).parents[2] / "clients" / "vscode"
REQUIRE_ENV = "PODIUM_REQUIRE_E2E_TOOLS"
COMPILE_TIMEOUT = 300.0


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXTENSION / "package.json").read_text())
    return loaded


def palette_id(operation: str) -> str:
    """``mission_start`` → ``podium.missionStart``: the palette command of an operation."""
    head, *rest = operation.split("_")
    return "podium." + head + "".join(part.capitalize() for part in rest)


def test_the_command_palette_offers_every_operation_of_the_registry() -> None:
    contributed = {command["command"] for command in manifest()["contributes"]["commands"]}
    source = (EXTENSION / "src" / "extension.ts").read_text()
    registered = set(re.findall(r'^\s*"(podium\.[A-Za-z]+)": \w+,$', source, flags=re.MULTILINE))
    with scratch_registry() as registry:
        wanted = {palette_id(operation) for operation in registry.names}

    assert len(wanted) == 13
    assert wanted <= contributed, wanted - contributed
    assert contributed == registered, contributed ^ registered


def test_the_extensions_dependencies_are_pinned_and_locked_without_download_urls() -> None:
    package = manifest()
    pinned = {**package["dependencies"], **package["devDependencies"]}
    lock = (EXTENSION / "package-lock.json").read_text()

    assert set(pinned) == {"vscode-languageclient", "typescript", "@types/vscode", "@types/node"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in pinned.values()), pinned
    assert '"resolved"' not in lock
    # The extension may not use API newer than the oldest VS Code it declares.
    assert package["engines"]["vscode"] == "^" + pinned["@types/vscode"]


def test_the_extension_type_checks_with_npm_run_compile(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    missing = None
    if npm is None:
        missing = "npm is not on PATH"
    elif not (EXTENSION / "node_modules" / ".bin" / "tsc").exists():
        missing = f"{EXTENSION / 'node_modules'} is not installed (npm ci there)"
    if missing is not None or npm is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"the extension's toolchain is required ({REQUIRE_ENV}=1) but {missing}")
        pytest.skip(f"cannot compile the VS Code extension: {missing}")

    done = subprocess.run(
        [npm, "run", "--silent", "compile", "--", "--outDir", str(tmp_path / "out")],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out" / "extension.js").is_file()
