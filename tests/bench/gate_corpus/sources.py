"""The pinned releases the corpus is built from, and their download: registry metadata, checksum, unpack.

Nothing third-party is committed: each release is downloaded on first use from its registry (PyPI's JSON
API for the sdist, the npm registry for the tarball), checked against the digest the registry publishes
(sha256 for PyPI, the ``integrity`` sha512 for npm) and cached under ``work/``, so a second run is offline.
A release's *tree* keeps only what a gate would see in a checkout of the project: the package sources and
the files that configure the checkers (``pyproject.toml``, ``setup.cfg``, ``pyrightconfig.json``,
``ruff.toml``; ``package.json``, ``tsconfig.json``), without tests, docs or examples.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urljoin

import httpx2

WORK = Path(__file__).resolve().parent / "work"
"""Downloads, metadata and unpacked trees (git-ignored)."""
HTTP_TIMEOUT = 60.0
"""Seconds for one registry request or download."""
PYTHON_CONFIGS = ("pyproject.toml", "setup.cfg", "pyrightconfig.json", "ruff.toml", ".ruff.toml")
NODE_CONFIGS = ("package.json", "tsconfig.json")
SKIP_DIRS = frozenset(
    {"tests", "test", "_tests", "testing", "docs", "doc", "examples", "benchmarks", "bench", "scripts"}
)

Registry = Literal["pypi", "npm"]


@dataclass(frozen=True, slots=True)
class Pair:
    """Two nearby releases of one package: the *old* one each case starts from, the *new* one it reaches.

    ``keep`` names the source folders of an npm package (its tarball also holds bundles); PyPI trees are
    found by layout (``src/`` or top-level packages).
    """

    registry: Registry
    name: str
    old: str
    new: str
    keep: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}-{self.old}..{self.new}"


PAIRS: tuple[Pair, ...] = (
    Pair("pypi", "attrs", "24.2.0", "24.3.0"),
    Pair("pypi", "click", "8.1.7", "8.1.8"),
    Pair("pypi", "rich", "13.8.1", "13.9.0"),
    Pair("pypi", "packaging", "24.1", "24.2"),
    Pair("pypi", "jinja2", "3.1.4", "3.1.5"),
    Pair("pypi", "flask", "3.0.3", "3.1.0"),
    Pair("pypi", "werkzeug", "3.0.6", "3.1.0"),
    Pair("pypi", "pluggy", "1.4.0", "1.5.0"),
    Pair("pypi", "anyio", "4.6.2", "4.7.0"),
    Pair("pypi", "httpcore", "1.0.6", "1.0.7"),
    Pair("pypi", "structlog", "24.1.0", "24.2.0"),
    Pair("pypi", "cattrs", "24.1.3", "25.1.0"),
    Pair("pypi", "starlette", "0.47.3", "0.48.0"),
    Pair("pypi", "tomlkit", "0.12.5", "0.13.0"),
    Pair("pypi", "marshmallow", "3.23.3", "3.24.0"),
    Pair("pypi", "httpx", "0.27.2", "0.28.0"),
    Pair("pypi", "trio", "0.26.2", "0.27.0"),
    Pair("pypi", "pytest", "8.3.3", "8.3.4"),
    Pair("npm", "@tanstack/query-core", "5.59.0", "5.66.0", keep=("src",)),
    Pair("npm", "@reduxjs/toolkit", "2.2.7", "2.3.0", keep=("src",)),
    Pair("npm", "@trpc/server", "11.1.0", "11.4.0", keep=("src",)),
    Pair("npm", "@tanstack/router-core", "1.119.0", "1.120.3", keep=("src",)),
    Pair("npm", "mobx", "6.12.0", "6.13.0", keep=("src",)),
    Pair("npm", "immer", "10.0.3", "10.1.1", keep=("src",)),
    Pair("npm", "rxjs", "7.8.1", "7.8.2", keep=("src",)),
    Pair("npm", "commander", "12.0.0", "12.1.0", keep=("lib", "index.js")),
)
"""Every release pair, pinned. Changing one changes the corpus: say so in docs/performance.md."""


class DownloadError(RuntimeError):
    """A registry answered badly, or a download did not match its published digest."""


def log(message: str) -> None:
    print(f"gate-corpus: {message}", file=sys.stderr, flush=True)


def tree(pair: Pair, version: str) -> Path:
    """The unpacked, trimmed source tree of one release (downloaded and cached on first use)."""
    target = WORK / "trees" / pair.registry / f"{pair.name.replace('/', '__')}-{version}"
    if (target / ".complete").exists():
        return target
    archive = _download(pair, version)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    members = _read_archive(archive)
    for relative, data in _select(pair, members).items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    (target / ".complete").write_text("")
    return target


def _download(pair: Pair, version: str) -> Path:
    url, algorithm, digest = _locate(pair, version)
    archive = WORK / "downloads" / pair.registry / PurePosixPath(url).name
    if archive.exists() and _digest(archive.read_bytes(), algorithm) == digest:
        return archive
    log(f"downloading {pair.name} {version} from {pair.registry}")
    response = httpx2.get(url, timeout=HTTP_TIMEOUT, follow_redirects=True)
    if response.status_code != 200:
        raise DownloadError(f"{url}: HTTP {response.status_code}")
    if _digest(response.content, algorithm) != digest:
        raise DownloadError(f"{url}: {algorithm} does not match the registry's digest")
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(response.content)
    return archive


def _locate(pair: Pair, version: str) -> tuple[str, str, str]:
    """(archive url, digest algorithm, expected digest) from the registry's metadata."""
    if pair.registry == "pypi":
        url = f"https://pypi.org/pypi/{pair.name}/json"
        meta = _metadata(url, f"pypi-{pair.name}.json")
        files: list[dict[str, Any]] = meta["releases"].get(version, [])
        for entry in files:
            if entry["packagetype"] == "sdist" and entry["filename"].endswith(".tar.gz"):
                # Some mirrors give file URLs relative to the metadata's own.
                return urljoin(url, entry["url"]), "sha256", entry["digests"]["sha256"]
        raise DownloadError(f"{pair.name} {version}: no .tar.gz sdist on PyPI")
    url = f"https://registry.npmjs.org/{pair.name}/{version}"
    meta = _metadata(url, f"npm-{pair.name.replace('/', '__')}-{version}.json")
    algorithm, _, encoded = meta["dist"]["integrity"].partition("-")
    return urljoin(url, meta["dist"]["tarball"]), algorithm, base64.b64decode(encoded).hex()


