"""`make demo`, part 3: a server-run mission — `podium run` with the scripted backend on the sample project.

The planner, two parallel workers (one broken first attempt rejected with its findings, then fixed), a
review and the merges all happen inside `podium run`, with its live progress view and final summary;
`--apply` lands the result on the sample's `main`. The sample is a private copy in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Podium demo",
    "GIT_AUTHOR_EMAIL": "demo@localhost",
    "GIT_COMMITTER_NAME": "Podium demo",
    "GIT_COMMITTER_EMAIL": "demo@localhost",
}


def main() -> int:
    env = {**os.environ, **GIT_ENV}
    with tempfile.TemporaryDirectory(prefix="podium-run-demo-") as tmp:
        root = Path(tmp) / "sample"
        shutil.copytree(HERE / "sample", root)
        shutil.copy(HERE / "mission.yaml", root / "mission.yaml")
        (root / "podium.toml").write_text(
            '[agents.scripted]\nscript = "mission.yaml"\n\n[commander]\nworkers = 2\n', encoding="utf-8"
        )
        for cmd in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "-A"],
            ["git", "commit", "-qm", "sample"],
        ):
            subprocess.run(cmd, cwd=root, env=env, check=True)
        print("\n$ podium run 'Reorder report for the sample inventory' --apply", flush=True)
        run = [sys.executable, "-m", "podium.server", "run", "Reorder report for the sample inventory"]
        done = subprocess.run([*run, "--root", str(root), "--apply"], env=env, timeout=300)
        if done.returncode != 0:
            print(f"demo: podium run exited {done.returncode}", file=sys.stderr)
            return 1
        print("\n$ git log --oneline main", flush=True)
        subprocess.run(["git", "log", "--oneline", "main"], cwd=root, check=True)
        print("\n$ podium audit verify", flush=True)
        audit = subprocess.run(
            [sys.executable, "-m", "podium.server", "audit", "verify", "--root", str(root)]
        )
        return audit.returncode


if __name__ == "__main__":
    sys.exit(main())
