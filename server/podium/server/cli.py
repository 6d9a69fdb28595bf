"""The `podium` command line: argparse, because the standard library is enough for a handful of subcommands
and every extra import costs start-up time on each `podium verify` an agent runs.

Exit statuses are a contract (docs/cli.md): 0 success/accepted, 1 rejected (or audit chain broken, or a
`podium run` mission that did not complete), 2 input or configuration error, 130 interrupted.
Only results go to stdout; logs and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from podium.verification.errors import PodiumError

if TYPE_CHECKING:
    from podium.server.install.installer import InstallOptions
    from podium.verification.lsppool import LspPool

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_INPUT_ERROR = 2

log = logging.getLogger("podium")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `podium` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="podium: %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        return int(args.handler(args))
    except PodiumError as exc:
        print(f"podium: error: {exc.message}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; the verdict was decided, so keep its exit status meaningful.
        sys.stderr.close()
        return EXIT_INPUT_ERROR


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description="Verified roadmaps for many coding agents.")
    parser.add_argument("--version", action="version", version=f"podium {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    verify = sub.add_parser("verify", help="judge an edit with the verification gate")
    verify.add_argument("--root", type=Path, default=Path("."), help="project directory (never modified)")
    verify.add_argument(
        "--diff",
        metavar="FILE|-",
        help="unified diff to judge ('-' reads stdin); default: DIR's uncommitted changes against HEAD",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON (docs/cli.md)")
    verify.add_argument("--config", type=Path, help="podium.toml to use instead of DIR/podium.toml")
    verify.add_argument(
        "--batch",
        action="store_true",
        help='judge JSON lines {"root": DIR, "diff": TEXT} from stdin with warm servers; a verdict line each',
    )
    verify.set_defaults(handler=_cmd_verify)

    audit = sub.add_parser("audit", help="the hash-chained event log")
    audit_sub = audit.add_subparsers(title="audit commands", metavar="COMMAND")
    audit_verify = audit_sub.add_parser("verify", help="check the event chain; name the first bad event")
    audit_verify.add_argument("--root", type=Path, default=Path("."))
    audit_verify.add_argument("--json", action="store_true")
    audit_verify.set_defaults(handler=_cmd_audit_verify)
    audit_log = audit_sub.add_parser("log", help="why each change was let in: the evidence of every merge")
    audit_log.add_argument("--root", type=Path, default=Path("."))
    audit_log.add_argument("--mission", help="only this mission")
    audit_log.add_argument("--json", action="store_true", help="one JSON object per merge, one per line")
    audit_log.set_defaults(handler=_cmd_audit_log)

    mcp = sub.add_parser("mcp", help="serve the mission tools over MCP (stdio, or HTTP with --http)")
    mcp.add_argument("--root", type=Path, default=Path("."), help="project directory (a git repository)")
    mcp.add_argument("--config", type=Path, help="podium.toml to use instead of DIR/podium.toml")
    mcp.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (port 0 picks a free one)",
    )
    mcp.set_defaults(handler=_cmd_mcp)

    lsp = sub.add_parser(
        "lsp", help="serve the mission commands and editor feedback over LSP (stdio, or --tcp)"
    )
    lsp.add_argument("--root", type=Path, default=Path("."), help="project directory (a git repository)")
    lsp.add_argument("--config", type=Path, help="podium.toml to use instead of DIR/podium.toml")
    lsp.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on HOST:PORT for one editor instead of stdio, for debugging (port 0 picks a free one)",
    )
    lsp.set_defaults(handler=_cmd_lsp)

    run = sub.add_parser(
        "run", help="run a mission with agent backends: plan, work, verify, review, merge, until done"
    )
    run.add_argument("goal", nargs="?", help="what the mission should achieve (omit with --resume)")
    run.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="MISSION",
        help="continue a mission (default: the newest active one) after a stop or a crash",
    )
    run.add_argument(
        "--plan", type=Path, metavar="FILE", help="roadmap file (JSON or YAML); skips the planner"
    )
    run.add_argument(
        "--backend", metavar="NAME", help="the workers' backend: scripted, command, openai or opencode-server"
    )
    run.add_argument("--workers", type=int, metavar="N", help="most workers at once")
    run.add_argument("--root", type=Path, default=Path("."), help="project directory (a git repository)")
    run.add_argument("--config", type=Path, help="podium.toml to use instead of DIR/podium.toml")
    run.add_argument(
        "--apply",
        action="store_true",
        help="on completion, bring the mission onto your checked-out branch",
    )
    run.set_defaults(handler=_cmd_run)

    doctor = sub.add_parser(
        "doctor", help="git, Python, the gate's checks per language, Podium in client configs: what to fix"
    )
    doctor.add_argument("--root", type=Path, default=Path("."))
    doctor.add_argument("--config", type=Path)
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--opencode", type=Path, metavar="PATH", help="the opencode executable to check")
    doctor.set_defaults(handler=_cmd_doctor)

    for name, verb in (("install", "add Podium to"), ("uninstall", "remove Podium from")):
        parser_ = sub.add_parser(name, help=f"{verb} a client's config: opencode, claude or vscode")
        parser_.add_argument("target", metavar="TARGET", help="opencode, claude or vscode")
        scope = parser_.add_mutually_exclusive_group()
        scope.add_argument(
            "--project",
            dest="scope",
            action="store_const",
            const="project",
            help="the project's config file (the default)",
        )
        scope.add_argument(
            "--global",
            dest="scope",
            action="store_const",
            const="global",
            help="the user's config (OpenCode: ~/.config/opencode/; Claude Code: ~/.claude.json)",
        )
        parser_.add_argument(
            "--root", type=Path, default=Path("."), help="project directory (default: the git top level of .)"
        )
        parser_.add_argument("--dry-run", action="store_true", help="print the diff; write nothing")
        if name == "install":
            parser_.add_argument(
                "--shape",
                choices=("v1", "v2"),
                help="OpenCode config shape (default: from `opencode --version`)",
            )
            parser_.add_argument("--opencode", type=Path, metavar="PATH", help="the opencode executable")
            parser_.add_argument(
                "--task-mode",
                choices=("client", "server"),
                default="client",
                help="/task runs the mission with OpenCode's agents (client) or Podium's (server)",
            )
        parser_.set_defaults(handler=_cmd_install if name == "install" else _cmd_uninstall, scope="project")

    config = sub.add_parser("config", help="podium.toml")
    config_sub = config.add_subparsers(title="config commands", metavar="COMMAND")
    schema = config_sub.add_parser("schema", help="print the JSON schema of podium.toml")
    schema.set_defaults(handler=_cmd_config_schema)
    check = config_sub.add_parser("check", help="validate podium.toml and print the effective values")
    check.add_argument("--root", type=Path, default=Path("."))
    check.add_argument("--config", type=Path)
    check.set_defaults(handler=_cmd_config_check)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("podium")
    except PackageNotFoundError:
        return "unknown"


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.batch:
        from podium.server.verify_batch import main_batch

        if args.diff is not None:
            from podium.verification.errors import InputError

            raise InputError("--batch reads its diffs from stdin; --diff cannot be combined with it")
        return main_batch(_existing_dir(args.root), args.config)
    root = _existing_dir(args.root)
    diff = None if args.diff is None else _read_diff(args.diff)
    # The servers start before the configuration and the gate are even imported (pydantic alone is
    # ~0.3 s): node starts and analyses while this process loads the rest.
    pool = _early_servers(root, args.config, diff)
    gate = None
    try:
        from podium.orchestration.config import load_config
        from podium.orchestration.verify import verify_diff, verify_uncommitted
        from podium.verification.verdict import render_verdict

        config = load_config(root, args.config)
        if pool is not None:
            from podium.orchestration.verify import build_gate

            gate = build_gate(config, root, pool=pool)
        if diff is None:
            verdict = verify_uncommitted(root, config, gate)
        else:
            verdict = verify_diff(root, diff, config, gate)
    finally:
        if pool is not None:
            pool.close()
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
    else:
        print(render_verdict(verdict))
    return EXIT_OK if verdict.accepted else EXIT_REJECTED


def _early_servers(root: Path, config_file: Path | None, diff: str | None) -> LspPool | None:
    """The default language servers of the diff's files, already starting (see `verification.prestart`);
    None when the project configures its own sources or the diff cannot be read (the check says why)."""
    import tomllib

    from podium.verification.patch import parse_unified_diff
    from podium.verification.prestart import prestart_default_servers

    if diff is None:
        return None
    path = config_file or root / "podium.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        patches = parse_unified_diff(diff)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, PodiumError):
        return None
    gate = table.get("gate", {})
    if not isinstance(gate, dict) or gate.get("diagnostics", True) is not True:
        return None
    if {"languages", "sources", "tool_dirs"} & set(cast(dict[str, object], gate)):
        return None
    paths = [p.new_path or p.old_path for p in patches]
    return prestart_default_servers(root, [p for p in paths if p])


def _read_diff(source: str) -> str:
    from podium.verification.errors import InputError

    if source == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read diff {source}: {exc.strerror}", path=source) from None
        name = source
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"diff {name} is not UTF-8 text", path=name) from None


def _existing_dir(path: Path) -> Path:
    from podium.verification.errors import InputError

    if not path.is_dir():
        raise InputError(f"--root {path}: not a directory", path=str(path))
    return path.resolve()


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from podium.orchestration.audit import verify_chain
    from podium.orchestration.project import database_path

    root = _existing_dir(args.root)
    db = database_path(root)
    if not db.exists():
        from podium.verification.errors import InputError

        raise InputError(f"no Podium store at {db}: nothing to audit", path=str(db))
    report = verify_chain(db)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.describe())
    return EXIT_OK if report.ok else EXIT_REJECTED


def _cmd_mcp(args: argparse.Namespace) -> int:
    from podium.orchestration.config import load_config
    from podium.orchestration.git import repository_root

    # Every flag is checked before the MCP SDK is imported (a second or more), so mistakes fail fast,
    # and before the store is opened, so a wrong directory gets no `.podium/`.
    root = _existing_dir(args.root)
    address = _http_address(args.http) if args.http is not None else None
    repository_root(root)
    config = load_config(root, args.config)
    from podium.server.app import serve
    from podium.server.http import DEFAULT_HOST, HttpSettings

    http = None if address is None else HttpSettings(host=address[0] or DEFAULT_HOST, port=address[1])
    # stdout is the protocol channel from here on; logs already go to stderr (see `main`).
    serve(root, config, http)
    return EXIT_OK


def _cmd_lsp(args: argparse.Namespace) -> int:
    from podium.orchestration.config import load_config
    from podium.orchestration.git import repository_root
    from podium.verification.errors import InputError

    # As for `mcp`: every flag and the project are checked before pygls is imported or the store opened.
    root = _existing_dir(args.root)
    tcp = None
    if args.tcp is not None:
        try:
            host, port = _http_address(args.tcp)
        except InputError:
            raise InputError(
                f"--tcp {args.tcp}: expected HOST:PORT, e.g. 127.0.0.1:2087 or [::1]:0"
            ) from None
        tcp = (host or "127.0.0.1", port)
    repository_root(root)
    config = load_config(root, args.config)
    from podium.server.lsp_server import serve

    # stdout is the protocol channel from here on; logs already go to stderr (see `main`).
    return serve(root, config, tcp)


def _http_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6, ``:PORT`` for the default host) as ``(host, port)``."""
    from podium.verification.errors import InputError

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--http {address}: expected HOST:PORT, e.g. 127.0.0.1:8765 or [::1]:0")
    return host.strip("[]"), int(port)


