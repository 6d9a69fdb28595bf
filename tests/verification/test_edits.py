"""Edit shapes and their composition, path safety, file reading limits, and writing a ChangeSet."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.edits import (
    DeleteFile,
    DiffEdit,
    Edit,
    SearchReplace,
    WholeFile,
    build_changeset,
    read_text_file,
    safe_relative_path,
    write_changeset,
)
from podium.verification.errors import InputError


def make_root(tmp_path: Path, files: Mapping[str, str], name: str = "root") -> Path:
    root = tmp_path / name
    root.mkdir()
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under root: type, mode, mtime and a content hash, or a link's target."""
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


def build(root: Path, edits: Sequence[Edit], **kwargs: int) -> ChangeSet:
    with unchanged(root):
        return build_changeset(root, edits, **kwargs)


def build_error(root: Path, edits: Sequence[Edit], **kwargs: int) -> InputError:
    with unchanged(root), pytest.raises(InputError) as caught:
        build_changeset(root, edits, **kwargs)
    return caught.value


def files_on_disk(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# Edit shapes


def test_whole_file_creates_a_file_in_new_directories(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    changes = build(root, [WholeFile("pkg/sub/mod.py", "x = 1\n")])
    assert changes.files == (FileChange("pkg/sub/mod.py", None, "x = 1\n"),)


def test_whole_file_replaces_an_existing_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "old\n"})
    assert build(root, [WholeFile("./a.py", "new\n")]).files == (FileChange("a.py", "old\n", "new\n"),)


def test_whole_file_with_the_same_content_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "same\n"})
    assert build(root, [WholeFile("a.py", "same\n")]).files == ()


def test_search_replace_replaces_the_single_match(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "def f():\n    return 1\n"})
    changes = build(root, [SearchReplace("a.py", "return 1", "return 2")])
    assert changes.files == (FileChange("a.py", "def f():\n    return 1\n", "def f():\n    return 2\n"),)


def test_search_replace_without_a_match_is_refused_with_the_count(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "x = 1\n"})
    error = build_error(root, [SearchReplace("a.py", "y = 1", "y = 2")])
    assert error.path == "a.py" and "0 matches" in error.message


def test_search_replace_near_miss_points_at_the_closest_line(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "a = 0\ndef f():\n    return 1\n"})
    error = build_error(root, [SearchReplace("a.py", "def f():\n  return 1\n", "")])
    assert "0 matches" in error.message and "appears at line 2" in error.message


def test_search_replace_with_several_matches_is_refused_with_count_and_lines(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.py": "x = 1\ny = 2\nx = 1\n"})
    error = build_error(root, [SearchReplace("a.py", "x = 1", "x = 3")])
    assert error.path == "a.py" and "matches 2 times (at lines 1, 3)" in error.message


def test_search_replace_counts_overlapping_matches(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.txt": "aaa\n"})
    error = build_error(root, [SearchReplace("a.txt", "aa", "b")])
    assert "matches 2 times" in error.message


def test_search_replace_with_empty_search_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"a.txt": "a\n"})
    error = build_error(root, [SearchReplace("a.txt", "", "b")])
    assert error.path == "a.txt" and "search text is empty" in error.message


def test_search_replace_on_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = build_error(root, [SearchReplace("nope.py", "a", "b")])
    assert error.path == "nope.py" and "does not exist" in error.message


def test_search_replace_with_lf_text_in_a_crlf_file_keeps_crlf(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"w.txt": "a\r\nb\r\nc\r\n"})
    changes = build(root, [SearchReplace("w.txt", "a\nb\n", "A\nB\nB2\n")])
    assert changes.files[0].after == "A\r\nB\r\nB2\r\nc\r\n"


def test_diff_edit_applies_a_unified_diff(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\nb\n"})
    changes = build(root, [DiffEdit("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n")])
    assert changes.files == (FileChange("f", "a\nb\n", "a\nB\n"),)


def test_diff_edit_passes_on_parse_errors(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    assert build_error(root, [DiffEdit("")]).message == "empty diff"


def test_delete_file_deletes(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"gone.py": "x\n"})
    assert build(root, [DeleteFile("gone.py")]).files == (FileChange("gone.py", "x\n", None),)


def test_delete_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = build_error(root, [DeleteFile("gone.py")])
    assert error.path == "gone.py" and "does not exist" in error.message


def test_no_edits_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    assert "no edits" in build_error(root, []).message


# Composition


def test_edits_to_one_file_compose_against_the_original(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "a\nb\nc\n"})
    edits: list[Edit] = [
        DiffEdit("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+A\n"),
        SearchReplace("f", "b\n", "B\n"),
        SearchReplace("f", "A\nB", "AB"),
    ]
    assert build(root, edits).files == (FileChange("f", "a\nb\nc\n", "AB\nc\n"),)


