"""Tests of the JSON schemas in docs/schemas and of schema_check, the validator that
clitest.run_opsktl applies to every --format json output of the end-to-end tests.

The validator tests use hand-written documents: each valid one must pass, and each
mutation (wrong type, missing key, extra key, bad enum value, negative count, ...) must
fail, so that validation can never pass vacuously.
"""
import copy
import json
import re
import subprocess

import clitest
import schema_check as sc

try:
    import jsonschema
except ImportError:  # a fresh Debian 12 has no python3-jsonschema
    jsonschema = None

SCHEMA_FILES = sorted(clitest.SCHEMAS.glob("*.schema.json"))

VALID = {
    "errors-by-endpoint": [
        {"endpoints": [{"errors": 3, "requests": 5, "error_pct": 60.0, "p50_ms": 22.5, "p99_ms": 120,
                        "service": "checkout", "path": "/api/v1/orders"},
                       {"errors": 1, "requests": 1, "error_pct": 100, "p50_ms": None, "p99_ms": None,
                        "method": "GET", "path": "/a\\xFF", "path_b64": "L2H/"}],
         "summary": {"lines": 12, "malformed": 1, "comments": 2, "filtered_out": 0, "error_lines": 4, "endpoints": 2,
                     "first_malformed": "access.log:7", "first_malformed_reason": "bad_status",
                     "malformed_reasons": {"bad_status": 1}}},
        {"endpoints": [], "summary": {"lines": 0, "malformed": 0, "comments": 0, "filtered_out": 0, "error_lines": 0,
                                      "endpoints": 0, "malformed_reasons": {}}},
    ],
    "flapping": [
        {"episodes": [{"service": "api", "start_ts": 1703000030, "end_ts": 1703000290.5, "restarts": 5, "peak": 5}],
         "summary": {"lines": 13, "malformed": 0, "malformed_reasons": {}, "comments": 0, "late": 1, "filtered_out": 0,
                     "restarts": 10, "services": 3, "alerts": 2, "episodes": 1, "first_late": "-:9"}},
        {"alerts": [{"ts": 1703000100, "service": "\\xFFapi", "service_b64": "/2FwaQ==", "count": 2}],
         "summary": {"lines": 13, "malformed": 2, "malformed_reasons": {"too_few_fields": 1, "no_service": 1}, "comments": 0,
                     "late": 0, "filtered_out": 0, "restarts": 10, "services": 3, "alerts": 1, "episodes": 1,
                     "first_malformed": "-:3", "first_malformed_reason": "no_service"}},
    ],
    "space-hogs": [
        {"files": [{"kind": "file", "bytes": 4096, "path": "t/a.jpg"}],
         "dirs": [{"kind": "dir", "bytes": 8192, "path": "t"}],
         "summary": {"files": 1, "dirs": 1, "bytes": 8192, "unreadable": 0}},
        {"files": [], "dirs": [{"kind": "dir", "delta_bytes": -4096, "bytes": 0, "path": "t/gone"}],
         "summary": {"files": 7, "dirs": 5, "bytes": 49152, "unreadable": 1}},
    ],
    "dedupe": [
        {"groups": [{"group": 1, "bytes": 4000, "action": "keep", "path": "t/a"},
                    {"group": 1, "bytes": 4000, "action": "skipped", "path": "t/b"}],
         "summary": {"files_scanned": 7, "bytes_total": 18902, "bytes_hashed": 18900, "hashes_reused": 0,
                     "groups": 1, "duplicates": 1, "reclaimable_bytes": 0, "reclaimed_bytes": 0, "linked": 0,
                     "skipped": 1, "skipped_reasons": {"metadata": 1}, "temp_links_removed": 0, "problems": 0}},
    ],
}


def mutated(doc, path, value=None, delete=False):
    """A copy of `doc` with the key or index at `path` set to `value` (or deleted)."""
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


E = VALID["errors-by-endpoint"][0]
F = VALID["flapping"]
S = VALID["space-hogs"]
D = VALID["dedupe"][0]

