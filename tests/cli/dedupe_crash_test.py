"""Crash test of `opsktl dedupe --apply` (SPEC §7): SIGKILL at random moments, then resume.

A generated tree of a few thousand files (duplicates, hard-link groups, same-size files
with other content, a few with other permission bits) is copied; `dedupe --apply` runs on
the copy and is killed at a random moment. After each kill every original path must
exist with its original content. The same command then runs to completion, and the final
tree (the set of names, their contents and which names share an inode) must equal that of
an uninterrupted run on an identical copy.

OPSKTL_CRASH_TRIALS sets the number of kills (default 3; `make test-long` runs 20).
OPSKTL_CRASH_SEED repeats a run (the seed is printed on failure).
"""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import time
import unittest

from clitest import BIN, CliTestCase

TRIALS = int(os.environ.get("OPSKTL_CRASH_TRIALS", "3"))
SEED = int(os.environ.get("OPSKTL_CRASH_SEED", str(int(time.time()))))


def generate(root, rng, files=2000):
    blobs = [rng.randbytes(rng.choice([60, 200, 1000, 5000, 9000, 20000])) for _ in range(files // 3)]
    dirs = [os.path.join(root, f"d{i:02}", f"s{j}") for i in range(12) for j in range(3)]
    for d in dirs:
        os.makedirs(d)
    made = []
    for i in range(files):
        path = os.path.join(rng.choice(dirs), f"f{i:05}")
        r = rng.random()
        if r < 0.03 and made:
            os.link(rng.choice(made), path)  # an existing hard-link group
            continue
        if r < 0.10:
            data = bytearray(rng.choice(blobs))  # same size, one byte different
            data[rng.randrange(len(data))] ^= 0x5A
        else:
            data = rng.choice(blobs)
        with open(path, "wb") as f:
            f.write(data)
        if rng.random() < 0.02:
            os.chmod(path, 0o600)  # the metadata rule leaves these alone
        made.append(path)


def manifest(root):
    """rel path -> (content digest, inode)."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(path, root)] = (digest, os.lstat(path).st_ino)
    return out


def final_shape(root):
    """The names, their contents, and the partition of names by inode."""
    m = manifest(root)
    by_inode = {}
    for rel, (_, ino) in m.items():
        by_inode.setdefault(ino, []).append(rel)
    return ({rel: digest for rel, (digest, _) in m.items()},
            sorted(tuple(sorted(names)) for names in by_inode.values()))


class DedupeCrashTest(CliTestCase):
    def apply(self, tree, state):
        return [BIN, "dedupe", "--apply", "--format", "tsv", "--state", state, tree]

    def test_kill_at_random_moments_then_resume(self):
        rng = random.Random(SEED)
        pristine = str(self.dir / "pristine")
        generate(pristine, rng)
        original = {rel: digest for rel, (digest, _) in manifest(pristine).items()}

        reference = str(self.dir / "referenc")  # same length as "work0001": same byte order
        shutil.copytree(pristine, reference, symlinks=True)
        start = time.monotonic()
        proc = subprocess.run(self.apply(reference, str(self.dir / "ref.state")), capture_output=True,
                              timeout=300)
        duration = time.monotonic() - start
        self.assertEqual(proc.returncode, 0, proc.stderr)
        expected = final_shape(reference)
        self.assertEqual(expected[0], original, "an uninterrupted run changed some content")
        self.assertLess(len(expected[1]), len(original), "the generated tree has no duplicates")

        leftovers_seen = 0
        for trial in range(TRIALS):
            with self.subTest(trial=trial, seed=SEED):
                tree = str(self.dir / f"work{trial:04}")
                state = str(self.dir / f"work{trial:04}.state")
                shutil.copytree(pristine, tree, symlinks=True)
                child = subprocess.Popen(self.apply(tree, state), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0, duration * 1.1))
                child.send_signal(signal.SIGKILL)
                child.wait()

                # Every original name is there with its original content.
                now = manifest(tree)
                missing = sorted(set(original) - set(now))
                self.assertEqual(missing, [], f"seed {SEED}: names missing after the kill")
                changed = sorted(rel for rel in original if now[rel][0] != original[rel])
                self.assertEqual(changed, [], f"seed {SEED}: contents changed after the kill")
                leftovers_seen += len(set(now) - set(original))

                proc = subprocess.run(self.apply(tree, state), capture_output=True, timeout=300)
                self.assertEqual(proc.returncode, 0, f"seed {SEED}: {proc.stderr!r}")
                self.assertEqual(final_shape(tree), expected, f"seed {SEED}: resumed run ends elsewhere")
                shutil.rmtree(tree)
        print(f"dedupe crash test: {TRIALS} kills, seed {SEED}, uninterrupted run {duration:.2f} s, "
              f"{leftovers_seen} temporary names found after kills")


if __name__ == "__main__":
    unittest.main()