def test_a_created_file_can_be_edited_further(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    changes = build(root, [WholeFile("n.py", "x = 1\n"), SearchReplace("n.py", "1", "2")])
    assert changes.files == (FileChange("n.py", None, "x = 2\n"),)


def test_creating_then_deleting_a_file_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    assert build(root, [WholeFile("n.py", "x\n"), DeleteFile("n.py")]).files == ()


def test_deleting_then_recreating_a_file_is_a_modification(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "old\n"})
    changes = build(root, [DeleteFile("f"), WholeFile("f", "new\n")])
    assert changes.files == (FileChange("f", "old\n", "new\n"),)


def test_a_renamed_file_keeps_its_origin_through_later_edits(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"old.py": "x = 1\n"})
    rename = "diff --git a/old.py b/new.py\nsimilarity index 100%\nrename from old.py\nrename to new.py\n"
    changes = build(root, [DiffEdit(rename), SearchReplace("new.py", "1", "2")])
    assert changes.files == (FileChange("new.py", "x = 1\n", "x = 2\n", old_path="old.py"),)


def test_a_file_cannot_be_created_below_a_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "x\n"})
    error = build_error(root, [WholeFile("f/g.py", "y\n")])
    assert error.path == "f/g.py" and "f is a file" in error.message


def test_a_file_cannot_be_created_over_a_staged_directory(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = build_error(root, [WholeFile("d/g.py", "y\n"), WholeFile("d", "x\n")])
    assert error.path == "d" and "is a directory" in error.message


# Safety shared by every shape


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("../x.py", "escapes the root"),
        ("a/../../x.py", "escapes the root"),
        ("a/../x.py", "'..' components are not allowed; give the normalised path"),
        ("/tmp/x.py", "absolute paths are not allowed"),
        ("C:/x.py", "absolute paths are not allowed"),
        ("a\\b.py", "use '/'"),
        (".git/config", "inside .git"),
        ("sub/.GIT/hooks/x", "inside .git"),
        ("", "empty path"),
        (".", "names the root"),
        ("a\0b", "NUL"),
    ],
)
def test_unsafe_paths_are_refused_by_every_edit_shape(tmp_path: Path, path: str, phrase: str) -> None:
    root = make_root(tmp_path, {"a.py": "a\n"})
    for edit in (WholeFile(path, "x\n"), SearchReplace(path, "a", "b"), DeleteFile(path)):
        error = build_error(root, [edit])
        assert error.path == path and phrase in error.message


def test_whole_file_through_a_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_root(tmp_path, {})
    (root / "out").symlink_to(outside)
    error = build_error(root, [WholeFile("out/x.py", "x\n")])
    assert error.path == "out/x.py" and "escapes the root" in error.message
    assert list(outside.iterdir()) == []


def test_path_through_a_symlinked_directory_inside_the_root_suggests_the_real_path(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"real/x.py": "x\n"})
    (root / "alias").symlink_to("real")
    error = build_error(root, [SearchReplace("alias/x.py", "x", "y")])
    assert error.path == "alias/x.py"
    assert "goes through the symlink alias" in error.message and "edit 'real/x.py' instead" in error.message


def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    (root / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    error = build_error(root, [WholeFile("dangling.py", "x\n")])
    assert error.path == "dangling.py" and "escapes the root" in error.message
    assert not (tmp_path / "nowhere.py").exists()


def test_whole_file_content_with_a_nul_byte_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = build_error(root, [WholeFile("b.txt", "a\0b")])
    assert error.path == "b.txt" and "NUL" in error.message


def test_whole_file_content_over_the_limit_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    error = build_error(root, [WholeFile("big.txt", "\u00e9" * 6)], max_bytes=10)
    assert error.path == "big.txt" and "12 bytes, over the limit of 10" in error.message


def test_search_replace_on_an_invalid_utf8_file_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    (root / "latin1.txt").write_bytes(b"caf\xe9\n")
    error = build_error(root, [SearchReplace("latin1.txt", "caf", "cafe")])
    assert error.path == "latin1.txt" and "not valid UTF-8" in error.message


# safe_relative_path and read_text_file


@pytest.mark.parametrize(
    ("given", "expected"), [("./src//a.py", "src/a.py"), ("src/./a.py", "src/a.py"), ("a.py/", "a.py")]
)
def test_safe_relative_path_normalises(tmp_path: Path, given: str, expected: str) -> None:
    assert safe_relative_path(tmp_path, given) == expected


def test_safe_relative_path_accepts_paths_that_do_not_exist_yet(tmp_path: Path) -> None:
    assert safe_relative_path(tmp_path, "new/deep/file.py") == "new/deep/file.py"


def test_safe_relative_path_works_under_a_symlinked_root(tmp_path: Path) -> None:
    real = make_root(tmp_path, {"a.py": "a\n"}, name="real")
    (tmp_path / "link").symlink_to(real)
    assert safe_relative_path(tmp_path / "link", "a.py") == "a.py"
    assert read_text_file(tmp_path / "link", "a.py") == "a\n"


def test_read_text_file_returns_none_for_missing_files(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"f": "x\n"})
    assert read_text_file(root, "missing.py") is None
    assert read_text_file(root, "f/below.py") is None


