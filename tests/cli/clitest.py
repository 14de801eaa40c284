"""Shared helpers for the end-to-end tests: run the real opsktl binary in a fresh temp dir.

Each test script is a unittest module run by ctest as
    python3 tests/cli/<name>_test.py
with OPSKTL_BIN naming the built binary (tests/cli/CMakeLists.txt sets it). Everything a
test reads is in the repository (testdata/, tests/cli/generators/).
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BIN = os.environ.get("OPSKTL_BIN", "")
TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema_check  # noqa: E402

_schemas = {}


def schema_for(subcommand):
    """docs/schemas/SUBCOMMAND.schema.json, checked by schema_check; None when missing."""
    if subcommand not in _schemas:
        path = SCHEMAS / f"{subcommand}.schema.json"
        schema = None
        if path.exists():
            schema = json.loads(path.read_text())
            schema_check.check_schema(schema)
        _schemas[subcommand] = schema
    return _schemas[subcommand]


def json_subcommand(args):
    """The subcommand of an opsktl command line that asks for --format json, else None."""
    args = [str(a) for a in args]
    subcommand = next((a for a in args if not a.startswith("-")), None)
    for i, arg in enumerate(args):
        if arg == "--format=json" or (arg == "--format" and i + 1 < len(args) and args[i + 1] == "json"):
            return subcommand
    return None


def json_output_problems(args, out):
    """Why `out`, the stdout of opsktl ARGS, is not what its JSON schema allows: a list of
    messages, empty when it conforms or when ARGS did not ask for json or nothing was
    written."""
    subcommand = json_subcommand(args)
    if subcommand is None or out == b"":
        return []
    schema = schema_for(subcommand)
    if schema is None:
        return [f"{subcommand} wrote json output but docs/schemas/{subcommand}.schema.json does not exist"]
    try:
        doc = schema_check.loads(out)
    except (schema_check.DocumentError, UnicodeDecodeError) as e:
        return [f"stdout is not one JSON document: {e}"]
    return schema_check.validate(doc, schema)


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def text(self):
        return self.out.decode("utf-8", "surrogateescape")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "surrogateescape")

    def rows(self):
        """tsv stdout as a list of field lists."""
        return [line.split("\t") for line in self.text.split("\n") if line != ""]


class CliTestCase(unittest.TestCase):
    """A test case with a fresh temp dir (self.dir) per test."""

    def setUp(self):
        if not BIN or not os.access(BIN, os.X_OK):
            self.fail(f"OPSKTL_BIN does not name the built opsktl binary: {BIN!r}")
        self.dir = Path(tempfile.mkdtemp(prefix="opsktl-cli-"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data, compress=False):
        """Writes bytes or str to self.dir/name (gzip-compressed when asked); returns the path."""
        if isinstance(data, str):
            data = data.encode()
        if compress:
            data = gzip.compress(data)
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)

    def help(self, *sub):
        """`opsktl [SUB] --help`, which must succeed."""
        r = self.run_opsktl(*sub, "--help")
        self.assertEqual(r.code, 0)
        return r.text

    def subcommands(self):
        """The subcommands `opsktl --help` lists (at least the five of the SPEC)."""
        names = help_subcommands(self.help())
        self.assertGreaterEqual(len(names), 5)
        return names

    def run_opsktl(self, *args, stdin=None, timeout=120, cwd=None):
        if isinstance(stdin, str):
            stdin = stdin.encode()
        proc = subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True,
                              timeout=timeout, cwd=cwd or self.dir)
        self.check_json_output(args, proc.stdout)
        return Result(proc)

    def check_json_output(self, args, out):
        """Fails the test when opsktl ARGS asked for json and wrote output that its schema in
        docs/schemas does not allow. run_opsktl calls it on every run; a test that starts
        opsktl itself must call it on what it read."""
        problems = json_output_problems(args, out)
        if problems:
            self.fail(f"opsktl {' '.join(map(str, args))}: json output against its schema:\n  " +
                      "\n  ".join(problems[:20]) + f"\noutput: {out[:500]!r}")

    def run_pipe_head(self, args, lines=1, timeout=120):
        """Runs `opsktl ARGS | head -n LINES` in a shell; returns (opsktl exit code, stderr)."""
        cmd = " ".join(shlex_quote(a) for a in [BIN, *map(str, args)])
        script = f'{cmd} 2>"$ERRFILE" | head -n {lines} >/dev/null; echo "${{PIPESTATUS[0]}}"'
        errfile = self.dir / "pipe.err"
        proc = subprocess.run(["bash", "-c", script], capture_output=True, timeout=timeout,
                              cwd=self.dir, env={**os.environ, "ERRFILE": str(errfile)})
        return int(proc.stdout.decode().strip()), errfile.read_bytes()

    def generator(self, name):
        """The deterministic data generator `name`, from the copy in tests/cli/generators
        (the same scripts as the benchmarks' generators), so that every clone runs the
        tests that use it."""
        path = Path(__file__).resolve().parent / "generators" / name
        if not path.exists():
            raise FileNotFoundError(f"data generator {path} missing")
        return [sys.executable, str(path)]


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


def main():
    unittest.main(verbosity=2)


def help_section(help_text, title):
    """The lines of one titled part ("Options:", "Subcommands:") of a CLI11 --help text."""
    lines = []
    inside = False
    for line in help_text.split("\n"):
        if line.endswith(":") and not line.startswith(" "):
            inside = line == title
            continue
        if inside:
            lines.append(line)
    return lines


def help_long_options(help_text):
    """The long options listed in the Options: part of a CLI11 --help text, in order."""
    return [name for line in help_section(help_text, "Options:") if line.startswith("  -")
            for name in line.split()[0].split(",") if name.startswith("--")]


def help_subcommands(help_text):
    """The subcommand names listed in the Subcommands: part of `opsktl --help`."""
    return [line.split()[0] for line in help_section(help_text, "Subcommands:")
            if line.startswith("  ") and line.strip()]


def help_choices(help_text):
    """{long option: [values]} for options whose --help shows a fixed set, TEXT:{a,b}."""
    import re
    choices = {}
    for m in re.finditer(r"^  (?:-\w,)?(--[\w-]+) \w+:\{([^}]*)\}", help_text, re.M):
        choices[m.group(1)] = m.group(2).split(",")
    return choices
