"""`podium verify` as a user runs it: a real subprocess, real files, the documented exit statuses."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "clients" / "demo"
PODIUM = [sys.executable, "-m", "podium.server"]


def run_podium(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODIUM, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(DEMO / "sample", root)
    return root


def write_diff(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "change.patch"
    path.write_text(text)
    return path


def test_good_patch_is_accepted_with_exit_zero_and_root_untouched(sample: Path) -> None:
    before = tree_digest(sample)
    done = run_podium("verify", "--root", str(sample), "--diff", str(DEMO / "good.patch"))
    assert done.returncode == 0, done.stderr
    assert "accepted" in done.stdout
    assert tree_digest(sample) == before


def test_broken_patch_is_rejected_with_path_line_and_frame(sample: Path) -> None:
    done = run_podium("verify", "--root", str(sample), "--diff", str(DEMO / "broken.patch"))
    assert done.returncode == 1, done.stderr
    assert "inventory/stock.py:28:" in done.stdout
    assert "def low(self, threshold: int) -> list[str]" in done.stdout
    assert "rejected" in done.stdout


def test_json_verdict_follows_the_documented_shape(sample: Path) -> None:
    done = run_podium("verify", "--root", str(sample), "--diff", str(DEMO / "broken.patch"), "--json")
    assert done.returncode == 1
    verdict = json.loads(done.stdout)
    assert verdict["accepted"] is False
    [finding] = verdict["findings_new"]
    assert finding["path"] == "inventory/stock.py"
    assert finding["line"] == 28
    assert finding["source"] == "tree-sitter"
    assert {run["name"] for run in verdict["sources"]} >= {"tree-sitter", "python-compile"}


def test_diff_from_stdin(sample: Path) -> None:
    done = run_podium("verify", "--root", str(sample), "--diff", "-", stdin=(DEMO / "good.patch").read_text())
    assert done.returncode == 0, done.stderr


def test_preexisting_error_moved_by_the_edit_does_not_block(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "m.py").write_text("def f(:\n    pass\n")
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,4 @@\n+import os\n+\n def f(:\n     pass\n"
    done = run_podium("verify", "--root", str(root), "--diff", str(write_diff(tmp_path, diff)), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["findings_new"] == []
    assert verdict["findings_preexisting"], "the old error should be reported as pre-existing"


def input_error(tmp_path: Path, root: Path, diff: str) -> subprocess.CompletedProcess[str]:
    before = tree_digest(root)
    done = run_podium("verify", "--root", str(root), "--diff", str(write_diff(tmp_path, diff)))
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert tree_digest(root) == before
    return done


def test_diff_that_does_not_apply_is_an_input_error_naming_the_file(tmp_path: Path, sample: Path) -> None:
    diff = "--- a/inventory/stock.py\n+++ b/inventory/stock.py\n@@ -1,1 +1,1 @@\n-not in the file\n+x\n"
    done = input_error(tmp_path, sample, diff)
    assert "inventory/stock.py" in done.stderr


def test_malformed_diff_is_an_input_error(tmp_path: Path, sample: Path) -> None:
    done = input_error(tmp_path, sample, "this is not a diff\n")
    assert "diff" in done.stderr


def test_dotdot_path_is_refused(tmp_path: Path, sample: Path) -> None:
    diff = "--- /dev/null\n+++ b/../escape.py\n@@ -0,0 +1 @@\n+x = 1\n"
    done = input_error(tmp_path, sample, diff)
    assert "../escape.py" in done.stderr or ".." in done.stderr
    assert not (sample.parent / "escape.py").exists()


def test_absolute_path_is_refused(tmp_path: Path, sample: Path) -> None:
    diff = "--- /dev/null\n+++ /tmp/podium-abs-escape.py\n@@ -0,0 +1 @@\n+x = 1\n"
    done = input_error(tmp_path, sample, diff)
    assert "absolute" in done.stderr.lower() or "/tmp/podium-abs-escape.py" in done.stderr


def test_symlink_leaving_the_root_is_refused(tmp_path: Path, sample: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("x = 1\n")
    (sample / "link").symlink_to(outside)
    diff = "--- a/link/secret.py\n+++ b/link/secret.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    done = input_error(tmp_path, sample, diff)
    assert "link" in done.stderr and "symlink" in done.stderr.lower()
    assert (outside / "secret.py").read_text() == "x = 1\n"


def test_binary_file_is_refused(tmp_path: Path, sample: Path) -> None:
    (sample / "blob.py").write_bytes(b"x = 1\n\x00\x01\x02\n")
    diff = "--- a/blob.py\n+++ b/blob.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n \x00\x01\x02\n"
    done = input_error(tmp_path, sample, diff)
    assert "blob.py" in done.stderr and "binary" in done.stderr.lower()


def test_file_over_the_size_limit_is_refused(tmp_path: Path, sample: Path) -> None:
    (sample / "big.py").write_text("x = 1\n" * 400_000)
    diff = "--- a/big.py\n+++ b/big.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    done = input_error(tmp_path, sample, diff)
    assert "big.py" in done.stderr


def test_size_limit_comes_from_podium_toml(tmp_path: Path, sample: Path) -> None:
    (sample / "podium.toml").write_text("[gate]\nmax_file_bytes = 10\n")
    done = input_error(tmp_path, sample, (DEMO / "good.patch").read_text())
    assert "inventory/" in done.stderr


def test_invalid_config_is_an_input_error_naming_the_key(tmp_path: Path, sample: Path) -> None:
    (sample / "podium.toml").write_text("[gate]\nseverity = 'loud'\n")
    done = input_error(tmp_path, sample, (DEMO / "good.patch").read_text())
    assert "gate.severity" in done.stderr and "loud" in done.stderr


def test_missing_root_is_an_input_error(tmp_path: Path) -> None:
    done = run_podium("verify", "--root", str(tmp_path / "nope"), "--diff", str(DEMO / "good.patch"))
    assert done.returncode == 2
    assert "not a directory" in done.stderr


def test_uncommitted_changes_are_verified_without_a_diff(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    (root / "a.py").write_text("x = 1\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "base"]):
        subprocess.run(cmd, cwd=root, env=env, check=True)
    (root / "a.py").write_text("x = (1\n")
    (root / "b.py").write_text("y = 2\n")
    done = run_podium("verify", "--root", str(root), "--json")
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    assert [f["path"] for f in verdict["findings_new"]] == ["a.py"]
    assert (root / "a.py").read_text() == "x = (1\n"