# (schema, document, why it is wrong)
INVALID = [
    # wrong types
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "errors"], "3"), "a count as a string"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "p50_ms"], "22.5"), "a latency as a string"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "errors"], None), "null where a count is required"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "errors"], True), "a boolean as a count"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "service"], 42), "a key field as a number"),
    ("errors-by-endpoint", mutated(E, ["endpoints"], {}), "the records as an object"),
    ("flapping", mutated(F[1], ["alerts", 0, "ts"], "1703000100"), "a timestamp as a string"),
    ("dedupe", mutated(D, ["summary", "skipped_reasons"], []), "reasons as an array"),
    # integers written with a fraction
    ("errors-by-endpoint", mutated(E, ["summary", "lines"], 12.0), "a count written as 12.0"),
    ("space-hogs", mutated(S[0], ["dirs", 0, "bytes"], 8192.5), "bytes with a fraction"),
    # missing required keys
    ("errors-by-endpoint", mutated(E, ["summary", "lines"], delete=True), "summary without lines"),
    ("errors-by-endpoint", mutated(E, ["summary"], delete=True), "no summary"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "p99_ms"], delete=True), "a record without p99_ms"),
    ("flapping", mutated(F[0], ["episodes", 0, "peak"], delete=True), "an episode without peak"),
    ("space-hogs", mutated(S[0], ["files"], delete=True), "a scan without files"),
    ("space-hogs", mutated(S[1], ["files"], delete=True), "a --compare document without files"),
    ("space-hogs", mutated(S[1], ["files"], S[0]["files"]), "files listed under --compare"),
    ("dedupe", mutated(D, ["groups", 0, "path"], delete=True), "a record without path"),
    ("errors-by-endpoint", {"endpoints": [{"errors": 1, "requests": 1, "error_pct": 100, "p50_ms": None,
                                           "p99_ms": None}], "summary": E["summary"]}, "a record without key fields"),
    # extra keys
    ("errors-by-endpoint", mutated(E, ["extra"], 1), "an unknown top-level key"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "latency"], 1), "an unknown record key"),
    ("errors-by-endpoint", mutated(E, ["summary", "files"], 1), "an unknown summary key"),
    ("flapping", mutated(F[0], ["alerts"], []), "episodes and alerts together"),
    ("space-hogs", mutated(S[1], ["dirs", 0, "extra"], 0), "an unknown key in a --compare record"),
    ("dedupe", mutated(D, ["summary", "skipped_reasons", "weather"], 1), "an unknown skip reason"),
    ("dedupe", mutated(D, ["groups", 0, "reason"], "metadata"), "a reason in a record"),
    # bad enum and const values
    ("dedupe", mutated(D, ["groups", 0, "action"], "deleted"), "an unknown action"),
    ("dedupe", mutated(D, ["groups", 0, "action"], "Keep"), "an action in the wrong case"),
    ("space-hogs", mutated(S[0], ["files", 0, "kind"], "dir"), "a file record of kind dir"),
    ("space-hogs", mutated(S[1], ["dirs", 0, "kind"], "folder"), "an unknown kind"),
    # negative or zero counts
    ("errors-by-endpoint", mutated(E, ["summary", "malformed"], -1), "a negative malformed count"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "errors"], 0), "an endpoint without errors"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "p50_ms"], -0.5), "a negative latency"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 0, "error_pct"], 100.5), "more than 100 percent"),
    ("flapping", mutated(F[1], ["summary", "late"], -3), "a negative late count"),
    ("space-hogs", mutated(S[0], ["files", 0, "bytes"], -4096), "a negative size"),
    ("space-hogs", mutated(S[1], ["dirs", 0, "bytes"], -1), "negative bytes now under --compare"),
    ("dedupe", mutated(D, ["summary", "reclaimable_bytes"], -1), "negative reclaimable bytes"),
    ("dedupe", mutated(D, ["groups", 0, "group"], 0), "group number 0"),
    # the other keywords
    ("errors-by-endpoint", mutated(E, ["summary", "first_malformed"], "access.log"), "a place without :LINE"),
    ("errors-by-endpoint", mutated(E, ["summary", "first_malformed_reason"], "broken"), "an unknown reason"),
    ("errors-by-endpoint", mutated(E, ["summary", "malformed_reasons", "broken"], 1), "an unknown reason count"),
    ("errors-by-endpoint", mutated(E, ["summary", "malformed_reasons", "bad_status"], 0), "a reason without lines"),
    ("flapping", mutated(F[1], ["summary", "malformed_reasons"], [1]), "reasons as a list"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 1, "path_b64"], "not base64!"), "invalid base64"),
    ("errors-by-endpoint", mutated(E, ["endpoints", 1, "client_b64"], "AA=="), "_b64 without its field"),
]


def validate_as_subcommand(subcommand, doc):
    return sc.validate(doc, clitest.schema_for(subcommand))


