"""Generate a small JSON instance that validates against a (Draft 7) JSON Schema.

The emulator uses it as a finished session's ``structured_output``, so that a pipeline that
validates Devin's output against the schema it sent can be tested end to end. Local ``$ref``s
(``#/definitions/...``, ``#/$defs/...``) are followed; the candidate is checked with
``jsonschema`` and, where a schema offers choices (``type`` lists, ``oneOf``/``anyOf``), the
first choice that validates against the whole schema wins.

:class:`Hints` let the caller suggest values by where they sit (the property names on the way
down), so the instance can say something true about the session; a suggestion is used only where
it validates, and when the hinted instance does not validate as a whole, the plain one is returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from jsonschema import Draft7Validator

try:  # Python 3.11+
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_FORMAT_EXAMPLES = {
    "date-time": "2026-01-01T00:00:00+00:00",
    "date": "2026-01-01",
    "time": "00:00:00+00:00",
    "email": "devin@example.com",
    "idn-email": "devin@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uri": "https://example.com/emulator",
    "uri-reference": "https://example.com/emulator",
    "iri": "https://example.com/emulator",
    "iri-reference": "https://example.com/emulator",
    "uri-template": "https://example.com/{id}",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "json-pointer": "/emulator",
    "relative-json-pointer": "0",
    "regex": ".*",
    "duration": "P1D",
}
_MAX_DEPTH = 24
#: The path step for "an item of this array" (see :class:`Hints`).
ITEM = "[]"

Path = tuple[str, ...]


class Hints(Protocol):
    """Suggestions for :func:`generate_instance`, by path: the property names from the root, with
    :data:`ITEM` for an array item (``("pull_requests", "[]", "url")``)."""

    def values(self, path: Path, types: Sequence[str]) -> list[Any]:
        """Values to try first for a node of these JSON types (each is checked against the schema).

        :param path: where the node is.
        :param types: the JSON types the node's schema allows, most useful first.
        """
        ...

    def wanted(self, path: Path, types: Sequence[str]) -> bool:
        """Whether an optional property (or one array item, when none is required) is worth producing.

        :param path: where the property or item would be.
        :param types: the JSON types its schema allows.
        """
        ...


class SchemaInstanceError(ValueError):
    """No instance could be generated (for example the schema is ``false`` or contradictory)."""


def generate_instance(schema: Any, hints: Hints | None = None) -> Any:
    """Return a small instance of ``schema``; raises :class:`SchemaInstanceError` if none is found.

    :param schema: a self-contained JSON Schema (Draft 7), as a dict or a boolean.
    :param hints: suggested values by path (see :class:`Hints`); without them, or when the hinted
        instance does not validate, the plain instance is returned.
    """
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    for attempt in [hints, None] if hints is not None else [None]:
        generator = _Generator(schema, validator, attempt)
        try:
            candidates = generator.candidates(schema, depth=0)
        except SchemaInstanceError:
            if attempt is None:
                raise
            continue
        for candidate in candidates:
            if validator.is_valid(candidate):
                return candidate
    raise SchemaInstanceError("could not generate an instance that validates against the schema")


class _Generator:
    def __init__(self, root: Any, validator: Draft7Validator, hints: Hints | None = None) -> None:
        self.root = root
        self.validator = validator
        self.hints = hints

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
            target = self._pointer(schema["$ref"])
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = target if not siblings or not isinstance(target, dict) else {**target, **siblings}
            seen += 1
        return schema

    def _pointer(self, ref: str) -> Any:
        """Follow a local ``$ref`` (``#``, ``#/definitions/x``, ``#/$defs/x``...) from the root."""
        if not ref.startswith("#"):
            raise SchemaInstanceError(f"only local $ref are supported, got {ref!r}")
        node = self.root
        for part in ref[1:].split("/")[1:]:
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise SchemaInstanceError(f"cannot resolve $ref {ref!r}")
        return node

    # -- candidates -------------------------------------------------------------------------

    def candidates(self, schema: Any, depth: int, variant: int = 0, path: Path = ()) -> list[Any]:
        """A few instances to try, best first; each checked by the caller."""
        if depth > _MAX_DEPTH:
            return [None]
        schema = self.resolve(schema)
        if schema is True or schema == {}:
            return [{}, None] if depth == 0 else [None, {}]
        if schema is False or not isinstance(schema, dict):
            return []
        if "const" in schema:
            return [schema["const"]]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return list(schema["enum"])
        schema = self._merge_all_of(schema, depth)
        for keyword in ("oneOf", "anyOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                base = {k: v for k, v in schema.items() if k != keyword}
                found: list[Any] = []
                for branch in branches:
                    merged = _merge(base, self.resolve(branch))
                    found.extend(self.candidates(merged, depth + 1, variant, path))
                return found
        if isinstance(schema.get("if"), dict) and "then" in schema:
            base = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
            with_then = _merge(base, self.resolve(schema["then"]))
            found = self.candidates(with_then, depth + 1, variant, path)
            if isinstance(schema.get("else"), dict):
                found += self.candidates(_merge(base, self.resolve(schema["else"])), depth + 1, variant, path)
            return found + self.candidates(base, depth + 1, variant, path)
        types = self._types(schema)
        found = list(self.hints.values(path, types)) if self.hints is not None else []
        for type_name in types:
            found.extend(self._for_type(type_name, schema, depth, variant, path))
        return found

    def first(self, schema: Any, depth: int, variant: int = 0, path: Path = ()) -> Any:
        """The first candidate valid against ``schema`` on its own (falls back to the first one)."""
        options = self.candidates(schema, depth, variant, path)
        if not options:
            raise SchemaInstanceError("a subschema accepts no value")
        resolved = self.resolve(schema)
        if isinstance(resolved, (dict, bool)):
            sub = self.validator.evolve(schema=resolved)
            for option in options:
                if sub.is_valid(option):
                    return option
        return options[0]

    def _merge_all_of(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        parts = schema.get("allOf")
        if not isinstance(parts, list):
            return schema
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in parts:
            merged = _merge(merged, self._merge_all_of(self.resolve(part), depth + 1))
        return merged

    @staticmethod
    def _types(schema: dict[str, Any]) -> list[str]:
        declared = schema.get("type")
        if isinstance(declared, str):
            return [declared]
        if isinstance(declared, list) and declared:
            # A real value is a more useful output than null, so null goes last.
            return sorted(declared, key=lambda name: name == "null")
        if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
            return ["object"]
        if any(k in schema for k in ("items", "minItems", "maxItems", "contains", "uniqueItems")):
            return ["array"]
        if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
            return ["string"]
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            return ["number"]
        if "multipleOf" in schema:
            return ["integer"]
        return ["object", "null"]

    def _wanted(self, schema: Any, path: Path) -> bool:
        """Whether the hints ask for an optional node (never one with an ``enum`` or ``const``)."""
        if self.hints is None:
            return False
        resolved = self.resolve(schema)
        if not isinstance(resolved, dict) or "enum" in resolved or "const" in resolved:
            return False
        types = self._types(resolved)
        items = resolved.get("items")
        if types == ["array"] and isinstance(items, dict) and (not path or path[-1] != ITEM):
            return self._wanted(items, (*path, ITEM))  # a list worth one item is worth producing
        return self.hints.wanted(path, types)

    def _for_type(self, type_name: str, schema: dict[str, Any], depth: int, variant: int, path: Path) -> list[Any]:
        if type_name == "null":
            return [None]
        if type_name == "boolean":
            return [False, True]
        if type_name == "integer":
            return [_number(schema, integer=True, variant=variant)]
        if type_name == "number":
            return [_number(schema, integer=False, variant=variant)]
        if type_name == "string":
            return _strings(schema, variant)
        if type_name == "array":
            return [self._array(schema, depth, path)]
        if type_name == "object":
            return [self._object(schema, depth, variant, path)]
        return []

    def _object(self, schema: dict[str, Any], depth: int, variant: int = 0, path: Path = ()) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        if not isinstance(properties, dict):
            properties = {}
        required = [name for name in schema.get("required", []) if isinstance(name, str)]
        dependencies: dict[str, Any] = schema.get("dependencies") or {}
        if not isinstance(dependencies, dict):
            dependencies = {}
        wanted = list(dict.fromkeys(required))
        min_properties = int(schema.get("minProperties", 0) or 0)
        for name in properties:
            if len(wanted) >= min_properties:
                break
            if name not in wanted:
                wanted.append(name)
        max_properties = schema.get("maxProperties")
        for name, subschema in properties.items():
            full = isinstance(max_properties, int) and len(wanted) >= max_properties
            if not full and name not in wanted and self._wanted(subschema, (*path, name)):
                wanted.append(name)
        # dependencies: {"a": ["b"]} means b is required when a is present.
        index = 0
        while index < len(wanted):
            dep = dependencies.get(wanted[index])
            if isinstance(dep, list):
                wanted.extend(name for name in dep if name not in wanted)
            index += 1
        extra = schema.get("additionalProperties", True)
        result: dict[str, Any] = {}
        for name in wanted:
            if name in properties:
                result[name] = self.first(properties[name], depth + 1, variant, (*path, name))
            elif isinstance(extra, dict):
                result[name] = self.first(extra, depth + 1, variant, (*path, name))
            else:
                result[name] = None
        counter = 0
        while len(result) < min_properties and extra is not False:
            counter += 1
            key = f"extra_{counter}"
            result[key] = self.first(extra, depth + 1) if isinstance(extra, dict) else None
        return result

    def _array(self, schema: dict[str, Any], depth: int, path: Path = ()) -> list[Any]:
        items = schema.get("items", {})
        item_path = (*path, ITEM)
        min_items = int(schema.get("minItems", 0) or 0)
        if min_items == 0 and schema.get("maxItems") != 0 and isinstance(items, dict):
            min_items = 1 if self._wanted(items, item_path) else 0
        unique = bool(schema.get("uniqueItems"))
        result: list[Any] = []
        if isinstance(items, list):  # tuple validation: every listed position is produced
            for position, item_schema in enumerate(items):
                result.append(self.first(item_schema, depth + 1, variant=position, path=item_path))
            extra = schema.get("additionalItems", {})
            while len(result) < min_items:
                result.append(self.first(extra, depth + 1, variant=len(result), path=item_path))
        else:
            while len(result) < min_items:
                variant = len(result)
                candidate = self.first(items, depth + 1, variant=variant, path=item_path)
                if unique:
                    tries = 0
                    while candidate in result and tries < 50:
                        tries += 1
                        options = [
                            c for c in self.candidates(items, depth + 1, variant + tries, item_path) if c not in result
                        ]
                        if options:
                            candidate = options[0]
                result.append(candidate)
        contains = schema.get("contains")
        if contains is not None:
            sub = self.resolve(contains)
            checker = self.validator.evolve(schema=sub)
            if not any(checker.is_valid(item) for item in result):
                result.append(self.first(contains, depth + 1, path=item_path))
        return result


def _merge(base: dict[str, Any], extra: Any) -> dict[str, Any]:
    """A shallow conjunction of two schemas, good enough for generation (validation checks it)."""
    if not isinstance(extra, dict):
        return base
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key == "required" and isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "type" and key in merged:
            left = merged[key] if isinstance(merged[key], list) else [merged[key]]
            right = value if isinstance(value, list) else [value]
            both = [t for t in left if t in right or (t == "integer" and "number" in right)]
            both += [t for t in right if t == "integer" and "number" in left and t not in both]
            merged[key] = both or right
        else:
            merged[key] = value
    return merged


def _number(schema: dict[str, Any], *, integer: bool, variant: int) -> int | float:
    low: float = -math.inf
    high: float = math.inf
    low_exclusive = high_exclusive = False
    if isinstance(schema.get("minimum"), (int, float)):
        low = schema["minimum"]
    if isinstance(schema.get("maximum"), (int, float)):
        high = schema["maximum"]
    ex_min, ex_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_min, bool):  # Draft 4 form
        low_exclusive = ex_min
    elif isinstance(ex_min, (int, float)) and ex_min >= low:
        low, low_exclusive = ex_min, True
    if isinstance(ex_max, bool):
        high_exclusive = ex_max
    elif isinstance(ex_max, (int, float)) and ex_max <= high:
        high, high_exclusive = ex_max, True
    step = schema.get("multipleOf")
    if not isinstance(step, (int, float)) or step <= 0:
        step = 1 if integer else None
    # Start at 0 (or the bound nearest to it), then move up by ``variant`` for distinct values.
    start: float = min(max(0.0, low), high) + variant
    if start > high:
        start = high
    if step is None:
        value = start
        if low_exclusive and value <= low:
            value = low + 1 if low + 1 < high else (low + high) / 2
        if high_exclusive and value >= high:
            value = high - 1 if high - 1 > low else (low + high) / 2
        return int(value) if float(value).is_integer() else value
    value = math.ceil(start / step) * step
    if low_exclusive and value <= low:
        value += step
    if value > high or (high_exclusive and value >= high):
        value = math.floor(high / step) * step
        if high_exclusive and value >= high:
            value -= step
    if isinstance(step, int) or float(value).is_integer():
        return int(value)
    return value


def _strings(schema: dict[str, Any], variant: int) -> list[str]:
    min_length = int(schema.get("minLength", 0) or 0)
    max_length = schema.get("maxLength")
    suffix = "" if variant == 0 else str(variant)
    options: list[str] = []
    if isinstance(schema.get("format"), str) and schema["format"] in _FORMAT_EXAMPLES:
        options.append(_format_example(schema["format"], variant))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        generated = _from_pattern(pattern, variant)
        if generated is not None:
            options.append(generated)
            options.append(_fit(generated, min_length, max_length, pad="a"))
            options.append(_fit(generated, min_length, max_length, pad=generated[-1:] or "a"))
    options.append(_fit("example" + suffix, min_length, max_length, pad="x"))
    return list(dict.fromkeys(options))


def _format_example(name: str, variant: int) -> str:
    """The example for a string format; ``variant`` > 0 gives distinct values (for uniqueItems)."""
    example = _FORMAT_EXAMPLES[name]
    if variant == 0:
        return example
    if name in ("email", "idn-email"):
        return f"devin{variant}@example.com"
    if name in ("hostname", "idn-hostname"):
        return f"host{variant}.example.com"
    if name.startswith(("uri", "iri")) and name != "uri-template":
        return f"{example}/{variant}"
    if name == "date":
        return f"2026-01-{1 + variant % 28:02d}"
    if name == "date-time":
        return f"2026-01-{1 + variant % 28:02d}T00:00:00+00:00"
    if name == "uuid":
        return f"00000000-0000-4000-8000-{variant:012d}"
    if name == "ipv4":
        return f"127.0.0.{1 + variant % 254}"
    return example


def _fit(value: str, min_length: int, max_length: Any, pad: str) -> str:
    if len(value) < min_length:
        value = value + pad * (min_length - len(value))
    if isinstance(max_length, int) and len(value) > max_length:
        value = value[:max_length]
    return value


def _from_pattern(pattern: str, variant: int) -> str | None:
    """A string matching ``pattern`` built from its parse tree (covers the common regex subset)."""
    try:
        parsed = _sre_parse.parse(pattern)
        text = _render(list(parsed), variant)
    except Exception:  # an exotic pattern: fall back to the plain candidates
        return None
    return text if re.search(pattern, text) else None


def _render(items: list[Any], variant: int) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_pick_from_set(arg, variant))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_render(list(sub), variant) * max(low, 0))
        elif name == "SUBPATTERN":
            out.append(_render(list(arg[-1]), variant))
        elif name == "ATOMIC_GROUP":
            out.append(_render(list(arg), variant))
        elif name == "BRANCH":
            out.append(_render(list(arg[1][0]), variant))
        elif name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
            continue
        else:
            raise ValueError(f"unsupported regex construct {name}")
    return "".join(out)


def _pick_from_set(items: list[Any], variant: int) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    if negate:
        excluded = {chr(arg) for op, arg in items if str(op) == "LITERAL"}
        return next(ch for ch in "axyz0" if ch not in excluded)
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            low, high = arg
            return chr(min(low + variant, high))
        if name == "CATEGORY":
            category = str(arg)
            if "DIGIT" in category and "NOT" not in category:
                return str(variant % 10)
            if "SPACE" in category and "NOT" not in category:
                return " "
            return "a"
    return "a"
