"""Generated structured output validates against the session's schema (Draft 7, with formats)."""

from __future__ import annotations

import jsonschema
import pytest

from airflow_provider_devin.emulator.schema_instance import SchemaInstanceError, generate_instance

SCHEMAS = {
    "empty": {},
    "true": True,
    "plain object": {"type": "object"},
    "required strings": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string", "minLength": 12, "maxLength": 12}},
        "required": ["a", "b"],
    },
    "nested": {
        "type": "object",
        "properties": {
            "outer": {
                "type": "object",
                "properties": {"inner": {"type": "array", "items": {"type": "integer"}, "minItems": 2}},
                "required": ["inner"],
            }
        },
        "required": ["outer"],
    },
    "enum and const": {
        "type": "object",
        "properties": {"color": {"enum": ["red", "green"]}, "kind": {"const": "fix"}},
        "required": ["color", "kind"],
    },
    "formats": {
        "type": "object",
        "properties": {
            name: {"type": "string", "format": name}
            for name in ("date-time", "date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uuid", "regex")
        },
        "required": ["date-time", "date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uuid", "regex"],
    },
    "numbers with bounds": {
        "type": "object",
        "properties": {
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "count": {"type": "integer", "minimum": 10, "maximum": 20, "multipleOf": 7},
            "negative": {"type": "integer", "maximum": -5},
            "ratio": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 0.75},
        },
        "required": ["score", "count", "negative", "ratio"],
    },
    "array of objects, unique": {
        "type": "array",
        "items": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        "minItems": 3,
        "uniqueItems": True,
    },
    "unique emails": {
        "type": "array",
        "items": {"type": "string", "format": "email"},
        "minItems": 3,
        "uniqueItems": True,
    },
    "tuple items": {"type": "array", "items": [{"type": "string"}, {"type": "boolean"}], "minItems": 2},
    "contains": {"type": "array", "contains": {"const": 42}},
    "oneOf exclusive": {
        "oneOf": [{"type": "string", "minLength": 3, "maxLength": 2}, {"type": "integer", "minimum": 3}]
    },
    "oneOf overlapping": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0.5, "maximum": 0.6}]},
    "anyOf": {"anyOf": [{"type": "null", "not": {"type": "null"}}, {"type": "object", "required": ["x"]}]},
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer", "minimum": 3}}, "required": ["b"]},
        ]
    },
    "$defs and $ref": {
        "type": "object",
        "properties": {"files": {"type": "array", "items": {"$ref": "#/$defs/file"}, "minItems": 1}},
        "required": ["files"],
        "$defs": {
            "file": {
                "type": "object",
                "properties": {"path": {"type": "string", "pattern": "^src/.+\\.py$"}, "lines": {"$ref": "#/$defs/n"}},
                "required": ["path", "lines"],
            },
            "n": {"type": "integer", "minimum": 1},
        },
    },
    "definitions and recursion": {
        "$ref": "#/definitions/node",
        "definitions": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/node"}},
                },
                "required": ["name", "children"],
            }
        },
    },
    "patterns": {
        "type": "object",
        "properties": {
            "ticket": {"type": "string", "pattern": "^[A-Z]{2,4}-\\d{3,}$"},
            "sha": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
            "choice": {"type": "string", "pattern": "^(yes|no)$"},
            "padded": {"type": "string", "pattern": "^x+$", "minLength": 5},
        },
        "required": ["ticket", "sha", "choice", "padded"],
    },
    "nullable type list": {
        "type": "object",
        "properties": {"pr_url": {"type": ["string", "null"], "format": "uri"}},
        "required": ["pr_url"],
    },
    "minProperties and additionalProperties": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 1},
        "minProperties": 2,
    },
    "dependencies": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a"],
        "dependencies": {"a": ["b"]},
    },
    "if then else": {
        "type": "object",
        "properties": {"kind": {"enum": ["bug", "feature"]}, "severity": {"type": "integer"}},
        "required": ["kind"],
        "if": {"properties": {"kind": {"const": "bug"}}},
        "then": {"required": ["severity"]},
    },
    "typical devin output": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["done", "partial", "failed"]},
            "summary": {"type": "string", "minLength": 10, "maxLength": 500},
            "pr_url": {"type": "string", "format": "uri"},
            "tests_passed": {"type": "boolean"},
            "changed_files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["status", "summary", "pr_url", "tests_passed", "changed_files", "confidence"],
        "additionalProperties": False,
    },
}


@pytest.mark.parametrize("schema", list(SCHEMAS.values()), ids=list(SCHEMAS))
def test_generated_instance_validates(schema):
    instance = generate_instance(schema)
    jsonschema.validate(
        instance, schema, cls=jsonschema.Draft7Validator, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_a_real_value_is_preferred_over_null():
    assert generate_instance({"type": ["null", "string"]}) == "example"


def test_top_level_untyped_schema_gives_an_object():
    assert generate_instance({}) == {}


@pytest.mark.parametrize("schema", [False, {"type": "string", "minLength": 5, "maxLength": 2}, {"$ref": "#/nope"}])
def test_impossible_schemas_raise(schema):
    with pytest.raises(SchemaInstanceError):
        generate_instance(schema)


def test_a_session_with_an_impossible_schema_finishes_with_null_output(client, emulator):
    schema = {"type": "string", "minLength": 5, "maxLength": 2}
    session_id = client.create("x", structured_output_schema=schema)["session_id"]
    emulator.control.advance(60)
    details = client.session(session_id)
    assert details["status_enum"] == "finished"
    assert details["structured_output"] is None