class SchemaFilesTest(clitest.CliTestCase):
    def test_every_schema_file_is_well_formed_and_uses_only_supported_keywords(self):
        self.assertTrue(SCHEMA_FILES, f"no schema files in {clitest.SCHEMAS}")
        for path in SCHEMA_FILES:
            with self.subTest(path.name):
                schema = json.loads(path.read_text())
                sc.check_schema(schema)
                self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
                if jsonschema is not None:
                    jsonschema.Draft202012Validator.check_schema(schema)

    def test_every_subcommand_with_json_output_has_a_schema_and_every_schema_a_subcommand(self):
        help_text = self.run_opsktl("--help").text
        subcommands = re.findall(r"^  ([a-z][a-z-]+) ", help_text.split("Subcommands:")[1], re.M)
        self.assertEqual(len(subcommands), 5, help_text)
        with_json = {s for s in subcommands if "--format" in self.run_opsktl(s, "--help").text}
        self.assertEqual({p.name[:-len(".schema.json")] for p in SCHEMA_FILES}, with_json)

    def test_every_object_in_a_schema_forbids_unknown_keys(self):
        def objects(node, where):
            if isinstance(node, dict):
                if "properties" in node:
                    yield where, node
                for key, value in node.items():
                    yield from objects(value, f"{where}/{key}")
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    yield from objects(value, f"{where}/{i}")

        for path in SCHEMA_FILES:
            for where, node in objects(json.loads(path.read_text()), path.name + "#"):
                with self.subTest(where):
                    self.assertIs(node.get("additionalProperties"), False)


class ValidatorTest(clitest.CliTestCase):
    def test_hand_written_valid_documents_pass(self):
        for subcommand, docs in VALID.items():
            for i, doc in enumerate(docs):
                with self.subTest(f"{subcommand}[{i}]"):
                    self.assertEqual(validate_as_subcommand(subcommand, doc), [])

    def test_each_mutation_of_a_valid_document_fails(self):
        for subcommand, doc, why in INVALID:
            with self.subTest(why):
                self.assertNotEqual(validate_as_subcommand(subcommand, doc), [], f"{subcommand} accepted {why}")

    def test_errors_name_the_json_pointer_of_the_bad_value(self):
        problems = validate_as_subcommand("dedupe", mutated(D, ["groups", 1, "action"], "deleted"))
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith("/groups/1/action: "), problems)
        problems = validate_as_subcommand("errors-by-endpoint", mutated(E, ["summary", "lines"], delete=True))
        self.assertEqual(problems, ["/summary: required key 'lines' missing"])

    def test_loads_rejects_what_is_not_one_strict_json_document(self):
        for text in [b'{"a":1}\n{"a":2}\n', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":1,"a":2}', b'{"a":', b"",
                     b'{"a":"\xff"}']:
            with self.subTest(text):
                with self.assertRaises((sc.DocumentError, UnicodeDecodeError)):
                    sc.loads(text)
        self.assertEqual(sc.loads(b'{"a":[1,2.5,null]}\n'), {"a": [1, 2.5, None]})

    def test_agrees_with_the_jsonschema_module_where_it_is_installed(self):
        if jsonschema is None:
            self.skipTest("python3 has no jsonschema module")
        cases = [(s, d, True) for s, docs in VALID.items() for d in docs]
        # Integers with a fraction are the one place where schema_check is stricter by design.
        cases += [(s, d, False) for s, d, why in INVALID if "fraction" not in why and "12.0" not in why]
        for subcommand, doc, valid in cases:
            with self.subTest(subcommand=subcommand, doc=json.dumps(doc)[:100]):
                schema = clitest.schema_for(subcommand)
                theirs = not list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
                self.assertEqual(theirs, valid)
                self.assertEqual(not sc.validate(doc, schema), valid)


