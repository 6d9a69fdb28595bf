from __future__ import annotations

from podium.verification.delta import classify
from podium.verification.findings import Finding
from podium.verification.linemap import LineMap

TEXT = "\n".join(f"line {n}" for n in range(1, 41)) + "\n"


def finding(
    line: int,
    *,
    column: int = 1,
    end_line: int | None = None,
    excerpt: str = "x +",
    message: str = "syntax error near `x +`",
    symbol: str = "f",
    source: str = "tree-sitter",
    code: str = "syntax-error",
) -> Finding:
    return Finding(
        source=source,
        code=code,
        message=message,
        path="a.py",
        line=line,
        column=column,
        end_line=end_line if end_line is not None else line,
        end_column=column + 1,
        symbol=symbol,
        excerpt=excerpt,
    )


def lines(text: str) -> list[str]:
    return text.split("\n")


def edit(text: str, *, insert_at: int | None = None, count: int = 0, replace: int | None = None) -> str:
    rows = lines(text)
    if insert_at is not None:
        rows[insert_at - 1 : insert_at - 1] = [f"inserted {n}" for n in range(count)]
    if replace is not None:
        rows[replace - 1] = "replaced"
    return "\n".join(rows)


def test_untouched_finding_is_preexisting() -> None:
    after = edit(TEXT, replace=30)

    delta = classify([finding(10)], [finding(10)], LineMap.between(TEXT, after))

    assert delta.new == ()
    assert delta.preexisting == (finding(10),)


def test_finding_pushed_down_by_inserted_lines_is_preexisting() -> None:
    after = edit(TEXT, insert_at=3, count=5)

    delta = classify([finding(10)], [finding(15)], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_finding_in_place_survives_a_renamed_enclosing_definition() -> None:
    after = edit(TEXT, replace=8)

    delta = classify([finding(10, symbol="old")], [finding(10, symbol="new")], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_finding_in_a_moved_block_is_preexisting() -> None:
    rows = lines(TEXT)
    moved = rows[8:12]
    after = "\n".join(rows[:8] + rows[12:35] + moved + rows[35:])

    delta = classify([finding(10)], [finding(33)], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_error_that_persists_on_an_edited_line_is_preexisting() -> None:
    after = edit(TEXT, replace=10)

    delta = classify([finding(10, column=5)], [finding(10, column=9)], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_identical_errors_are_matched_as_a_multiset() -> None:
    after = edit(TEXT, replace=30)
    before = [finding(5), finding(20)]
    now = [finding(5), finding(20), finding(30)]

    delta = classify(before, now, LineMap.between(TEXT, after))

    assert delta.new == (finding(30),)
    assert delta.preexisting == (finding(5), finding(20))


def test_fixing_one_error_and_making_another_elsewhere_leaves_exactly_the_new_one() -> None:
    after = edit(edit(TEXT, replace=5), replace=30)
    fixed = finding(5, excerpt="y =", message="syntax error near `y =`")
    made = finding(30, excerpt="z *", message="syntax error near `z *`")

    delta = classify([fixed, finding(20)], [finding(20), made], LineMap.between(TEXT, after))

    assert delta.new == (made,)
    assert delta.preexisting == (finding(20),)


def test_syntax_error_region_that_grew_with_nearby_edits_is_preexisting() -> None:
    # tree-sitter's ERROR swallowed lines 10-11 before and 10-12 after an edit inside it.
    after = edit(edit(TEXT, replace=11), insert_at=12, count=1)
    before = finding(
        10, end_line=11, excerpt="x := [1, 2 y := 3", message="syntax error near `x := [1, 2 y := 3`"
    )
    now = finding(
        10, end_line=12, excerpt="x := [1, 2 y := 4 z", message="syntax error near `x := [1, 2 y := 4 z`"
    )

    delta = classify([before], [now], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_missing_node_that_became_an_error_region_in_place_is_preexisting() -> None:
    after = edit(TEXT, replace=10)
    before = finding(10, code="missing-node", excerpt="<missing )> (2", message="missing ')'")
    now = finding(10, code="syntax-error", excerpt="(3;", message="syntax error near `(3;`")

    delta = classify([before], [now], LineMap.between(TEXT, after))

    assert delta.new == ()


def test_other_sources_need_the_same_message_to_count_as_drifted() -> None:
    after = edit(TEXT, replace=10)
    before = finding(10, source="pyright", code="undefined", message="x is not defined", excerpt="x")
    same = finding(10, column=4, source="pyright", code="undefined", message="x is not defined", excerpt="x ")
    other = finding(10, source="pyright", code="undefined", message="y is not defined", excerpt="y")
    linemap = LineMap.between(TEXT, after)

    assert classify([before], [same], linemap).new == ()
    assert classify([before], [other], linemap).new == (other,)


def test_a_finding_far_from_any_old_one_is_new() -> None:
    after = edit(TEXT, replace=30)

    delta = classify(
        [finding(10, excerpt="a")], [finding(10, excerpt="a"), finding(30)], LineMap.between(TEXT, after)
    )

    assert delta.new == (finding(30),)


def test_every_finding_of_an_added_file_is_new() -> None:
    delta = classify([], [finding(2), finding(1)], None)

    assert delta.new == (finding(1), finding(2))
    assert delta.preexisting == ()


def test_incomplete_before_check_does_not_blame_the_edit_for_untouched_lines() -> None:
    after = edit(TEXT, replace=5)
    hidden = finding(20, source="python-compile", code="compile-error", message="'return' outside function")
    made = finding(5, source="python-compile", code="compile-error", message="'return' outside function")
    linemap = LineMap.between(TEXT, after)

    assert classify([], [hidden, made], linemap, before_complete=False).new == (made,)
    assert classify([], [hidden, made], linemap, before_complete=True).new == (made, hidden)


def test_findings_are_returned_in_file_order() -> None:
    after = edit(TEXT, replace=1)

    delta = classify([], [finding(30), finding(3), finding(12)], LineMap.between(TEXT, after))

    assert [f.line for f in delta.new] == [3, 12, 30]
