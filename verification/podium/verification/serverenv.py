"""The environment language servers start in: the project's Python first on PATH, and a compile cache.

Which Python: the project's own environment, else the standard library alone.

Type checkers run ``python3`` from PATH to learn where imports resolve. Which interpreter that is decides
what they know about third-party code, so it must be the project's, never Podium's: Podium's virtual
environment holds Podium's dependencies at Podium's versions (attrs, packaging, rich, pytest …), and a
project type-checked against them gets verdicts about code it does not run (on the release-edit benchmark,
docs/performance.md, a project's own classes read through another attrs than its own).

So, in order: the project's ``.venv`` or ``venv``; the virtual environment the user has activated, when
it is not Podium's own; else a bare environment with no packages at all, made once per Python version
under the user's cache directory, in which third-party imports are simply unresolved (reported as missing
imports, which never block). Each is a real interpreter, not a version manager's shim: pyenv's and asdf's
are chains of shell scripts that cost basedpyright 1-2 s of every cold start on our machines.

Node.js servers (basedpyright, typescript-language-server) also get a compile cache (``NODE_COMPILE_CACHE``,
Node 22+; older versions ignore it) under the same cache directory: basedpyright's bundle is compiled
once instead of at every start, about 0.25 s of each cold check here (docs/performance.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import venv
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_ENV = "XDG_CACHE_HOME"
NODE_CACHE_ENV = "NODE_COMPILE_CACHE"


def server_environment(root: Path) -> dict[str, str]:
    """The environment a language server for ``root`` starts with: ours, with its Python first on PATH."""
    env = dict(os.environ)
    chosen = project_interpreter(root) or bare_interpreter()
    if chosen is not None:
        env["PATH"] = os.pathsep.join(filter(None, (str(chosen), env.get("PATH", ""))))
    env.setdefault(NODE_CACHE_ENV, str(cache_home() / "node-compile-cache"))
    return env


def cache_home() -> Path:
    """Podium's directory under the user's cache directory (``$XDG_CACHE_HOME``, else ``~/.cache``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache") / "podium"


def project_interpreter(root: Path) -> Path | None:
    """The ``bin`` directory of the project's (or the active, not Podium's) virtual environment, if any."""
    candidates = [root / ".venv" / "bin", root / "venv" / "bin"]
    active = os.environ.get("VIRTUAL_ENV")
    if active and Path(active).resolve() != Path(sys.prefix).resolve():
        candidates.append(Path(active) / "bin")
    return next((c for c in candidates if (c / "python3").is_file()), None)


def bare_interpreter() -> Path | None:
    """The ``bin`` directory of a package-free environment of the Python Podium runs on (made on first use).

    None when it cannot be made (a read-only cache, no ``venv`` module): the servers then find whatever
    ``python3`` PATH has, as they would without Podium.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    home = cache_home() / f"python{version}-bare"
    bin_dir = home / "bin"
    if (bin_dir / "python3").exists():
        return bin_dir
    staging: Path | None = None
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
        # Built beside its final place and renamed into it, so concurrent Podiums never see half of one.
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(staging)
        staging.rename(home)
        staging = None
    except OSError as exc:
        # Another Podium may have renamed its own into place first: then ours is simply not needed.
        if not (bin_dir / "python3").exists():
            logger.warning("no package-free Python for the language servers (%s); they use PATH's", exc)
            return None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return bin_dir
