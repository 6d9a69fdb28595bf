"""Which tree-sitter grammar parses a file, chosen by its extension.

Grammars come from the official ``tree_sitter_<name>`` wheels and are loaded only when a file of that
language is first seen. Each language also lists its *definition* node types (functions, classes,
structs, impls …) and the fields that hold their names, so a finding can say which definition it sits
in. That table is data: adding a language is adding a row.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from types import MappingProxyType

import tree_sitter as ts

from podium.verification.errors import VerificationError

_NAME: tuple[str, ...] = ("name",)


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """A language the syntax check knows.

    Attributes:
        name: stable identifier used in notes and findings ("python", "tsx", …).
        module: the grammar wheel's import name.
        function: the wheel's function returning the grammar pointer.
        extensions: lower-case suffixes, dot included.
        definitions: definition node type → fields tried in order for its name; an empty tuple means
            the first named child is the name (TOML tables have no name field).
    """

    name: str
    module: str
    function: str
    extensions: tuple[str, ...]
    definitions: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )


_JS_DEFS = {
    "function_declaration": _NAME,
    "generator_function_declaration": _NAME,
    "function_expression": _NAME,
    "class_declaration": _NAME,
    "class": _NAME,
    "method_definition": _NAME,
}
_TS_DEFS = {
    **_JS_DEFS,
    "abstract_class_declaration": _NAME,
    "interface_declaration": _NAME,
    "type_alias_declaration": _NAME,
    "enum_declaration": _NAME,
    "internal_module": _NAME,
    "function_signature": _NAME,
    "method_signature": _NAME,
    "abstract_method_signature": _NAME,
}
_C_DEFS = {
    "function_definition": ("declarator",),
    "struct_specifier": _NAME,
    "union_specifier": _NAME,
    "enum_specifier": _NAME,
}
_RUST_DEFS = {
    "function_item": _NAME,
    "function_signature_item": _NAME,
    "struct_item": _NAME,
    "enum_item": _NAME,
    "union_item": _NAME,
    "trait_item": _NAME,
    "impl_item": ("type",),
    "mod_item": _NAME,
    "macro_definition": _NAME,
}
_JAVA_DEFS = {
    "class_declaration": _NAME,
    "interface_declaration": _NAME,
    "enum_declaration": _NAME,
    "record_declaration": _NAME,
    "annotation_type_declaration": _NAME,
    "method_declaration": _NAME,
    "constructor_declaration": _NAME,
}
_C_SHARP_DEFS = {
    "namespace_declaration": _NAME,
    "file_scoped_namespace_declaration": _NAME,
    "class_declaration": _NAME,
    "struct_declaration": _NAME,
    "interface_declaration": _NAME,
    "enum_declaration": _NAME,
    "record_declaration": _NAME,
    "method_declaration": _NAME,
    "constructor_declaration": _NAME,
    "property_declaration": _NAME,
    "local_function_statement": _NAME,
}
_PHP_DEFS = {
    "namespace_definition": _NAME,
    "class_declaration": _NAME,
    "interface_declaration": _NAME,
    "trait_declaration": _NAME,
    "enum_declaration": _NAME,
    "function_definition": _NAME,
    "method_declaration": _NAME,
}


def _spec(
    name: str,
    module: str,
    extensions: tuple[str, ...],
    definitions: Mapping[str, tuple[str, ...]] | None = None,
    function: str = "language",
) -> LanguageSpec:
    return LanguageSpec(name, module, function, extensions, MappingProxyType(dict(definitions or {})))


LANGUAGES: tuple[LanguageSpec, ...] = (
    _spec(
        "python",
        "tree_sitter_python",
        (".py", ".pyi"),
        {"function_definition": _NAME, "class_definition": _NAME},
    ),
    _spec("javascript", "tree_sitter_javascript", (".js", ".mjs", ".cjs", ".jsx"), _JS_DEFS),
    _spec("typescript", "tree_sitter_typescript", (".ts", ".mts", ".cts"), _TS_DEFS, "language_typescript"),
    _spec("tsx", "tree_sitter_typescript", (".tsx",), _TS_DEFS, "language_tsx"),
    _spec(
        "go",
        "tree_sitter_go",
        (".go",),
        {"function_declaration": _NAME, "method_declaration": _NAME, "type_spec": _NAME},
    ),
    _spec("rust", "tree_sitter_rust", (".rs",), _RUST_DEFS),
    _spec("java", "tree_sitter_java", (".java",), _JAVA_DEFS),
    _spec("c", "tree_sitter_c", (".c", ".h"), _C_DEFS),
    _spec(
        "cpp",
        "tree_sitter_cpp",
        (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"),
        {**_C_DEFS, "class_specifier": _NAME, "namespace_definition": _NAME},
    ),
    _spec("c_sharp", "tree_sitter_c_sharp", (".cs",), _C_SHARP_DEFS),
    _spec(
        "ruby",
        "tree_sitter_ruby",
        (".rb",),
        {"method": _NAME, "singleton_method": _NAME, "class": _NAME, "module": _NAME},
    ),
    _spec("php", "tree_sitter_php", (".php",), _PHP_DEFS, "language_php"),
    _spec("bash", "tree_sitter_bash", (".sh", ".bash"), {"function_definition": _NAME}),
    _spec("json", "tree_sitter_json", (".json",), {"pair": ("key",)}),
    _spec("yaml", "tree_sitter_yaml", (".yml", ".yaml"), {"block_mapping_pair": ("key",)}),
    _spec("toml", "tree_sitter_toml", (".toml",), {"table": (), "table_array_element": ()}),
    _spec("html", "tree_sitter_html", (".html", ".htm")),
    _spec("css", "tree_sitter_css", (".css",)),
)

_BY_EXTENSION: Mapping[str, LanguageSpec] = MappingProxyType(
    {ext: spec for spec in LANGUAGES for ext in spec.extensions}
)
_local = threading.local()


def language_for_path(path: str) -> LanguageSpec | None:
    """The language of ``path`` by its extension (case-insensitive), or ``None`` when unknown."""
    return _BY_EXTENSION.get(PurePosixPath(path).suffix.lower())


@cache
def grammar(spec: LanguageSpec) -> ts.Language:
    """The loaded tree-sitter grammar of ``spec``, loaded once per process.

    Raises:
        VerificationError: the grammar wheel is missing or incompatible with the tree-sitter library.
    """
    try:
        module = importlib.import_module(spec.module)
        pointer: object = getattr(module, spec.function)()
        return ts.Language(pointer)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise VerificationError(f"cannot load the tree-sitter grammar for {spec.name}: {exc}") from exc


def parser(spec: LanguageSpec) -> ts.Parser:
    """A parser for ``spec``, cached per thread because tree-sitter parsers are not thread-safe."""
    parsers: dict[str, ts.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = {}
        _local.parsers = parsers
    found = parsers.get(spec.name)
    if found is None:
        found = ts.Parser(grammar(spec))
        parsers[spec.name] = found
    return found
