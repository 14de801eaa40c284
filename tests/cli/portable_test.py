"""scripts/check-portable.sh, which `make release` runs on the portable binary: it passes a
binary that needs only glibc's libraries and fails one that needs anything else."""
import shutil
import subprocess
import unittest
from pathlib import Path

from clitest import BIN, CliTestCase

CHECK = Path(__file__).resolve().parents[2] / "scripts" / "check-portable.sh"


def needed_libraries(binary):
    """NEEDED entries of a binary's dynamic section, read independently of the script."""
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


@unittest.skipUnless(shutil.which("readelf"), "readelf (binutils) not installed")
class CheckPortableTest(CliTestCase):
    def check(self, binary):
        return subprocess.run(["bash", str(CHECK), str(binary)], capture_output=True, text=True)

    def test_a_binary_that_needs_only_libc_passes(self):
        true = shutil.which("true")
        self.assertEqual(needed_libraries(true), ["libc.so.6"])
        result = self.check(true)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("libc.so.6", result.stdout)

    def test_the_everyday_build_fails_and_names_the_foreign_libraries(self):
        foreign = [lib for lib in needed_libraries(BIN)
                   if not lib.startswith(("libc.so", "libm.so", "libpthread.so", "libdl.so",
                                          "librt.so", "ld-linux"))]
        if not foreign:
            self.skipTest("this opsktl build is already portable")
        result = self.check(BIN)
        self.assertEqual(result.returncode, 1, result.stdout)
        for lib in foreign:
            self.assertIn(lib, result.stderr)

    def test_a_missing_file_is_an_error(self):
        result = self.check(self.dir / "nope")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no such file", result.stderr)


if __name__ == "__main__":
    unittest.main()
