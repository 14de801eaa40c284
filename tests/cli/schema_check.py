"""A small validator for the subset of JSON Schema (draft 2020-12) that docs/schemas uses.

The end-to-end tests run with whatever python3 is on PATH, where the jsonschema module
may be missing, so this checks exactly the keywords below and refuses any other: a
schema that used an unsupported keyword would otherwise be checked less than it says.

Supported keywords (same meaning as in JSON Schema):
  annotations: $schema, $id, $comment, title, description
  any instance: type (a name or a list), enum, const, $ref ("#/$defs/NAME"), oneOf, anyOf
  numbers: minimum, maximum
  strings: pattern (re.search, as JSON Schema's unanchored match), minLength
  arrays: items (one schema for every item), minItems
  objects: properties, required, additionalProperties (false or a schema),
           minProperties, dependentRequired
  $defs (at the top level only)

One deliberate difference: "integer" means a number written without a fraction or an
exponent (5, not 5.0), because a count printed as 5.0 would be a bug in opsktl.
Numbers are never NaN or infinite and objects never repeat a key (loads() rejects both).
"""
import json
import math
import re

TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description"}
KEYWORDS = ANNOTATIONS | {
    "type", "enum", "const", "$ref", "oneOf", "anyOf", "minimum", "maximum", "pattern", "minLength",
    "items", "minItems", "properties", "required", "additionalProperties", "minProperties",
    "dependentRequired", "$defs",
}


class SchemaError(Exception):
    """The schema itself is malformed or uses a keyword this validator does not know."""


class DocumentError(ValueError):
    """The text is not one strict JSON document."""


def loads(text):
    """Parses one JSON document strictly: no NaN/Infinity, no repeated keys."""
    def no_constant(name):
        raise DocumentError(f"{name} is not JSON")

    def no_repeats(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                raise DocumentError(f"key {key!r} repeated in an object")
            obj[key] = value
        return obj

    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError: not UTF-8, as SPEC requires
    try:
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as e:
        raise DocumentError(str(e)) from None


def type_of(value):
    """The JSON Schema type names that `value` (as parsed by loads) belongs to."""
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "number"}
    if isinstance(value, float):
        return {"number"} if math.isfinite(value) else set()
    if isinstance(value, str):
        return {"string"}
    if isinstance(value, list):
        return {"array"}
    if isinstance(value, dict):
        return {"object"}
    return set()


def check_schema(schema):
    """Raises SchemaError unless `schema` is well-formed and uses only KEYWORDS."""
    if not isinstance(schema, dict):
        raise SchemaError("a schema file must hold an object")
    defs = schema.get("$defs", {})
    if not isinstance(defs, dict):
        raise SchemaError("$defs: expected an object")
    for name, sub in defs.items():
        _check(sub, f"#/$defs/{name}", defs, top=False)
    _check(schema, "#", defs, top=True)


def _check(schema, where, defs, top):
    def fail(message):
        raise SchemaError(f"{where}: {message}")

    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        fail("a schema must be an object or a boolean")
    for key, value in schema.items():
        if key not in KEYWORDS:
            fail(f"unsupported keyword {key!r}")
        if key == "$defs" and not top:
            fail("$defs only at the top level")
        if key in ("title", "description", "$comment", "$schema", "$id") and not isinstance(value, str):
            fail(f"{key}: expected a string")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not names or any(n not in TYPES for n in names) or len(set(names)) != len(names):
            fail(f"type: expected names from {TYPES}, got {schema['type']!r}")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        fail("enum: expected a non-empty list")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/$defs/") or ref[len("#/$defs/"):] not in defs:
            fail(f"$ref: expected #/$defs/NAME of a definition in this file, got {ref!r}")
    for key in ("oneOf", "anyOf"):
        if key in schema:
            if not isinstance(schema[key], list) or len(schema[key]) < 2:
                fail(f"{key}: expected a list of two or more schemas")
            for i, sub in enumerate(schema[key]):
                _check(sub, f"{where}/{key}/{i}", defs, top=False)
    for key in ("minimum", "maximum"):
        if key in schema and "number" not in type_of(schema[key]):
            fail(f"{key}: expected a number")
    for key in ("minLength", "minItems", "minProperties"):
        if key in schema and not (type_of(schema[key]) == {"integer", "number"} and schema[key] >= 0):
            fail(f"{key}: expected an integer of 0 or more")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (TypeError, re.error) as e:
            fail(f"pattern: not a regular expression: {e}")
    if "items" in schema:
        _check(schema["items"], f"{where}/items", defs, top=False)
    if "properties" in schema:
        if not isinstance(schema["properties"], dict):
            fail("properties: expected an object")
        for name, sub in schema["properties"].items():
            _check(sub, f"{where}/properties/{name}", defs, top=False)
    if "required" in schema:
        required = schema["required"]
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required) \
                or len(set(required)) != len(required):
            fail("required: expected a list of distinct names")
        missing = [r for r in required if r not in schema.get("properties", {})]
        if missing and schema.get("additionalProperties", True) is False:
            fail(f"required names that properties does not allow: {missing}")
    if "additionalProperties" in schema:
        _check(schema["additionalProperties"], f"{where}/additionalProperties", defs, top=False)
    if "dependentRequired" in schema:
        deps = schema["dependentRequired"]
        if not isinstance(deps, dict) or not all(
                isinstance(v, list) and all(isinstance(n, str) for n in v) for v in deps.values()):
            fail("dependentRequired: expected an object of name lists")


