"""Unified diff parsing and strict application, checked against real ``git diff`` output."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from podium.verification.changes import ChangeSet
from podium.verification.errors import InputError
from podium.verification.patch import FilePatch, apply_hunks, apply_patches, parse_unified_diff
from podium.verification.staging import write_changeset

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}

Files = Mapping[str, str]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    return result.stdout.decode("utf-8")


def write_files(root: Path, files: Files) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))


def read_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under root (with .git): type, mode, mtime and a content hash, or a link's target."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            info = path.lstat()
            if path.is_symlink():
                state[str(path)] = f"link {os.readlink(path)}"
            elif path.is_dir():
                state[str(path)] = f"dir {info.st_mode} {info.st_mtime_ns}"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[str(path)] = f"file {info.st_mode} {info.st_mtime_ns} {digest}"
    return state


@contextmanager
def unchanged(root: Path) -> Iterator[None]:
    before = snapshot(root)
    yield
    assert snapshot(root) == before


def git_diff(tmp_path: Path, old: Files, new: Files, *flags: str) -> str:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_files(repo, old)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "old")
    for rel in old:
        (repo / rel).unlink()
    write_files(repo, new)
    git(repo, "add", "-A")
    detection = () if {"-M", "-C"} & set(flags) else ("--no-renames",)
    return git(repo, "diff", "--cached", "--no-color", *detection, *flags)


def round_trip(tmp_path: Path, old: Files, new: Files, *flags: str) -> tuple[str, ChangeSet]:
    """Diff old→new with git, apply the diff to old, and check the result is new (in memory and on disk)."""
    diff = git_diff(tmp_path, old, new, *flags)
    root = tmp_path / "root"
    root.mkdir()
    write_files(root, old)
    with unchanged(root):
        changes = apply_patches(root, parse_unified_diff(diff))
    for change in changes.files:
        assert change.after == new.get(change.path)
    out = tmp_path / "out"
    shutil.copytree(root, out)
    write_changeset(out, changes)
    assert read_files(out) == dict(new)
    return diff, changes


def statuses(changes: ChangeSet) -> dict[str, str]:
    return {change.path: change.status for change in changes.files}


def make_root(tmp_path: Path, files: Files) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    write_files(root, files)
    return root


def apply_error(root: Path, diff: str, **kwargs: int) -> InputError:
    with unchanged(root), pytest.raises(InputError) as caught:
        apply_patches(root, parse_unified_diff(diff), **kwargs)
    return caught.value


def parse_error(diff: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_unified_diff(diff)
    return caught.value


NUMBERS = "".join(f"line {i}\n" for i in range(1, 41))


# Round trips against git


def test_modification_with_several_hunks_round_trips(tmp_path: Path) -> None:
    new = NUMBERS.replace("line 3\n", "line three\n").replace("line 30\n", "line 30\nextra\n")
    diff, changes = round_trip(tmp_path, {"a.txt": NUMBERS}, {"a.txt": new})
    assert diff.count("\n@@ ") == 2
    assert statuses(changes) == {"a.txt": "modified"}


def test_new_file_in_new_directories_round_trips(tmp_path: Path) -> None:
    _, changes = round_trip(tmp_path, {"keep.txt": "k\n"}, {"keep.txt": "k\n", "src/pkg/new.py": "x = 1\n"})
    assert statuses(changes) == {"src/pkg/new.py": "added"}
    assert changes.files[0].before is None


def test_deleted_file_round_trips(tmp_path: Path) -> None:
    _, changes = round_trip(tmp_path, {"keep.txt": "k\n", "dir/gone.txt": "a\nb\n"}, {"keep.txt": "k\n"})
    assert statuses(changes) == {"dir/gone.txt": "deleted"}
    assert changes.files[0].before == "a\nb\n"


def test_empty_new_and_deleted_files_without_hunks_round_trip(tmp_path: Path) -> None:
    diff, changes = round_trip(tmp_path, {"old_empty": "", "k": "k\n"}, {"new_empty": "", "k": "k\n"})
    assert "---" not in diff
    assert statuses(changes) == {"new_empty": "added", "old_empty": "deleted"}


def test_pure_rename_round_trips(tmp_path: Path) -> None:
    diff, changes = round_trip(tmp_path, {"old/name.py": NUMBERS}, {"new/name.py": NUMBERS}, "-M")
    assert "similarity index 100%" in diff and "@@" not in diff
    (change,) = changes.files
    assert (change.path, change.old_path, change.status) == ("new/name.py", "old/name.py", "renamed")
    assert change.before == change.after == NUMBERS


def test_rename_with_content_change_round_trips(tmp_path: Path) -> None:
    new = NUMBERS.replace("line 20\n", "line twenty\n")
    diff, changes = round_trip(tmp_path, {"a.txt": NUMBERS}, {"b.txt": new}, "-M")
    assert "rename from a.txt" in diff and "@@" in diff
    (change,) = changes.files
    assert (change.old_path, change.before, change.after) == ("a.txt", NUMBERS, new)


def test_copy_round_trips_as_an_added_file(tmp_path: Path) -> None:
    diff, changes = round_trip(
        tmp_path, {"a.txt": NUMBERS}, {"a.txt": NUMBERS, "b.txt": NUMBERS}, "-C", "--find-copies-harder"
    )
    assert "copy from a.txt" in diff
    assert statuses(changes) == {"b.txt": "added"}


@pytest.mark.parametrize("old_newline", [True, False])
@pytest.mark.parametrize("new_newline", [True, False])
def test_missing_newline_at_end_of_file_round_trips(
    tmp_path: Path, old_newline: bool, new_newline: bool
) -> None:
    old = "a\nb\nc" + ("\n" if old_newline else "")
    new = "a\nB\nc" + ("\n" if new_newline else "")
    diff, _ = round_trip(tmp_path, {"f": old}, {"f": new})
    assert ("\\ No newline at end of file" in diff) == (not (old_newline and new_newline))


def test_change_far_from_a_missing_final_newline_keeps_it_missing(tmp_path: Path) -> None:
    old = NUMBERS + "last"
    round_trip(tmp_path, {"f": old}, {"f": old.replace("line 2\n", "line two\n")})


def test_appending_to_a_file_without_final_newline_round_trips(tmp_path: Path) -> None:
    round_trip(tmp_path, {"f": "a\nb"}, {"f": "a\nb\nc\n"})


def test_crlf_file_round_trips_byte_for_byte(tmp_path: Path) -> None:
    old = NUMBERS.replace("\n", "\r\n")
    new = old.replace("line 5\r\n", "line five\r\nadded\r\n")
    _, changes = round_trip(tmp_path, {"win.txt": old}, {"win.txt": new})
    assert changes.files[0].after == new


def test_mixed_line_endings_round_trip(tmp_path: Path) -> None:
    old = "a\r\nb\nc\r\nd\n"
    round_trip(tmp_path, {"f": old}, {"f": "a\r\nB\nc\r\nd\r\n"})


def test_single_line_file_with_omitted_hunk_counts_round_trips(tmp_path: Path) -> None:
    diff, _ = round_trip(tmp_path, {"one": "before\n"}, {"one": "after\n"})
    assert "@@ -1 +1 @@" in diff


def test_zero_context_diff_with_pure_insertions_and_deletions_round_trips(tmp_path: Path) -> None:
    new = NUMBERS.replace("line 4\n", "line 4\nins A\nins B\n").replace("line 9\n", "")
    new = "top\n" + new + "bottom\n"
    diff, _ = round_trip(tmp_path, {"f": NUMBERS}, {"f": new}, "-U0")
    assert "@@ -0,0 +1 @@" in diff and ",0 @@" in diff


def test_quoted_names_with_spaces_tabs_and_unicode_round_trip(tmp_path: Path) -> None:
    new = {"with space.txt": "s\n", "tab\there.txt": "t\n", "caf\u00e9/\u00e9t\u00e9.py": "u\n"}
    diff, changes = round_trip(tmp_path, {"k": "k\n"}, {"k": "k\n", **new})
    assert '"b/caf\\303\\251/\\303\\251t\\303\\251.py"' in diff
    assert set(changes.paths) == set(new)


def test_many_files_in_one_diff_come_back_sorted_by_path(tmp_path: Path) -> None:
    old = {"z.txt": "z\n", "m.txt": NUMBERS, "a.txt": "a\n"}
    new = {"z.txt": "zz\n", "m.txt": NUMBERS.replace("line 1\n", ""), "b.txt": "b\n"}
    _, changes = round_trip(tmp_path, old, new)
    assert changes.paths == ("a.txt", "b.txt", "m.txt", "z.txt")
    assert statuses(changes) == {
        "a.txt": "deleted",
        "b.txt": "added",
        "m.txt": "modified",
        "z.txt": "modified",
    }


def test_mode_only_change_yields_no_file_change(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_files(repo, {"run.sh": "echo hi\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "old")
    (repo / "run.sh").chmod(0o755)
    diff = git(repo, "diff", "--no-color")
    assert "new mode 100755" in diff
    root = make_root(tmp_path, {"run.sh": "echo hi\n"})
    with unchanged(root):
        assert apply_patches(root, parse_unified_diff(diff)).files == ()


def test_plain_diff_u_output_applies(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text(NUMBERS)
    (tmp_path / "new.txt").write_text(NUMBERS.replace("line 7\n", "seven\n"))
    result = subprocess.run(
        ["diff", "-u", "--label", "f.txt", "--label", "f.txt", "old.txt", "new.txt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.stdout.startswith("--- f.txt")
    root = make_root(tmp_path, {"f.txt": NUMBERS})
    with unchanged(root):
        changes = apply_patches(root, parse_unified_diff(result.stdout))
    assert changes.files[0].after == NUMBERS.replace("line 7\n", "seven\n")


# Parsing details


def test_parse_reports_paths_for_new_deleted_and_renamed_files() -> None:
    diff = (
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+n\n"
        "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-o\n"
        "diff --git a/x.txt b/y.txt\nsimilarity index 100%\nrename from x.txt\nrename to y.txt\n"
    )
    new, old, renamed = parse_unified_diff(diff)
    assert (new.old_path, new.new_path, new.line) == (None, "new.txt", 1)
    assert (old.old_path, old.new_path, old.line) == ("old.txt", None, 5)
    assert (renamed.old_path, renamed.new_path, renamed.hunks) == ("x.txt", "y.txt", ())


def test_prefixes_are_kept_unless_both_sides_have_them() -> None:
    (patch,) = parse_unified_diff("--- a/x.txt\n+++ a/x.txt\n@@ -1 +1 @@\n-1\n+2\n")
    assert patch.old_path == "a/x.txt"
    (patch,) = parse_unified_diff("--- src/x.txt\t2024-01-01 00:00:00\n+++ src/x.txt\n@@ -1 +1 @@\n-1\n+2\n")
    assert patch.old_path == "src/x.txt"


def test_plain_diff_with_differing_names_changes_the_new_name_rather_than_renaming() -> None:
    (patch,) = parse_unified_diff("--- f.py.orig\t2024-01-01\n+++ f.py\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n")
    assert (patch.old_path, patch.new_path) == ("f.py", "f.py")


def test_markdown_fence_around_a_diff_is_refused_with_a_hint() -> None:
    error = parse_error("```diff\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n```\n")
    assert "diff line 1" in error.message and "code fence" in error.message


def test_git_header_with_spaces_in_names_is_read_without_content_lines() -> None:
    (patch,) = parse_unified_diff(
        "diff --git a/my file b/my file\nnew file mode 100644\nindex 0000000..e69de29\n"
    )
    assert patch == FilePatch(None, "my file", (), False, 1)


def test_whitespace_stripped_empty_context_lines_are_read_as_empty_context() -> None:
    (patch,) = parse_unified_diff("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n")
    assert patch.hunks[0].lines == (" a", " ", "-b", "+B")


def test_hunk_finds_its_lines_when_the_file_has_shifted() -> None:
    diff = "--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n"
    (patch,) = parse_unified_diff(diff)
    assert apply_hunks("f", "x\ny\nz\na\nb\nc\nd\ne\n", patch.hunks) == "x\ny\nz\na\nb\nC\nd\ne\n"


def test_lf_diff_applies_to_crlf_file_keeping_crlf() -> None:
    (patch,) = parse_unified_diff("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")
    assert apply_hunks("f", "a\r\nb\r\nc\r\n", patch.hunks) == "a\r\nB\r\nc\r\n"


def test_diff_with_crlf_line_breaks_applies_to_lf_file_keeping_lf() -> None:
    diff = "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n".replace("\n", "\r\n")
    (patch,) = parse_unified_diff(diff)
    assert apply_hunks("f", "a\nb\nc\n", patch.hunks) == "a\nB\nc\n"


def test_diff_without_newline_marker_keeps_a_missing_final_newline_missing() -> None:
    (patch,) = parse_unified_diff("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n")
    assert apply_hunks("f", "a\nb", patch.hunks) == "A\nb"


# Parse errors


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_diff_is_refused(text: str) -> None:
    assert parse_error(text).message == "empty diff"


def test_garbage_is_refused_with_its_line_number() -> None:
    error = parse_error("\nthis is not a diff\n")
    assert "diff line 2" in error.message and "unexpected text" in error.message


def test_hunk_without_file_header_is_refused() -> None:
    error = parse_error("@@ -1 +1 @@\n-a\n+b\n")
    assert "diff line 1" in error.message and "hunk without a file header" in error.message


def test_diff_ending_inside_a_hunk_is_refused() -> None:
    error = parse_error("--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,3 @@\n a\n-b\n")
    assert error.path == "f.py"
    assert (
        "diff line 3" in error.message
        and "ends inside hunk" in error.message
        and "do not add up" in error.message
    )


def test_more_lines_than_the_hunk_header_counts_are_refused() -> None:
    error = parse_error("--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-a\n+b\n+c\n")
    assert error.path == "f.py"
    assert "diff line 6" in error.message and "do not add up" in error.message


def test_removed_line_beyond_the_old_count_is_refused() -> None:
    error = parse_error("--- a/f.py\n+++ b/f.py\n@@ -1 +1,2 @@\n-a\n-b\n+c\n")
    assert error.path == "f.py"
    assert "diff line 5" in error.message and "expected 0 more old and 2 more new" in error.message


def test_malformed_hunk_header_is_refused() -> None:
    error = parse_error("--- a/f.py\n+++ b/f.py\n@@ -x +1 @@\n-a\n")
    assert error.path == "f.py" and "malformed hunk header" in error.message


def test_minus_line_without_plus_line_is_refused() -> None:
    error = parse_error("--- a/f.py\n@@ -1 +1 @@\n")
    assert "diff line 1" in error.message and "not followed by a '+++' line" in error.message


def test_hunks_out_of_order_are_refused() -> None:
    diff = "--- a/f\n+++ b/f\n@@ -5 +5 @@\n-e\n+E\n@@ -1 +1 @@\n-a\n+A\n"
    error = parse_error(diff)
    assert "diff line 6" in error.message and "overlaps or precedes" in error.message


def test_no_newline_marker_in_the_middle_of_a_side_is_refused() -> None:
    error = parse_error("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n\\ No newline at end of file\n b\n")
    assert "not at the end" in error.message


def test_new_file_hunk_that_keeps_lines_is_refused() -> None:
    error = parse_error("--- /dev/null\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n")
    assert error.path == "f" and "creates the file" in error.message


def test_git_binary_patch_is_refused(tmp_path: Path) -> None:
    diff = git_diff(tmp_path, {}, {"img.bin": "\0\1\2"}, "--binary")
    assert "GIT binary patch" in diff
    error = parse_error(diff)
    assert error.path == "img.bin" and "binary" in error.message


def test_binary_files_differ_line_is_refused(tmp_path: Path) -> None:
    diff = git_diff(tmp_path, {"img.bin": "\0\1"}, {"img.bin": "\0\2"})
    assert "Binary files a/img.bin and b/img.bin differ" in diff
    error = parse_error(diff)
    assert error.path == "img.bin" and "binary" in error.message


def test_plain_binary_files_differ_line_is_refused() -> None:
    error = parse_error("Binary files a/x.png and b/x.png differ\n")
    assert error.path == "x.png" and "binary" in error.message


def test_symlink_in_a_git_diff_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "link").symlink_to("target")
    git(repo, "add", "-A")
    error = parse_error(git(repo, "diff", "--cached"))
    assert error.path == "link" and "symlinks" in error.message


# Apply errors


def test_hunk_that_does_not_apply_names_hunk_line_expected_and_found(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"src/f.py": "a\nb\nc\nd\ne\nf\ng\n"})
    diff = "--- a/src/f.py\n+++ b/src/f.py\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -5,2 +5,2 @@\n e\n-F\n+G\n"
    error = apply_error(root, diff)
    assert error.path == "src/f.py"
    assert "hunk #2 (@@ -5,2 +5,2 @@, diff line 7)" in error.message
    assert "at line 6 expected 'F', found 'f'" in error.message


def test_hunk_beyond_end_of_file_reports_end_of_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\n"})
    error = apply_error(root, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n")
    assert error.path == "f" and "found end of file" in error.message


def test_file_to_modify_that_is_missing_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = apply_error(root, "--- a/missing.py\n+++ b/missing.py\n@@ -1 +1 @@\n-a\n+b\n")
    assert error.path == "missing.py" and "does not exist" in error.message


def test_file_to_add_that_exists_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"there.py": "x\n"})
    error = apply_error(root, "--- /dev/null\n+++ b/there.py\n@@ -0,0 +1 @@\n+y\n")
    assert error.path == "there.py" and "already exists" in error.message


def test_rename_onto_an_existing_file_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a": "a\n", "b": "b\n"})
    error = apply_error(root, "diff --git a/a b/b\nsimilarity index 100%\nrename from a\nrename to b\n")
    assert error.path == "b" and "already exists" in error.message


def test_deletion_that_leaves_content_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\nb\n"})
    error = apply_error(root, "--- a/f\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n")
    assert error.path == "f" and "does not remove all of its content" in error.message


def test_hunk_with_no_newline_marker_that_is_not_at_the_end_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\nb\nc\n"})
    error = apply_error(root, "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+A\n\\ No newline at end of file\n")
    assert error.path == "f" and "does not apply" in error.message


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("../outside.txt", "escapes the root"),
        ("a/../../outside.txt", "escapes the root"),
        ("/etc/passwd", "absolute paths are not allowed"),
        (".git/hooks/pre-commit", "inside .git"),
    ],
)
def test_unsafe_paths_in_a_diff_are_refused(tmp_path: Path, path: str, phrase: str) -> None:
    root = make_root(tmp_path, {"f": "a\n"})
    error = apply_error(root, f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+x\n")
    assert error.path == path and phrase in error.message


def test_path_through_a_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s\n")
    root = make_root(tmp_path, {})
    (root / "link").symlink_to(outside)
    error = apply_error(root, "--- a/link/secret.txt\n+++ b/link/secret.txt\n@@ -1 +1 @@\n-s\n+t\n")
    assert error.path == "link/secret.txt" and "escapes the root" in error.message
    assert (outside / "secret.txt").read_text() == "s\n"


def test_symlinked_file_inside_the_root_is_refused_naming_its_target(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"real.txt": "a\n"})
    (root / "alias.txt").symlink_to("real.txt")
    error = apply_error(root, "--- a/alias.txt\n+++ b/alias.txt\n@@ -1 +1 @@\n-a\n+b\n")
    assert error.path == "alias.txt" and "is a symlink" in error.message and "'real.txt'" in error.message


def test_binary_file_on_disk_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    (root / "data.bin").write_bytes(b"a\n\0b\n")
    error = apply_error(root, "--- a/data.bin\n+++ b/data.bin\n@@ -1 +1 @@\n-a\n+b\n")
    assert error.path == "data.bin" and "binary" in error.message


def test_file_over_the_size_limit_before_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"big.txt": "x" * 50 + "\n"})
    error = apply_error(root, "--- a/big.txt\n+++ b/big.txt\n@@ -1 +1 @@\n-x\n+y\n", max_bytes=40)
    assert error.path == "big.txt" and "51 bytes, over the limit of 40" in error.message


def test_file_over_the_size_limit_after_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f.txt": "x\n"})
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-x\n+" + "y" * 50 + "\n"
    error = apply_error(root, diff, max_bytes=40)
    assert error.path == "f.txt" and "new content is 51 bytes" in error.message


def test_later_patches_see_earlier_ones_in_the_same_diff(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\n"})
    diff = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n"
    with unchanged(root):
        changes = apply_patches(root, parse_unified_diff(diff))
    assert changes.files[0].before == "a\n" and changes.files[0].after == "c\n"
