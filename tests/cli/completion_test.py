"""completions/opsktl.bash and completions/_opsktl: they offer every subcommand and every
long option that --help lists (and no option --help does not list), the bash one
completes subcommands, options, fixed values and files, and both scripts parse."""
import re
import shutil
import subprocess
from pathlib import Path

from clitest import CliTestCase, help_choices, help_long_options, main

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"
BASH_SCRIPT = COMPLETIONS / "opsktl.bash"
ZSH_SCRIPT = COMPLETIONS / "_opsktl"

# Calls the completion function as bash does for the words given as arguments (the last
# one being the word under the cursor) and prints one candidate per line.
BASH_DRIVER = r'''
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_opsktl
printf '%s\n' "${COMPREPLY[@]}"
'''


def long_options_in(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


class CompletionTest(CliTestCase):
    def complete(self, *words):
        """What the bash completion offers for `opsktl WORDS` (the last word being typed)."""
        proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "driver",
                               str(BASH_SCRIPT), "opsktl", *map(str, words)],
                              capture_output=True, cwd=self.dir, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertEqual(proc.stderr, b"")
        return sorted(line for line in proc.stdout.decode().split("\n") if line)

    def test_bash_script_parses(self):
        proc = subprocess.run(["bash", "-n", str(BASH_SCRIPT)], capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())

    def test_zsh_script_parses(self):
        zsh = shutil.which("zsh")
        if zsh is None:
            self.skipTest("zsh not installed")
        proc = subprocess.run([zsh, "-n", str(ZSH_SCRIPT)], capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())

    def test_both_scripts_name_every_subcommand(self):
        for script in (BASH_SCRIPT, ZSH_SCRIPT):
            text = script.read_text()
            for sub in self.subcommands():
                with self.subTest(script=script.name, sub=sub):
                    self.assertRegex(text, r"(?<![\w-])" + re.escape(sub) + r"(?![\w-])")

    def test_both_scripts_name_every_long_option_and_no_other(self):
        known = set(help_long_options(self.help()))
        for sub in self.subcommands():
            known |= set(help_long_options(self.help(sub)))
        self.assertIn("--orphans", known)
        for script in (BASH_SCRIPT, ZSH_SCRIPT):
            found = long_options_in(script.read_text())
            with self.subTest(script=script.name):
                self.assertEqual(sorted(known - found), [], "missing from the script")
                self.assertEqual(sorted(found - known), [], "not an option of opsktl")

    def test_bash_completes_subcommand_names(self):
        self.assertEqual(self.complete("mer"), ["merge"])
        self.assertEqual(self.complete(""), sorted(self.subcommands()))
        self.assertEqual(self.complete("--v"), ["--version"])

    def test_bash_offers_exactly_each_subcommands_long_options(self):
        for sub in self.subcommands():
            with self.subTest(sub=sub):
                self.assertEqual(self.complete(sub, "--"), sorted(help_long_options(self.help(sub))))

    def test_bash_offers_the_values_help_lists_for_enumerated_options(self):
        checked = 0
        for sub in self.subcommands():
            for option, values in help_choices(self.help(sub)).items():
                with self.subTest(sub=sub, option=option):
                    self.assertEqual(self.complete(sub, option, ""), sorted(values))
                    checked += 1
        self.assertGreaterEqual(checked, 9)  # --format (4), --log-format (3), --alerts, --orphans

    def test_bash_completes_merge_orphans_and_dedupe_choices(self):
        self.assertEqual(self.complete("merge", "--orphans", ""), ["attach", "skip"])
        self.assertEqual(self.complete("merge", "--orphans", "s"), ["skip"])
        self.assertEqual(self.complete("flapping", "--alerts", "ev"), ["every"])
        self.assertEqual(self.complete("dedupe", "--link", ""), ["hardlink", "reflink", "symlink"])
        self.assertEqual(self.complete("dedupe", "--keep", ""), ["first", "newest", "oldest"])
        self.assertEqual(self.complete("dedupe", "--verify", ""), ["bytes", "hash"])

    def test_bash_completes_value_after_equals_sign(self):
        # bash splits `--format=j` into "--format" "=" "j" (COMP_WORDBREAKS).
        self.assertEqual(self.complete("space-hogs", "--format", "=", "j"), ["json"])
        self.assertEqual(self.complete("space-hogs", "--format", "="), ["auto", "json", "table", "tsv"])

    def test_bash_completes_by_keys_after_a_comma(self):
        self.assertEqual(self.complete("errors-by-endpoint", "--by", "service,pa"), ["service,path"])

    def test_bash_completes_files_for_inputs_and_file_options(self):
        self.write("logs/web1.log", "")
        self.write("logs/web2.log", "")
        self.write("logs/db.log", "")
        self.assertEqual(self.complete("merge", "--label", "logs/w"), ["logs/web1.log", "logs/web2.log"])
        self.assertEqual(self.complete("merge", "-o", "logs/d"), ["logs/db.log"])
        self.assertEqual(self.complete("dedupe", "--state", "logs/d"), ["logs/db.log"])
        self.assertEqual(self.complete("space-hogs", "--compare", "logs/d"), ["logs/db.log"])

    def test_bash_offers_nothing_for_free_values(self):
        self.write("some.log", "")
        self.assertEqual(self.complete("flapping", "--window", ""), [])
        self.assertEqual(self.complete("space-hogs", "--top", ""), [])


if __name__ == "__main__":
    main()
