#!/usr/bin/env python3
"""Bring the real-world mail corpus of the tests from the public repositories it comes from.

    python3 tools/realmail.py --ensure        # `make setup`: found, or fetched, or said why not
    python3 tools/realmail.py --fetch         # partial sparse clones of the listed paths only
    python3 tools/realmail.py --clones ~/src/realmail-repos      # clones as DIR/owner/name
    python3 tools/realmail.py --git-dir mikel/mail=~/src/mail/.git --git-dir ...
    python3 tools/realmail.py --check         # verify the folder only

Data extraction only: for each row of mail_crm_link/tests/realmail/SOURCES.tsv,
``git show COMMIT:PATH`` in a git directory of its repository is written to the corpus folder
(``$MCL_REALMAIL`` when set, else ``~/.cache/mail_crm_link/realmail/``) after its sha256 is
checked. Nothing is built or run from those repositories.

``--fetch`` makes those git directories itself, one per repository, in a temporary folder: a
partial clone (``--filter=blob:none``, depth 1) of the listed commit with a sparse checkout of
just the listed paths, so only those files' blobs are downloaded (a few MB in all).
``MCL_REALMAIL_GIT`` replaces ``https://github.com`` as the base of the repositories' URLs (a
mirror). ``--ensure`` does nothing when a folder already holds the corpus, fetches otherwise,
and where fetching is impossible (no network) says so and exits 0: the tests that need the
corpus are then skipped with that reason.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "mail_crm_link", "tests"))

import realmail_corpus  # pure module of the test bench


def log(message):
    print(f"\033[1m[realmail]\033[0m {message}", flush=True)


def parse_git_dirs(pairs):
    result = {}
    for pair in pairs:
        repository, sep, path = pair.partition("=")
        if not sep or "/" not in repository:
            raise SystemExit(f"--git-dir takes owner/name=PATH, not {pair!r}")
        result[repository] = os.path.expanduser(path)
    return result


def clone_dirs(root):
    """owner/name -> git directory of the clones found as ROOT/owner/name (work tree or bare)."""
    result = {}
    for repository in {s.repository for s in realmail_corpus.sources()}:
        base = os.path.join(os.path.expanduser(root), *repository.split("/"))
        for candidate in (os.path.join(base, ".git"), base):
            if os.path.isdir(candidate):
                result[repository] = candidate
                break
    return result


def extract(git_dirs, out):
    done, missing_repo, failed = 0, {}, []
    by_repo = {}
    for source in realmail_corpus.sources():
        if source.repository in git_dirs:
            by_repo.setdefault(source.repository, []).append(source)
        else:
            missing_repo[source.repository] = missing_repo.get(source.repository, 0) + 1
    for repository, rows in by_repo.items():
        written, failures = extract_sources(git_dirs[repository], rows, out)
        done += written
        failed += failures
    log(f"{done} mails written to {out}")
    for repository, count in sorted(missing_repo.items()):
        log(f"not extracted: {count} mails of {repository} (no --git-dir {repository}=PATH)")
    for line in failed:
        log(f"failed: {line}")
    return 0 if not missing_repo and not failed else 1


# -- fetching: partial, sparse clones of the listed paths ---------------------------------------
FETCH_TIMEOUT = 600  # seconds per repository: a stalled network fails instead of hanging setup
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # a missing repository must not ask for a password
    "GIT_HTTP_LOW_SPEED_LIMIT": "1000",  # bytes/s ...
    "GIT_HTTP_LOW_SPEED_TIME": "60",  # ... for this long: the connection is given up
}


class FetchFailed(Exception):
    """One repository could not be fetched; ``offline`` when no connection was made at all."""

    def __init__(self, message, offline=False):
        super().__init__(message)
        self.offline = offline


OFFLINE_SIGNS = (
    "could not resolve host",
    "failed to connect",
    "couldn't connect",
    "network is unreachable",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "temporary failure in name resolution",
)


def sparse_pattern(path):
    """A --no-cone sparse-checkout pattern matching exactly ``path`` (anchored, globs
    escaped)."""
    escaped = "".join("\\" + c if c in "\\*?[]!# " else c for c in path)
    return "/" + escaped


def git(args, cwd, timeout=FETCH_TIMEOUT, stdin=None):
    env = dict(os.environ, **GIT_ENV)
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise FetchFailed(f"git {args[0]}: no answer in {timeout}s", offline=True) from error
    if result.returncode:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        message = message[-1] if message else f"exit code {result.returncode}"
        offline = any(sign in message.lower() for sign in OFFLINE_SIGNS)
        raise FetchFailed(f"git {args[0]}: {message}", offline=offline)
    return result.stdout


def fetch_repository(url, commit, paths, work):
    """A git directory in ``work`` holding ``commit`` and the blobs of ``paths``."""
    git(["init", "-q", work], cwd=None)
    git(["remote", "add", "origin", url], cwd=work)
    git(["config", "core.autocrlf", "false"], cwd=work)  # bytes as committed
    git(["fetch", "-q", "--depth", "1", "--filter=blob:none", "origin", commit], cwd=work)
    git(["sparse-checkout", "set", "--no-cone", "--stdin"], cwd=work,
        stdin="".join(sparse_pattern(p) + "\n" for p in paths).encode())  # fmt: skip
    # the checkout downloads the blobs of the sparse paths, in one request
    git(["-c", "advice.detachedHead=false", "checkout", "-q", commit], cwd=work)
    return os.path.join(work, ".git")


def fetch(out, base_url=None, listed=None):
    """Fetch every listed repository and extract its mails into ``out``; a progress line per
    repository. Returns (mails written, [failures]); stops at the first repository that cannot
    be reached at all (the others would not be either)."""
    base_url = (base_url or os.environ.get("MCL_REALMAIL_GIT") or "https://github.com").rstrip("/")
    listed = listed if listed is not None else realmail_corpus.sources()
    by_repo = {}
    for source in listed:
        by_repo.setdefault((source.repository, source.commit), []).append(source)
    written, failures = 0, []
    with tempfile.TemporaryDirectory(prefix="mcl-realmail-") as tmp:
        for index, ((repository, commit), rows) in enumerate(sorted(by_repo.items()), 1):
            lacking = realmail_corpus.absent(out, rows)
            head = f"[{index}/{len(by_repo)}] {repository} @ {commit[:10]}"
            if not lacking:
                log(f"{head}: {len(rows)} mails already there")
                continue
            work = os.path.join(tmp, repository.replace("/", "+"))
            try:
                git_dir = fetch_repository(
                    f"{base_url}/{repository}", commit, [s.path for s in lacking], work
                )
            except FetchFailed as error:
                log(f"{head}: not fetched: {error}")
                failures.append(f"{repository}: {error}")
                if error.offline:
                    break
                continue
            done, failed = extract_sources(git_dir, lacking, out)
            written += done
            failures += failed
            log(f"{head}: {done} of {len(lacking)} mails fetched, sha256 checked")
            shutil.rmtree(work, ignore_errors=True)
    return written, failures


def ensure(out=None):
    """`make setup`'s step: 0 when the corpus is somewhere or was fetched, 0 with a sentence
    when it cannot be fetched (the tests then skip with it), 1 when fetched mails are wrong."""
    found = realmail_corpus.folder()
    if not realmail_corpus.absent(found):
        log(f"real-world mail corpus in {found}")
        return 0
    out = out or found  # MCL_REALMAIL when set, else the cache folder
    log(f"fetching the real-world mail corpus into {out} (partial clones of the listed paths)")
    written, failures = fetch(out)
    lacking = len(realmail_corpus.absent(out))
    if not lacking:
        log(f"real-world mail corpus complete in {out} ({written} mails fetched)")
        return 0
    log(
        f"the real-world mail corpus is incomplete ({lacking} mails missing in {out}): "
        f"the tests that need it will be skipped, or fail with CI=true. "
        f"Run `make setup` again where github.com is reachable, or set MCL_REALMAIL to a "
        f"folder that holds it."
    )
    return 1 if any("sha256" in f for f in failures) else 0


def extract_sources(git_dir, rows, out):
    """Write ``rows`` from ``git_dir`` into ``out``: (written, [failures])."""
    os.makedirs(out, exist_ok=True)
    done, failed = 0, []
    for source in rows:
        result = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{source.commit}:{source.path}"],
            capture_output=True,
            check=False,
        )
        if result.returncode:
            failed.append(f"{source.repository} {source.path}: {result.stderr.decode().strip()}")
            continue
        data = result.stdout
        if hashlib.sha256(data).hexdigest() != source.sha256:
            failed.append(f"{source.repository} {source.path}: sha256 differs")
            continue
        path = os.path.join(out, source.file_name)
        with open(path + ".tmp", "wb") as handle:
            handle.write(data)
        os.replace(path + ".tmp", path)
        done += 1
    return done, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--git-dir",
        action="append",
        default=[],
        metavar="OWNER/NAME=PATH",
        help="the git directory (or a clone's .git) of one listed repository; repeat",
    )
    parser.add_argument(
        "--clones",
        metavar="DIR",
        help="a folder holding clones as DIR/owner/name (instead of one --git-dir each)",
    )
    parser.add_argument("--out", default=None, help="corpus folder (default: $MCL_REALMAIL)")
    parser.add_argument("--check", action="store_true", help="only verify the folder")
    parser.add_argument(
        "--fetch", action="store_true", help="partial sparse clones of the listed paths only"
    )
    parser.add_argument(
        "--ensure", action="store_true", help="found, else fetched, else said why (make setup)"
    )
    args = parser.parse_args(argv)
    out = os.path.expanduser(args.out) if args.out else realmail_corpus.folder()
    if args.check:
        try:
            mails = realmail_corpus.load(out)
        except realmail_corpus.CorpusMissing as error:
            log(str(error))
            return 1
        log(f"{len(mails)} mails in {out}, all as listed")
        return 0
    if args.ensure:
        return ensure(os.path.expanduser(args.out) if args.out else None)
    if args.fetch:
        _written, failures = fetch(out)
        for line in failures:
            log(f"failed: {line}")
        return 0 if not failures and not realmail_corpus.absent(out) else 1
    git_dirs = clone_dirs(args.clones) if args.clones else {}
    git_dirs.update(parse_git_dirs(args.git_dir))
    return extract(git_dirs, out)


if __name__ == "__main__":
    sys.exit(main())
