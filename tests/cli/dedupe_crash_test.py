"""Crash test of `opsktl dedupe --apply` (SPEC §7): SIGKILL at random moments, then resume.

A generated tree of a few thousand files (duplicates, hard-link groups, same-size files
with other content, a few with other permission bits) is copied with its hard links
preserved; `dedupe --apply` runs on the copy and is killed at a random moment, with
`--link hardlink` and `--link symlink` in turn. After each kill every original path must
exist with its original content. The same command then runs to completion, and the final
tree (the set of names, their contents, which names share an inode and where each symlink
leads) must equal that of an uninterrupted run in the same mode on an identical copy.

OPSKTL_CRASH_TRIALS sets the number of kills (default 3; `make test-long` runs 20).
OPSKTL_CRASH_SEED repeats a run (the seed is printed on failure).
"""
import hashlib
import os
import random
import shutil
import signal
import stat
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


def copy_tree(src, dst):
    """Copies a tree of directories and regular files, names of one inode staying one inode
    (shutil.copytree would make each name a file of its own)."""
    copied = {}
    for dirpath, _, filenames in os.walk(src):
        target_dir = os.path.join(dst, os.path.relpath(dirpath, src))
        os.makedirs(target_dir, exist_ok=True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            target = os.path.join(target_dir, name)
            st = os.lstat(path)
            key = (st.st_dev, st.st_ino)
            if key in copied:
                os.link(copied[key], target)
                continue
            shutil.copy2(path, target)
            copied[key] = target


def manifest(root):
    """rel path -> (content digest, inode, symlink target relative to root or None)."""
    out = {}
    real_root = os.path.realpath(root)
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            st = os.lstat(path)
            target = None
            if stat.S_ISLNK(st.st_mode):
                target = os.path.relpath(os.readlink(path), real_root)
            out[os.path.relpath(path, root)] = (digest, st.st_ino, target)
    return out


def final_shape(root):
    """The names, their contents, the partition of names by inode, and the symlinks."""
    m = manifest(root)
    by_inode = {}
    for rel, (_, ino, _) in m.items():
        by_inode.setdefault(ino, []).append(rel)
    return ({rel: digest for rel, (digest, _, _) in m.items()},
            sorted(tuple(sorted(names)) for names in by_inode.values()),
            {rel: target for rel, (_, _, target) in m.items() if target is not None})


def link_groups(root):
    """The sets of names sharing an inode, for groups of two or more."""
    return sorted(names for names in final_shape(root)[1] if len(names) > 1)


class DedupeCrashTest(CliTestCase):
    def apply(self, tree, state, mode):
        return [BIN, "dedupe", "--apply", "--link", mode, "--format", "tsv", "--state", state, tree]

    def test_kill_at_random_moments_then_resume(self):
        rng = random.Random(SEED)
        pristine = str(self.dir / "pristine")
        generate(pristine, rng)
        original = {rel: digest for rel, (digest, _, _) in manifest(pristine).items()}
        hard_links = link_groups(pristine)
        self.assertTrue(hard_links, "the generated tree has no hard-link groups")

        # An uninterrupted run per mode; trials alternate between them.
        modes = ["hardlink", "symlink"]
        expected = {}
        duration = {}
        for mode in modes:
            reference = str(self.dir / f"ref-{mode[:4]}")  # same length as "work0001": same byte order
            copy_tree(pristine, reference)
            self.assertEqual(link_groups(reference), hard_links, "the copy lost hard links")
            start = time.monotonic()
            proc = subprocess.run(self.apply(reference, str(self.dir / f"ref-{mode}.state"), mode),
                                  capture_output=True, timeout=300)
            duration[mode] = time.monotonic() - start
            self.assertEqual(proc.returncode, 0, proc.stderr)
            expected[mode] = final_shape(reference)
            self.assertEqual(expected[mode][0], original, f"an uninterrupted {mode} run changed some content")
            self.assertLess(len(expected[mode][1]) - len(expected[mode][2]), len(original),
                            f"the {mode} run found no duplicates")
        self.assertTrue(expected["symlink"][2], "the symlink run made no symlinks")

        leftovers_seen = 0
        for trial in range(TRIALS):
            mode = modes[trial % len(modes)]
            with self.subTest(trial=trial, mode=mode, seed=SEED):
                tree = str(self.dir / f"work{trial:04}")
                state = str(self.dir / f"work{trial:04}.state")
                copy_tree(pristine, tree)
                child = subprocess.Popen(self.apply(tree, state, mode), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0, duration[mode] * 1.1))
                child.send_signal(signal.SIGKILL)
                child.wait()

                # Every original name is there with its original content.
                now = manifest(tree)
                missing = sorted(set(original) - set(now))
                self.assertEqual(missing, [], f"seed {SEED}: names missing after the kill")
                changed = sorted(rel for rel in original if now[rel][0] != original[rel])
                self.assertEqual(changed, [], f"seed {SEED}: contents changed after the kill")
                leftovers_seen += len(set(now) - set(original))

                proc = subprocess.run(self.apply(tree, state, mode), capture_output=True, timeout=300)
                self.assertEqual(proc.returncode, 0, f"seed {SEED}: {proc.stderr!r}")
                self.assertEqual(final_shape(tree), expected[mode],
                                 f"seed {SEED}: resumed {mode} run ends elsewhere")
                shutil.rmtree(tree)
        print(f"dedupe crash test: {TRIALS} kills, seed {SEED}, uninterrupted runs "
              f"{duration['hardlink']:.2f} s (hardlink), {duration['symlink']:.2f} s (symlink), "
              f"{leftovers_seen} temporary names found after kills")

if __name__ == "__main__":
    unittest.main()