def _cmd_audit_log(args: argparse.Namespace) -> int:
    from podium.orchestration.evidence import merge_evidence
    from podium.orchestration.project import database_path
    from podium.verification.errors import InputError

    db = database_path(_existing_dir(args.root))
    if not db.exists():
        raise InputError(f"no Podium store at {db}: nothing to show", path=str(db))
    for record in merge_evidence(db, mission_id=args.mission):
        print(json.dumps(record.to_dict(), sort_keys=True) if args.json else record.describe())
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from podium.server.runcmd import run_command

    return run_command(args, _existing_dir(args.root))


def _cmd_doctor(args: argparse.Namespace) -> int:
    from podium.orchestration.config import load_config
    from podium.server.doctor import doctor_report, render_doctor

    root = _existing_dir(args.root)
    report = doctor_report(root, load_config(root, args.config), opencode=args.opencode)
    print(json.dumps(report, indent=2) if args.json else render_doctor(report))
    return EXIT_REJECTED if report["failed"] else EXIT_OK


def _install_options(args: argparse.Namespace) -> InstallOptions:
    from podium.server.install.clientconfig import TARGETS, podium_command, project_root
    from podium.server.install.installer import InstallOptions
    from podium.verification.errors import InputError

    if args.target not in TARGETS:
        raise InputError(f"unknown target {args.target!r}; targets: {', '.join(TARGETS)}")
    return InstallOptions(
        target=args.target,
        scope=args.scope,
        root=project_root(_existing_dir(args.root)),
        podium=podium_command(),
        dry_run=args.dry_run,
        shape=getattr(args, "shape", None),
        opencode=getattr(args, "opencode", None),
        task_mode=getattr(args, "task_mode", "client"),
    )


def _cmd_install(args: argparse.Namespace) -> int:
    from podium.orchestration.project import git_common_dir
    from podium.server.install.installer import install
    from podium.server.install.report import print_outcome

    options = _install_options(args)
    if options.scope == "project" and git_common_dir(options.root) is None:
        print(
            f"podium: note: {options.root} is not a git repository; `podium mcp` will refuse to start there "
            "until you run `git init` and commit",
            file=sys.stderr,
        )
    print_outcome(install(options), options, verb="install")
    return EXIT_OK


def _cmd_uninstall(args: argparse.Namespace) -> int:
    from podium.server.install.installer import uninstall
    from podium.server.install.report import print_outcome

    options = _install_options(args)
    print_outcome(uninstall(options), options, verb="uninstall")
    return EXIT_OK


def _cmd_config_schema(args: argparse.Namespace) -> int:
    from podium.orchestration.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
    return EXIT_OK


def _cmd_config_check(args: argparse.Namespace) -> int:
    from podium.orchestration.config import load_config

    config = load_config(_existing_dir(args.root), args.config)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
