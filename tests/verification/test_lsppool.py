"""Warm language servers in the gate, with a fake but real server process: crashes, hangs, restarts.

The fake (tests/fixtures/lsp/fake_server.py) flags lines holding BAD (error) or WARN (warning), dies on
CRASH and never answers for a document holding HANG.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from podium.verification import lsppool
from podium.verification.catalog import SourceSpec
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.gate import Gate, GatePolicy
from podium.verification.lsppool import LspPool
from podium.verification.lspsource import LspSource
from podium.verification.verdict import Verdict

FAKE = Path(__file__).parent.parent / "fixtures" / "lsp" / "fake_server.py"
FAKE_SPEC = SourceSpec(
    "fake", "lsp", ((sys.executable, str(FAKE)),), ("python",), timeout=5.0, start_timeout=20.0
)
GUARD = 60.0
"""Seconds a test waits for a verdict before declaring the gate hung (far above every deadline)."""


@pytest.fixture
def pool() -> Iterator[LspPool]:
    pool = LspPool()
    yield pool
    pool.close()


def one_file(before: str | None, after: str | None, path: str = "a.py") -> ChangeSet:
    return ChangeSet((FileChange(path, before, after),))


def fake_gate(
    root: Path, pool: LspPool, spec: SourceSpec = FAKE_SPEC, policy: GatePolicy | None = None
) -> Gate:
    policy = policy or GatePolicy(tree_sitter=False, python_compile=False)
    return Gate(policy, [LspSource(spec, root, pool)])


def judged(gate: Gate, changes: ChangeSet) -> Verdict:
    """``gate.check`` in a worker thread, so that a hung gate fails the test instead of blocking it."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(gate.check, changes).result(timeout=GUARD)


def test_a_new_error_from_the_server_rejects_and_an_old_one_does_not(tmp_path: Path, pool: LspPool) -> None:
    before = "x = 1  # BAD\ny = 2\n"
    after = "z = 0\nx = 1  # BAD\ny = 2  # BAD\n"

    verdict = judged(fake_gate(tmp_path, pool), one_file(before, after))

    assert not verdict.accepted
    assert [(f.source, f.code, f.line) for f in verdict.findings_new] == [("fake", "FAKE1", 3)]
    assert [f.line for f in verdict.findings_preexisting] == [2]
    assert verdict.findings_new[0].frame.endswith("^^^")


def test_warnings_do_not_block_unless_their_rule_is_denied(tmp_path: Path, pool: LspPool) -> None:
    changes = one_file("x = 1\n", "x = 1  # WARN\n")
    lenient = GatePolicy(tree_sitter=False, python_compile=False)
    strict = replace(lenient, deny_rules=("fake:FAKE2",))

    assert judged(fake_gate(tmp_path, pool, policy=lenient), changes).accepted
    assert not judged(fake_gate(tmp_path, pool, policy=strict), changes).accepted


def test_allowed_rules_never_block(tmp_path: Path, pool: LspPool) -> None:
    policy = GatePolicy(tree_sitter=False, python_compile=False, allow_rules=("FAKE1",))

    verdict = judged(fake_gate(tmp_path, pool, policy=policy), one_file("x = 1\n", "x = 1  # BAD\n"))

    assert verdict.accepted
    assert verdict.findings_new == ()


def test_a_server_that_crashes_mid_check_gives_an_unverified_verdict_and_is_restarted(
    tmp_path: Path, pool: LspPool
) -> None:
    gate = fake_gate(tmp_path, pool)
    judged(gate, one_file("x = 1\n", "x = 2\n"))
    first = pool.running()["fake"]

    crashed = judged(gate, one_file("x = 1\n", "x = 1  # CRASH\n"))
    after = judged(gate, one_file("x = 1\n", "x = 1  # BAD\n"))

    assert not crashed.accepted
    assert crashed.findings_new == ()
    [note] = crashed.notes
    assert note.startswith("unverified: source fake failed")
    assert "exited with status 3" in note
    assert [f.code for f in after.findings_new] == ["FAKE1"]
    assert pool.running()["fake"] != first
    assert pool.starts("fake") == 2


def test_a_server_that_hangs_times_out_with_a_clear_verdict_and_is_restarted(
    tmp_path: Path, pool: LspPool
) -> None:
    gate = fake_gate(tmp_path, pool, replace(FAKE_SPEC, timeout=1.0))

    hung = judged(gate, one_file("x = 1\n", "x = 1  # HANG\n"))
    after = judged(gate, one_file("x = 1\n", "x = 1  # BAD\n"))

    assert not hung.accepted
    [note] = hung.notes
    assert "source fake failed" in note and "no answer within" in note
    assert [f.code for f in after.findings_new] == ["FAKE1"]
    assert pool.starts("fake") == 2