def _metadata(url: str, cache_name: str) -> dict[str, Any]:
    cached = WORK / "meta" / cache_name
    if not cached.exists():
        response = httpx2.get(url, timeout=HTTP_TIMEOUT, follow_redirects=True)
        if response.status_code != 200:
            raise DownloadError(f"{url}: HTTP {response.status_code}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(response.content)
    loaded: dict[str, Any] = json.loads(cached.read_bytes())
    return loaded


def _digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _read_archive(archive: Path) -> dict[PurePosixPath, bytes]:
    """Regular files of a .tar.gz by path below its single top folder; unsafe paths are refused."""
    files: dict[PurePosixPath, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
                raise DownloadError(f"{archive.name}: unsafe member path {member.name!r}")
            handle = tar.extractfile(member)
            if handle is not None:
                files[PurePosixPath(*path.parts[1:])] = handle.read()
    return files


def _select(pair: Pair, members: dict[PurePosixPath, bytes]) -> dict[PurePosixPath, bytes]:
    """The subset of an archive a project checkout's gate would look at (see the module docstring)."""
    configs = PYTHON_CONFIGS if pair.registry == "pypi" else NODE_CONFIGS
    chosen = {path: data for path, data in members.items() if len(path.parts) == 1 and path.name in configs}
    roots = pair.keep or _python_roots(members)
    for path, data in members.items():
        if path.parts[0] in roots and not SKIP_DIRS.intersection(path.parts[1:-1]):
            chosen[path] = data
    return chosen


def _python_roots(members: dict[PurePosixPath, bytes]) -> tuple[str, ...]:
    """``src`` when the sdist has a src layout, else its top-level packages and modules."""
    if any(path.parts[0] == "src" and len(path.parts) > 2 for path in members):
        return ("src",)
    packages = {
        path.parts[0]
        for path in members
        if len(path.parts) == 2 and path.name == "__init__.py" and path.parts[0] not in SKIP_DIRS
    }
    modules = {
        path.name
        for path in members
        if len(path.parts) == 1
        and path.suffix == ".py"
        and path.name not in {"setup.py", "conftest.py", "noxfile.py"}
    }
    return tuple(sorted(packages | modules))
