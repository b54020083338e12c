"""The real-world corpus is found, fetched or said missing: never assumed (issue 22).

Pure Python, real git: a repository made here and served by git's own upload-pack (file://,
with the same options GitHub allows: a filter, any commit asked by id) stands in for GitHub.
"""

import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import os
import socket
import subprocess
import tempfile
import unittest
from unittest import mock

from . import realmail_corpus
from .realmail_corpus import Source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "mcl_realmail_tool", os.path.join(ROOT, "tools", "realmail.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args, cwd=None):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True).stdout


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestRealmailFetch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tool = load_tool()
        cls.tmp = tempfile.mkdtemp(prefix="mcl-realmail-test-")
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.tmp], check=False)
        # an upstream repository "someone/mails": two commits, the listed mails at the first
        base = os.path.join(cls.tmp, "upstream")
        repo = os.path.join(base, "someone", "mails")
        os.makedirs(os.path.join(repo, "fixtures", "deep"))
        files = {
            "fixtures/a.eml": b"From: a@example.com\r\nSubject: a\r\n\r\nbody a\r\n",
            "fixtures/deep/b c.eml": b"From: b@example.com\nSubject: b\n\nbody \xff b\n",
            "unlisted/big.bin": os.urandom(200_000),  # never downloaded: not a listed path
        }
        for path, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(repo, path)), exist_ok=True)
            with open(os.path.join(repo, path), "wb") as handle:
                handle.write(data)
        with open(os.path.join(repo, ".gitattributes"), "w", encoding="utf-8") as handle:
            handle.write("*.eml text eol=crlf\n")  # a checkout would rewrite line ends
        for args in (
            ["git", "init", "-q"],
            ["git", "config", "user.email", "t@example.com"],
            ["git", "config", "user.name", "t"],
            ["git", "config", "uploadpack.allowFilter", "true"],
            ["git", "config", "uploadpack.allowAnySHA1InWant", "true"],
            ["git", "add", "-A"],
            ["git", "commit", "-qm", "fixtures"],
        ):
            run(*args, cwd=repo)
        commit = run("git", "rev-parse", "HEAD", cwd=repo).decode().strip()
        with open(os.path.join(repo, "fixtures", "a.eml"), "wb") as handle:
            handle.write(b"changed later: not the listed commit\n")
        run("git", "commit", "-qam", "later", cwd=repo)
        cls.base_url = "file://" + base
        # the blobs as committed (the attributes made a.eml's line ends LF in the repository)
        files = {path: run("git", "show", f"{commit}:{path}", cwd=repo) for path in files}
        cls.listed = [
            Source(
                "someone/mails", commit, path, hashlib.sha256(files[path]).hexdigest(),
                len(files[path]),
            )
            for path in ("fixtures/a.eml", "fixtures/deep/b c.eml")
        ]  # fmt: skip
        cls.files = files

    def fetch(self, out, base_url=None):
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            result = self.tool.fetch(out, base_url=base_url or self.base_url, listed=self.listed)
        return result, log.getvalue()

    def test_fetched_byte_exact_at_the_listed_commit_with_a_progress_line(self):
        out = tempfile.mkdtemp(dir=self.tmp)
        (written, failures), log = self.fetch(out)
        self.assertEqual((written, failures), (2, []))
        for source in self.listed:
            with open(os.path.join(out, source.file_name), "rb") as handle:
                self.assertEqual(handle.read(), self.files[source.path])  # not CRLF'd, not later
        self.assertIn("[1/1] someone/mails", log)
        self.assertIn("2 of 2 mails fetched, sha256 checked", log)
        self.assertEqual(realmail_corpus.absent(out, self.listed), [])
        # a second run downloads nothing
        (written, failures), log = self.fetch(out)
        self.assertEqual((written, failures), (0, []))
        self.assertIn("2 mails already there", log)

    def test_a_mail_that_differs_from_its_sha256_is_refused(self):
        out = tempfile.mkdtemp(dir=self.tmp)
        wrong = [dataclasses.replace(self.listed[0], sha256="0" * 64)]
        with mock.patch.object(self, "listed", wrong):
            (written, failures), _log = self.fetch(out)
        self.assertEqual(written, 0)
        self.assertIn("sha256 differs", failures[0])
        self.assertFalse(os.listdir(out))

    def test_no_network_is_said_once_and_stops(self):
        out = tempfile.mkdtemp(dir=self.tmp)
        other = Source("other/repo", "1" * 40, "x.eml", "0" * 64, 1)
        with mock.patch.object(self, "listed", [*self.listed, other]):
            (written, failures), log = self.fetch(out, base_url=f"http://127.0.0.1:{closed_port()}")
        self.assertEqual(written, 0)
        self.assertEqual(len(failures), 1, "stops at the first repository it cannot reach")
        self.assertIn("not fetched", log)

    def test_missing_corpus_skips_with_one_reason_unless_ci(self):
        empty = tempfile.mkdtemp(dir=self.tmp)
        env = {"MCL_REALMAIL": empty, "HOME": empty, "CI": ""}
        with mock.patch.dict(os.environ, env):
            reason = realmail_corpus.missing_reason()
            self.assertIn("make setup", reason)
            self.assertIn("MCL_REALMAIL", reason)
            with self.assertRaises(unittest.SkipTest) as caught:
                realmail_corpus.load()
            self.assertEqual(str(caught.exception), reason)
        with (
            mock.patch.dict(os.environ, dict(env, CI="true")),
            self.assertRaises(realmail_corpus.CorpusMissing),
        ):
            realmail_corpus.load()

    def test_found_in_order_mcl_realmail_then_the_cache(self):
        home = tempfile.mkdtemp(dir=self.tmp)
        cache = os.path.join(home, ".cache", "mail_crm_link", "realmail")
        os.makedirs(cache)
        empty = tempfile.mkdtemp(dir=self.tmp)
        with (
            mock.patch.dict(os.environ, {"HOME": home, "MCL_REALMAIL": empty}),
            mock.patch.object(realmail_corpus, "sources", lambda *a: self.listed),
        ):
            self.assertEqual(realmail_corpus.folder(), empty, "where it would be written")
            self.fetch(cache)
            self.assertEqual(realmail_corpus.folder(), cache, "the cache holds it")
            self.assertIsNone(realmail_corpus.missing_reason())
            self.fetch(empty)
            self.assertEqual(realmail_corpus.folder(), empty, "MCL_REALMAIL comes first")
