"""`make demo`: Podium's gate on a small sample project, a broken edit rejected and a good one accepted.

Runs the real `podium` command as a subprocess on a private copy of `clients/demo/sample`, so the demo shows
exactly what a user (or an agent) sees.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    podium = [sys.executable, "-m", "podium.server"]
    with tempfile.TemporaryDirectory(prefix="podium-demo-") as tmp:
        root = Path(tmp) / "sample"
        shutil.copytree(HERE / "sample", root)
        steps = [("broken.patch", 1), ("good.patch", 0)]
        for patch, expected in steps:
            print(f"\n$ podium verify --root sample --diff {patch}", flush=True)
            done = subprocess.run([*podium, "verify", "--root", str(root), "--diff", str(HERE / patch)])
            print(f"(exit status {done.returncode})", flush=True)
            if done.returncode != expected:
                print(f"demo: expected exit status {expected} for {patch}", file=sys.stderr)
                return 1
    print("\nThe broken edit was rejected with its finding; the good edit was accepted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
