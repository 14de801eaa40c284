"""cmake --install (what `make install` runs) into a temporary DESTDIR installs exactly
the binary, the man page and the two completion scripts, under the prefix given."""
import filecmp
import os
import subprocess
from pathlib import Path

from clitest import CliTestCase, main

SOURCE = Path(__file__).resolve().parents[2]
BUILD_DIR = os.environ.get("OPSKTL_BUILD_DIR", "")
CMAKE = os.environ.get("OPSKTL_CMAKE", "cmake")

EXPECTED = {
    "bin/opsktl": None,  # the built binary (install may rewrite its RPATH)
    "share/man/man1/opsktl.1": SOURCE / "docs" / "opsktl.1",
    "share/bash-completion/completions/opsktl": SOURCE / "completions" / "opsktl.bash",
    "share/zsh/site-functions/_opsktl": SOURCE / "completions" / "_opsktl",
}


class InstallTest(CliTestCase):
    def install(self, prefix):
        if not BUILD_DIR:
            self.fail("OPSKTL_BUILD_DIR is not set (tests/cli/CMakeLists.txt sets it)")
        destdir = self.dir / "destdir"
        proc = subprocess.run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix],
                              env={**os.environ, "DESTDIR": str(destdir)},
                              capture_output=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        return destdir

    @staticmethod
    def installed(destdir):
        return sorted(str(p.relative_to(destdir)) for p in destdir.rglob("*")
                      if p.is_file() or p.is_symlink())

    def check_install(self, prefix):
        destdir = self.install(prefix)
        root = destdir / prefix.lstrip("/")
        self.assertEqual(self.installed(destdir),
                         sorted(str(Path(prefix.lstrip("/")) / name) for name in EXPECTED))
        for name, source in EXPECTED.items():
            if source is not None:
                with self.subTest(file=name):
                    self.assertTrue(filecmp.cmp(root / name, source, shallow=False))
        binary = root / "bin" / "opsktl"
        self.assertTrue(os.access(binary, os.X_OK))
        installed = subprocess.run([binary, "--version"], capture_output=True, timeout=30)
        self.assertEqual(installed.returncode, 0)
        self.assertEqual(installed.stdout, self.run_opsktl("--version").out)

    def test_default_prefix_layout(self):
        self.check_install("/usr/local")

    def test_other_prefix_is_honoured(self):
        self.check_install("/opt/opsktl")


if __name__ == "__main__":
    main()
