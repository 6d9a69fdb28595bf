from __future__ import annotations

import random

import pytest

from podium.verification.linemap import LineMap

BEFORE = "a\nb\nc\nd\ne\n"


def test_unchanged_text_maps_every_line_to_itself() -> None:
    linemap = LineMap.between(BEFORE, BEFORE)

    assert [linemap.exact(n) for n in range(1, 6)] == [1, 2, 3, 4, 5]
    assert all(linemap.is_unchanged(n) for n in range(1, 6))


def test_inserted_lines_shift_the_lines_below() -> None:
    linemap = LineMap.between(BEFORE, "new\nnewer\na\nb\nc\nd\ne\n")

    assert [linemap.exact(n) for n in range(1, 6)] == [3, 4, 5, 6, 7]
    assert not linemap.is_unchanged(1)
    assert linemap.is_unchanged(3)


def test_an_edited_line_has_no_exact_match_but_maps_to_its_replacement() -> None:
    linemap = LineMap.between(BEFORE, "a\nb\nC1\nC2\nd\ne\n")

    assert linemap.exact(3) is None
    assert linemap.span(3, 3) == (3, 4)
    assert linemap.exact(4) == 5


def test_a_deleted_line_maps_to_the_gap_it_left() -> None:
    linemap = LineMap.between(BEFORE, "a\nb\nd\ne\n")

    assert linemap.exact(3) is None
    assert linemap.span(3, 3) == (2, 3)
    assert linemap.exact(4) == 3


def test_a_span_covers_everything_its_lines_became() -> None:
    linemap = LineMap.between(BEFORE, "a\nB\nB2\nc\nd\ne\n")

    assert linemap.span(1, 3) == (1, 4)


def test_a_moved_block_is_deleted_in_one_place_and_inserted_in_another() -> None:
    linemap = LineMap.between("x\ny\nz\n1\n2\n", "1\n2\nx\ny\nz\n")

    # The diff keeps the longer run in place; the shorter one is deleted and re-inserted.
    kept = [n for n in range(1, 6) if linemap.exact(n) is not None]
    assert kept in ([1, 2, 3], [4, 5])


def test_unchanged_map_for_a_file_outside_the_edit() -> None:
    linemap = LineMap.unchanged(10)

    assert linemap.exact(7) == 7
    assert linemap.span(2, 4) == (2, 4)


def test_large_files_with_a_local_edit_map_exactly() -> None:
    lines = [f"line {n}" for n in range(5000)]
    after = lines[:2500] + ["inserted"] + lines[2500:]

    linemap = LineMap.between("\n".join(lines), "\n".join(after))

    assert linemap.exact(2500) == 2500
    assert linemap.exact(2501) == 2502
    assert linemap.exact(5000) == 5001


def random_edit(rows: list[str], rng: random.Random) -> list[str]:
    rows = list(rows)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(rows) + 1)
        kind = rng.choice(["insert", "delete", "replace", "move"])
        if kind == "insert":
            rows[at:at] = [rng.choice(["}", "", "x = 1", f"new {at}"]) for _ in range(rng.randint(1, 4))]
        elif kind == "delete":
            del rows[at : at + rng.randint(1, 4)]
        elif kind == "replace" and at < len(rows):
            rows[at] = f"changed {at}"
        elif kind == "move":
            chunk = rows[at : at + rng.randint(1, 8)]
            del rows[at : at + len(chunk)]
            target = rng.randrange(len(rows) + 1)
            rows[target:target] = chunk
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_exact_mappings_always_join_equal_lines_in_order(seed: int) -> None:
    rng = random.Random(seed)
    old = [rng.choice(["}", "", "return x", "{", f"line {n}"]) for n in range(rng.randint(1, 80))]
    new = random_edit(old, rng)

    linemap = LineMap.between("\n".join(old), "\n".join(new))

    mapped = [(n, linemap.exact(n)) for n in range(1, len(old) + 1)]
    pairs = [(o, m) for o, m in mapped if m is not None]
    assert all(old[o - 1] == new[m - 1] for o, m in pairs)
    assert [m for _, m in pairs] == sorted({m for _, m in pairs})
    covered = [row for b in linemap.blocks for row in range(b.old_start, b.old_end)]
    assert covered == list(range(len(old)))


def test_a_rearranged_file_of_repeated_lines_is_still_anchored_on_its_unique_lines() -> None:
    functions = [f"def f{n}():\n    x = 1\n    return x\n" for n in range(300)]
    shuffled = functions[100:] + functions[:100]

    linemap = LineMap.between("".join(functions), "".join(shuffled))

    # The larger part stays in order and maps exactly, body lines included; the rest moved.
    assert linemap.exact(301) == 1
    assert linemap.exact(303) == 3
    assert linemap.exact(1) is None
