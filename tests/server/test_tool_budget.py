"""The tool list every agent pays for on each turn stays within its token budget."""

from __future__ import annotations

from podium.server.mcp_adapter import tool_list_token_estimate
from podium.server.tooldocs import scratch_registry

TOOL_LIST_BUDGET = 3000
"""Estimated tokens of the whole tools/list answer, output schemas included."""


def test_the_real_tool_list_fits_the_token_budget() -> None:
    with scratch_registry() as registry:
        full = tool_list_token_estimate(registry)
        seen_by_models = tool_list_token_estimate(registry, include_output_schemas=False)

    print(f"tool list: {full} tokens with output schemas, {seen_by_models} without")
    assert len(registry) == 13
    assert seen_by_models < full < TOOL_LIST_BUDGET