def validate(instance, schema, root=None, where=""):
    """The ways `instance` breaks `schema` (a list of messages, each with a JSON pointer);
    empty when it conforms. `schema` must have passed check_schema."""
    root = schema if root is None else root
    if schema is True:
        return []
    if schema is False:
        return [f"{where or '/'}: not allowed here"]
    errors = []

    def err(message):
        errors.append(f"{where or '/'}: {message}")

    if "$ref" in schema:
        name = schema["$ref"][len("#/$defs/"):]
        errors += validate(instance, root["$defs"][name], root, where)
    types = type_of(instance)
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not types & set(allowed):
            err(f"expected {' or '.join(allowed)}, got {json.dumps(instance)[:80]}")
            return errors  # the other keywords would only repeat the type error
    if "enum" in schema and not any(_same(instance, v) for v in schema["enum"]):
        err(f"{json.dumps(instance)[:80]} is not one of {schema['enum']}")
    if "const" in schema and not _same(instance, schema["const"]):
        err(f"expected {json.dumps(schema['const'])}, got {json.dumps(instance)[:80]}")
    if "oneOf" in schema:
        matches = [i for i, sub in enumerate(schema["oneOf"]) if not validate(instance, sub, root, where)]
        if len(matches) != 1:
            detail = "; ".join(f"[{i}] {validate(instance, sub, root, where)[0]}"
                               for i, sub in enumerate(schema["oneOf"]) if i not in matches)
            err(f"matches {len(matches)} of the oneOf schemas, not exactly one" + (f" ({detail})" if detail else ""))
    if "anyOf" in schema:
        failures = [validate(instance, sub, root, where) for sub in schema["anyOf"]]
        if all(failures):
            err("matches none of the anyOf schemas (" +
                "; ".join(f"[{i}] {f[0]}" for i, f in enumerate(failures)) + ")")
    if "number" in types:
        if "minimum" in schema and instance < schema["minimum"]:
            err(f"{instance} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            err(f"{instance} is more than the maximum {schema['maximum']}")
    if "string" in types:
        if "minLength" in schema and len(instance) < schema["minLength"]:
            err(f"shorter than {schema['minLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            err(f"{instance[:80]!r} does not match {schema['pattern']!r}")
    if "array" in types:
        if "minItems" in schema and len(instance) < schema["minItems"]:
            err(f"fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors += validate(item, schema["items"], root, f"{where}/{i}")
    if "object" in types:
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                err(f"required key {name!r} missing")
        if "minProperties" in schema and len(instance) < schema["minProperties"]:
            err(f"fewer than {schema['minProperties']} keys")
        for name, deps in schema.get("dependentRequired", {}).items():
            if name in instance:
                for dep in deps:
                    if dep not in instance:
                        err(f"key {name!r} requires key {dep!r}")
        for name, value in instance.items():
            pointer = f"{where}/{name.replace('~', '~0').replace('/', '~1')}"
            if name in props:
                errors += validate(value, props[name], root, pointer)
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    err(f"key {name!r} not allowed")
                else:
                    errors += validate(value, extra, root, pointer)
    return errors


def _same(a, b):
    """JSON equality: 1 and true differ, 1 and 1.0 do not."""
    if type_of(a) & {"number"} and type_of(b) & {"number"}:
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b