class CheckSchemaTest(clitest.CliTestCase):
    BASE = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["n"], "additionalProperties": False,
            "properties": {"n": {"type": "integer", "minimum": 0}, "items": {"type": "array", "items": {"$ref": "#/$defs/x"}}},
            "$defs": {"x": {"type": "string"}}}

    def test_the_base_schema_passes(self):
        sc.check_schema(self.BASE)

    def test_unknown_keywords_are_errors_wherever_they_are(self):
        for path, keyword in [([], "format"), (["properties", "n"], "maxLength"), (["properties", "n"], "requried"),
                              (["properties", "items", "items"], "uniqueItems"), (["$defs", "x"], "format"),
                              ([], "patternProperties"), ([], "allOf")]:
            with self.subTest(keyword=keyword, path=path):
                schema = copy.deepcopy(self.BASE)
                target = schema
                for step in path:
                    target = target[step]
                target[keyword] = "date-time" if keyword == "format" else 1
                with self.assertRaisesRegex(sc.SchemaError, "unsupported keyword"):
                    sc.check_schema(schema)

    def test_malformed_keyword_values_are_errors(self):
        for path, value in [(["type"], "map"), (["type"], ["string", "string"]), (["required"], "n"),
                            (["required"], ["n", "missing"]), (["properties", "n", "minimum"], "0"),
                            (["properties", "items", "items", "$ref"], "#/$defs/y"),
                            (["properties", "items", "items", "$ref"], "other.json#/$defs/x"),
                            (["properties", "n", "enum"], []), (["properties", "n"], 5)]:
            with self.subTest(path=path, value=value):
                schema = copy.deepcopy(self.BASE)
                target = schema
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = value
                with self.assertRaises(sc.SchemaError):
                    sc.check_schema(schema)


class OutputHookTest(clitest.CliTestCase):
    """clitest validates the stdout of every run that asks for json."""

    def test_json_format_is_recognised_in_both_spellings_and_nowhere_else(self):
        self.assertEqual(clitest.json_subcommand(["dedupe", "--format", "json", "t"]), "dedupe")
        self.assertEqual(clitest.json_subcommand(["flapping", "-q", "--format=json", "x"]), "flapping")
        self.assertIsNone(clitest.json_subcommand(["flapping", "--format", "tsv", "x"]))
        self.assertIsNone(clitest.json_subcommand(["merge", "--log-format", "json", "x"]))

    def test_output_that_breaks_the_schema_fails_the_test(self):
        args = ["errors-by-endpoint", "--format", "json", "x.log"]
        bad = b'{"endpoints":[],"summary":{"lines":-1,"malformed":0,"filtered_out":0,"error_lines":0,"endpoints":0}}\n'
        self.assertTrue(clitest.json_output_problems(args, bad))
        with self.assertRaises(AssertionError):
            self.check_json_output(args, bad)
        self.assertTrue(clitest.json_output_problems(args, b"{}\n{}\n"))  # json lines are not one document
        self.assertTrue(clitest.json_output_problems(["merge", "--format", "json"], b"{}"))  # no schema
        self.assertEqual(clitest.json_output_problems(args, b""), [])  # nothing written: nothing to check
        self.assertEqual(clitest.json_output_problems(["errors-by-endpoint", "x.log"], b"not json\n"), [])

    def test_every_output_shape_of_the_binary_validates(self):
        """One run per branch of each schema; run_opsktl validates each output."""
        access = clitest.TESTDATA / "access.log"
        events = clitest.TESTDATA / "events.log"
        tree = self.dir / "tree"
        subprocess.run(["cp", "-r", str(clitest.TESTDATA / "tree"), str(tree)], check=True)
        runs = [
            (["errors-by-endpoint", "--format", "json", "-k", "0", access], "endpoints"),
            (["errors-by-endpoint", "--format=json", "--by", "status", "--field", "latency=0", access], "endpoints"),
            (["flapping", "--format", "json", events], "episodes"),
            (["flapping", "--format", "json", "--alerts", "every", "-n", "1", events], "alerts"),
            (["space-hogs", "--format", "json", "--save", self.dir / "scan", tree], "files"),
            (["space-hogs", "--format", "json", "--compare", self.dir / "scan", tree], "dirs"),
            (["space-hogs", "--format", "json", "--compare", self.dir / "scan", "--shrunk", tree], "dirs"),
            (["dedupe", "--format", "json", "--state", self.dir / "state", tree], "groups"),
        ]
        for args, array in runs:
            with self.subTest(args=" ".join(map(str, args))):
                r = self.run_opsktl(*args)
                self.assertIn(r.code, (0, 1), r.errtext)
                self.assertIn(array, json.loads(r.out))
        # --field latency=0: no latencies, so null percentiles.
        doc = json.loads(self.run_opsktl("errors-by-endpoint", "--format", "json", "--field", "latency=0",
                                         access).out)
        self.assertTrue(doc["endpoints"])
        self.assertTrue(all(e["p50_ms"] is None and e["p99_ms"] is None for e in doc["endpoints"]))


if __name__ == "__main__":
    clitest.main()