def test_read_text_file_keeps_line_endings_exactly(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    (root / "w.txt").write_bytes(b"a\r\nb\rc\n\xef\xbb\xbfd")
    assert read_text_file(root, "w.txt") == "a\r\nb\rc\n\ufeffd"


def test_read_text_file_allows_exactly_max_bytes(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"ok.txt": "x" * 10, "big.txt": "x" * 11})
    assert read_text_file(root, "ok.txt", 10) == "x" * 10
    with pytest.raises(InputError, match="big.txt: file is 11 bytes, over the limit of 10") as caught:
        read_text_file(root, "big.txt", 10)
    assert caught.value.path == "big.txt"


def test_read_text_file_refuses_a_nul_byte_in_the_first_8_kb(tmp_path: Path) -> None:
    root = make_root(tmp_path, {})
    (root / "late.txt").write_bytes(b"x" * 9000 + b"\0")
    (root / "early.bin").write_bytes(b"x" * 8000 + b"\0")
    assert read_text_file(root, "late.txt") == "x" * 9000 + "\0"
    with pytest.raises(InputError, match="binary") as caught:
        read_text_file(root, "early.bin")
    assert caught.value.path == "early.bin"


def test_read_text_file_refuses_a_directory(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"d/x": "x\n"})
    with pytest.raises(InputError, match="is a directory") as caught:
        read_text_file(root, "d")
    assert caught.value.path == "d"


def test_missing_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a directory"):
        build_changeset(tmp_path / "absent", [WholeFile("a", "x")])


# write_changeset


def test_write_changeset_materialises_every_kind_of_change(tmp_path: Path) -> None:
    files = {"mod.py": "a\n", "gone/deep/x.py": "x\n", "old/name.py": "n\n", "keep.py": "k\n"}
    root = make_root(tmp_path, files)
    edits: list[Edit] = [
        SearchReplace("mod.py", "a", "b"),
        DeleteFile("gone/deep/x.py"),
        DiffEdit("diff --git a/old/name.py b/new/name.py\nrename from old/name.py\nrename to new/name.py\n"),
        WholeFile("added/w.txt", "w\r\nx\r\n"),
    ]
    changes = build(root, edits)
    target = make_root(tmp_path, files, name="target")
    write_changeset(target, changes)
    assert files_on_disk(target) == {
        "added/w.txt": "w\nx\n",
        "keep.py": "k\n",
        "mod.py": "b\n",
        "new/name.py": "n\n",
    }
    assert (target / "added/w.txt").read_bytes() == b"w\r\nx\r\n"
    assert sorted(p.name for p in target.iterdir()) == ["added", "keep.py", "mod.py", "new"]


def test_write_changeset_handles_two_files_swapping_names(tmp_path: Path) -> None:
    changes = ChangeSet(
        (FileChange("a", "B\n", "B\n", old_path="b"), FileChange("b", "A\n", "A\n", old_path="a"))
    )
    target = make_root(tmp_path, {"a": "A\n", "b": "B\n"})
    write_changeset(target, changes)
    assert files_on_disk(target) == {"a": "B\n", "b": "A\n"}


def test_write_changeset_refuses_unsafe_paths_before_writing_anything(tmp_path: Path) -> None:
    target = make_root(tmp_path, {"a": "A\n"})
    changes = ChangeSet((FileChange("a", "A\n", "changed\n"), FileChange("../escape", None, "x\n")))
    with unchanged(target), pytest.raises(InputError, match="escapes the root") as caught:
        write_changeset(target, changes)
    assert caught.value.path == "../escape"
    assert not (tmp_path / "escape").exists()


def test_write_changeset_refuses_writing_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = make_root(tmp_path, {})
    (target / "link").symlink_to(outside)
    with unchanged(target), pytest.raises(InputError, match="escapes the root"):
        write_changeset(target, ChangeSet((FileChange("link/x", None, "x\n"),)))
    assert list(outside.iterdir()) == []


def test_write_changeset_reports_a_file_in_the_way_of_a_directory(tmp_path: Path) -> None:
    target = make_root(tmp_path, {"f": "x\n"})
    with pytest.raises(InputError, match="cannot write") as caught:
        write_changeset(target, ChangeSet((FileChange("f/g", None, "y\n"),)))
    assert caught.value.path == "f/g"
