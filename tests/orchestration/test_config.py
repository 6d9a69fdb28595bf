"""`podium.toml`'s `[gate]` diagnostics keys: defaults, overrides, and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from podium.orchestration.config import DEFAULT_CONFIG, config_json_schema, parse_config
from podium.verification.errors import ConfigError


def gate(**section: Any) -> dict[str, Any]:
    return {"gate": section}


def test_defaults_ask_ruff_and_basedpyright_for_python_and_the_typescript_server_for_typescript() -> None:
    languages = DEFAULT_CONFIG.gate.languages

    assert languages["python"] == ["ruff", "basedpyright"]
    assert languages["typescript"] == languages["tsx"] == languages["javascript"] == ["tsserver"]
    assert DEFAULT_CONFIG.gate.diagnostics
    assert DEFAULT_CONFIG.gate.on_source_failure == "reject"
    assert DEFAULT_CONFIG.gate.deny_rules == ["E9", "F63", "F7", "F82"]


def test_a_language_listed_replaces_only_its_own_sources() -> None:
    config = parse_config(gate(languages={"python": ["basedpyright"]}))

    assert config.gate.languages["python"] == ["basedpyright"]
    assert config.gate.languages["typescript"] == ["tsserver"]


def test_a_new_source_can_be_defined_and_used() -> None:
    config = parse_config(
        gate(
            sources={
                "mylint": {
                    "kind": "cli",
                    "commands": [["mylint", "--json", "{files}"]],
                    "output_format": "ruff",
                }
            },
            languages={"python": ["ruff", "mylint"]},
        )
    )

    assert config.gate.sources["mylint"].commands == [["mylint", "--json", "{files}"]]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (gate(languages={"python": ["rufff"]}), "unknown source 'rufff' for python (known: basedpyright"),
        (gate(languages={"cobol": ["ruff"]}), "unknown language 'cobol' (known: bash"),
        (
            gate(sources={"mylint": {"kind": "lsp"}}),
            "source 'mylint' is not built in, so it needs 'commands'",
        ),
        (
            gate(sources={"mylint": {"kind": "cli", "commands": [["mylint"]]}}),
            "cli source 'mylint' needs 'output_format'",
        ),
        (gate(sources={"ruff": {"timeout": 0}}), "'gate.sources.ruff.timeout' = 0 is not allowed"),
        (gate(sources={"ruff": {"commands": [[""]]}}), "'gate.sources.ruff.commands'"),
        (gate(sources={"ruff": {"diagnostics": "poll"}}), "'gate.sources.ruff.diagnostics' = \"poll\""),
        (gate(on_source_failure="ignore"), "'gate.on_source_failure' = \"ignore\""),
        (gate(deny_rules=["ruff: F821"]), "'gate.deny_rules'"),
    ],
)
def test_a_bad_gate_value_is_an_error_naming_its_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="podium.toml: ") as caught:
        parse_config(raw)

    assert message in caught.value.message


def test_an_unknown_key_in_a_source_names_the_keys_a_source_allows() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(gate(sources={"ruff": {"comand": ["ruff"]}}))

    assert (
        "unknown key 'gate.sources.ruff.comand' (allowed here: commands, diagnostics," in caught.value.message
    )


def test_the_schema_describes_source_tables() -> None:
    schema = config_json_schema()

    assert "SourceConfig" in schema["$defs"]
    assert "timeout" in schema["$defs"]["SourceConfig"]["properties"]
