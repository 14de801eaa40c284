"""docs/opsktl.1: renders without warnings and documents every subcommand, every option
that --help lists, and the output columns and summary keys the JSON output really has."""
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from clitest import (BIN, TESTDATA, CliTestCase, help_long_options, main)

MANPAGE = Path(__file__).resolve().parents[2] / "docs" / "opsktl.1"
SHARED_SECTIONS = ("COMMON OPTIONS", "LOG INPUT OPTIONS")
# Macros whose arguments are printed without spaces between them (alternating fonts).
JOINED = {".BR", ".RB", ".IR", ".RI", ".BI", ".IB"}


def deroff(source):
    """Plain text of a man(7) page, good enough to search for words: {section: text}."""
    sections = {"": []}
    current = ""
    for line in source.split("\n"):
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith("."):
            macro, _, rest = line.partition(" ")
            try:
                args = shlex.split(rest.replace("\\", "\\\\"), posix=True)
            except ValueError:
                args = rest.split()
            if macro == ".SH":
                current = plain(" ".join(args))
                sections[current] = []
                continue
            line = ("" if macro in JOINED else " ").join(args)
        sections[current].append(plain(line))
    return {name: " ".join(lines) for name, lines in sections.items()}


def plain(text):
    text = re.sub(r"\\f(\[[A-Z]*\]|[BIRP])", "", text)
    for escape, char in (("\\-", "-"), ("\\(aq", "'"), ("\\(mu", "x"), ("\\~", " "),
                         ("\\&", ""), ("\\e", "\\")):
        text = text.replace(escape, char)
    return text


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


class ManPageTest(CliTestCase):
    @classmethod
    def setUpClass(cls):
        cls.source = MANPAGE.read_text(encoding="utf-8")
        cls.sections = deroff(cls.source)

    def section(self, sub):
        return self.sections.get(sub.upper(), "")

    def test_renders_without_warnings(self):
        groff = shutil.which("groff")
        if groff is None:
            self.fail("groff not found (scripts/install-deps.sh installs groff-base)")
        proc = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(MANPAGE)],
                              capture_output=True)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stderr.decode(), "")

    def test_every_subcommand_has_its_own_section(self):
        for sub in self.subcommands():
            with self.subTest(sub=sub):
                self.assertIn(sub.upper(), self.sections)
                self.assertTrue(has_word(self.sections["SYNOPSIS"], sub))

    def test_top_level_options_are_documented(self):
        for option in help_long_options(self.help()):
            with self.subTest(option=option):
                self.assertTrue(has_word(self.sections["COMMON OPTIONS"], option))

    def test_every_subcommand_option_is_documented_in_its_section_or_a_shared_one(self):
        shared = " ".join(self.sections[name] for name in SHARED_SECTIONS)
        for sub in self.subcommands():
            options = help_long_options(self.help(sub))
            self.assertIn("--help", options)
            for option in options:
                with self.subTest(sub=sub, option=option):
                    self.assertTrue(has_word(self.section(sub), option) or has_word(shared, option),
                                    f"{option} of {sub} is not in the man page")

    def test_exit_status_and_environment_sections(self):
        for name in ("EXIT STATUS", "ENVIRONMENT", "EXAMPLES"):
            self.assertIn(name, self.sections)
        for code in ("0", "1", "2"):
            self.assertIn(f".B {code}\n", self.source)
        for variable in ("XDG_STATE_HOME", "TMPDIR"):
            self.assertTrue(has_word(self.sections["ENVIRONMENT"], variable))

    def test_version_in_header_matches_the_binary(self):
        version = self.run_opsktl("--version").text.split()[1]
        header = next(line for line in self.source.split("\n") if line.startswith(".TH"))
        self.assertIn(f'"opsktl {version}"', header)

    def assert_json_columns_documented(self, sub, document, array, ordered_prefix=None):
        records = document[array]
        self.assertTrue(records, f"{sub}: no {array} to read the columns from")
        keys = [k for k in records[0] if not k.endswith("_b64")]
        text = self.section(sub)
        columns = " ".join(keys[:ordered_prefix] if ordered_prefix else keys)
        self.assertTrue(columns in text, f"{sub}: columns '{columns}' not in its section")
        for key in keys + [k for k in document["summary"] if not k.endswith("_b64")]:
            with self.subTest(sub=sub, key=key):
                self.assertTrue(has_word(text, key), f"{sub}: {key} not in its section")

    def run_json(self, *args):
        r = self.run_opsktl(*args, "--format", "json")
        self.assertIn(r.code, (0, 1), r.errtext)
        return json.loads(r.out)

    def test_columns_and_summary_keys_of_errors_by_endpoint_and_flapping(self):
        doc = self.run_json("errors-by-endpoint", TESTDATA / "access.log")
        self.assert_json_columns_documented("errors-by-endpoint", doc, "endpoints", -2)
        events = TESTDATA / "events.log"
        doc = self.run_json("flapping", "-n", "3", "-w", "5m", events)
        self.assert_json_columns_documented("flapping", doc, "episodes")
        doc = self.run_json("flapping", "--alerts", "every", "-n", "3", "-w", "5m", events)
        self.assert_json_columns_documented("flapping", doc, "alerts")

    def test_columns_and_summary_keys_of_space_hogs_and_dedupe(self):
        tree = self.dir / "tree"
        shutil.copytree(TESTDATA / "tree", tree)
        doc = self.run_json("space-hogs", "--save", self.dir / "scan", tree)
        self.assert_json_columns_documented("space-hogs", doc, "files")
        (tree / "docs" / "new.bin").write_bytes(b"x" * 100000)
        doc = self.run_json("space-hogs", "--compare", self.dir / "scan", tree)
        self.assert_json_columns_documented("space-hogs", doc, "dirs")
        doc = self.run_json("dedupe", "--state", self.dir / "state", tree)
        self.assert_json_columns_documented("dedupe", doc, "groups")


if __name__ == "__main__":
    main()
