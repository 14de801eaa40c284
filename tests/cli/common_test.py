"""Behaviour every subcommand shares (SPEC §1): --version, --help, usage errors."""
import re

from clitest import CliTestCase, main


class CommonTest(CliTestCase):
    def test_version_prints_name_and_version(self):
        r = self.run_opsktl("--version")
        self.assertEqual(r.code, 0)
        self.assertRegex(r.text, r"^opsktl \d+\.\d+\.\d+\n$")

    def test_help_lists_subcommands(self):
        r = self.run_opsktl("--help")
        self.assertEqual(r.code, 0)
        self.assertIn("errors-by-endpoint", r.text)

    def test_subcommand_help_shows_examples(self):
        r = self.run_opsktl("errors-by-endpoint", "--help")
        self.assertEqual(r.code, 0)
        self.assertIn("Examples:", r.text)
        self.assertRegex(r.text, re.compile(r"^  opsktl errors-by-endpoint \S", re.M))

    def test_missing_subcommand_is_usage_error(self):
        r = self.run_opsktl()
        self.assertEqual(r.code, 2)
        self.assertIn("--help", r.errtext)
        self.assertEqual(r.out, b"")

    def test_unknown_subcommand_is_usage_error(self):
        r = self.run_opsktl("no-such-command")
        self.assertEqual(r.code, 2)
        self.assertEqual(r.out, b"")

    def test_unknown_option_names_the_option(self):
        r = self.run_opsktl("errors-by-endpoint", "--bogus")
        self.assertEqual(r.code, 2)
        self.assertIn("--bogus", r.errtext)

    def test_bad_format_value_is_usage_error(self):
        r = self.run_opsktl("errors-by-endpoint", "--format", "xml")
        self.assertEqual(r.code, 2)
        self.assertIn("--format", r.errtext)


if __name__ == "__main__":
    main()