def test_a_failed_source_only_adds_a_note_when_the_policy_accepts(tmp_path: Path, pool: LspPool) -> None:
    policy = GatePolicy(tree_sitter=False, python_compile=False, on_source_failure="accept")

    verdict = judged(fake_gate(tmp_path, pool, policy=policy), one_file("x = 1\n", "x = 1  # CRASH\n"))

    assert verdict.accepted
    [note] = verdict.notes
    assert note.startswith("source fake failed") and "on_source_failure = accept" in note


def test_restarts_back_off_after_failures_in_a_row(
    tmp_path: Path, pool: LspPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lsppool, "RESTART_BACKOFF", 600.0)
    gate = fake_gate(tmp_path, pool)
    crash = one_file("x = 1\n", "x = 1  # CRASH\n")

    judged(gate, crash)
    judged(gate, crash)
    waiting = judged(gate, one_file("x = 1\n", "x = 2\n"))

    assert not waiting.accepted
    assert "failed 2 time(s) in a row" in waiting.notes[0]
    assert "next restart in" in waiting.notes[0]
    assert pool.starts("fake") == 2


def test_a_missing_program_is_noted_as_unavailable_not_rejected(tmp_path: Path, pool: LspPool) -> None:
    spec = replace(FAKE_SPEC, commands=(("podium-no-such-language-server", "--stdio"),))

    verdict = judged(fake_gate(tmp_path, pool, spec), one_file("x = 1\n", "x = 1  # BAD\n"))

    assert verdict.accepted
    assert verdict.notes == ("fake: unavailable (podium-no-such-language-server not found)",)


def test_a_candidate_that_is_not_a_language_server_is_passed_over(tmp_path: Path, pool: LspPool) -> None:
    not_a_server = (sys.executable, "-c", "raise SystemExit(1)")
    spec = replace(FAKE_SPEC, commands=(not_a_server, *FAKE_SPEC.commands))
    only_that = replace(FAKE_SPEC, name="broken", commands=(not_a_server,))

    verdict = judged(fake_gate(tmp_path, pool, spec), one_file("x = 1\n", "x = 1  # BAD\n"))
    unusable = judged(fake_gate(tmp_path, pool, only_that), one_file("x = 1\n", "x = 1  # BAD\n"))

    assert [f.code for f in verdict.findings_new] == ["FAKE1"]
    assert unusable.accepted
    [note] = unusable.notes
    assert note.startswith("broken: unavailable (broken: no command started as a language server")


def test_pushed_diagnostics_are_judged_like_pulled_ones(tmp_path: Path, pool: LspPool) -> None:
    spec = replace(FAKE_SPEC, commands=((sys.executable, str(FAKE), "--push", "--delay", "0.1"),), settle=0.5)
    gate = fake_gate(tmp_path, pool, spec)

    first = judged(gate, one_file("x = 1  # BAD\n", "x = 1  # BAD\ny = 2  # BAD\n"))
    second = judged(gate, one_file("x = 1\n", "x = 1  # WARN\n"))

    assert [f.line for f in first.findings_new] == [2]
    assert [f.line for f in first.findings_preexisting] == [1]
    assert second.accepted and second.findings_new == ()


def test_files_the_server_does_not_handle_are_not_sent(tmp_path: Path, pool: LspPool) -> None:
    verdict = judged(fake_gate(tmp_path, pool), one_file("a = 1 // BAD\n", "a = 2 // BAD\n", path="a.js"))

    assert verdict.sources == ()
    assert pool.starts("fake") == 0


def test_concurrent_checks_on_one_server_each_see_their_own_text(tmp_path: Path, pool: LspPool) -> None:
    gate = fake_gate(tmp_path, pool)
    texts = [f"x = {n}\n" + "y = 1  # BAD\n" * n for n in range(6)]
    start = threading.Barrier(len(texts))

    def check(text: str) -> Callable[[], Verdict]:
        def run() -> Verdict:
            start.wait()
            return gate.check(one_file("x = 0\n", text))

        return run

    with ThreadPoolExecutor(len(texts)) as executor:
        futures = [executor.submit(check(text)) for text in texts]
        verdicts = [future.result(timeout=GUARD) for future in futures]

    assert [len(v.findings_new) for v in verdicts] == list(range(6))
    assert pool.starts("fake") == 1


def test_closing_the_pool_ends_its_server_processes(tmp_path: Path) -> None:
    pool = LspPool()
    judged(fake_gate(tmp_path, pool), one_file("x = 1\n", "x = 2\n"))
    pid = pool.running()["fake"]

    pool.close()

    assert pool.running() == {}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
