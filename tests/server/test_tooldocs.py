"""docs/tools.md is generated from the models and must match them."""

from __future__ import annotations

from pathlib import Path

from podium.server.tooldocs import render_tool_docs, scratch_registry

TOOLS_MD = Path(__file__).parents[2] / "docs" / "tools.md"


def test_docs_tools_md_is_up_to_date() -> None:
    with scratch_registry() as registry:
        expected = render_tool_docs(registry)

    assert TOOLS_MD.read_text(encoding="utf-8") == expected, (
        "docs/tools.md is stale: run `python -m podium.server.tooldocs > docs/tools.md`"
    )


def test_the_docs_list_every_tool_with_its_fields_and_the_shared_views() -> None:
    with scratch_registry() as registry:
        text = render_tool_docs(registry)
        names = registry.names

    for name in names:
        assert f"## `{name}`" in text
    for view in ("### TaskView", "### VerdictView", "### FindingView", "### EditInput", "### TaskInput"):
        assert view in text
    assert "| `lease_expires` | number \\| null |" in text
    assert '| `status` | `"ready"` \\| `"blocked"` \\| `"failed"` | required |  |' in text
    assert "podium://missions/{id}/roadmap" in text
