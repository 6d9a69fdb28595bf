"""docs/cli.md is a contract: its copy of the verdict schema must be the one the code produces."""

from __future__ import annotations

import json
import re
from pathlib import Path

from podium.verification.verdict import verdict_json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_verdict_schema_in_docs_cli_md_matches_the_code() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "docs/cli.md has no JSON block"
    assert json.loads(blocks[0]) == verdict_json_schema()
