#!/usr/bin/env python3
"""Rebuild the real-world mail corpus of the tests from git directories of public repositories.

    python3 tools/realmail.py --clones ~/src/realmail-repos      # clones as DIR/owner/name
    python3 tools/realmail.py --git-dir mikel/mail=~/src/mail/.git --git-dir ...
    python3 tools/realmail.py --check                              # verify the folder only

Data extraction only: for each row of mail_crm_link/tests/realmail/SOURCES.tsv whose repository
was given, ``git --git-dir PATH show COMMIT:PATH`` is written to the corpus folder (default
``~/.cache/mail_crm_link/realmail/``, or ``$MCL_REALMAIL``) after its sha256 is checked. Nothing
is built or run from those repositories. ``--check`` only verifies the folder.
"""

import argparse
import hashlib
import os
import subprocess
import sys

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
    os.makedirs(out, exist_ok=True)
    done, missing_repo, failed = 0, {}, []
    for source in realmail_corpus.sources():
        git_dir = git_dirs.get(source.repository)
        if not git_dir:
            missing_repo[source.repository] = missing_repo.get(source.repository, 0) + 1
            continue
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
    log(f"{done} mails written to {out}")
    for repository, count in sorted(missing_repo.items()):
        log(f"not extracted: {count} mails of {repository} (no --git-dir {repository}=PATH)")
    for line in failed:
        log(f"failed: {line}")
    return 0 if not missing_repo and not failed else 1


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
    git_dirs = clone_dirs(args.clones) if args.clones else {}
    git_dirs.update(parse_git_dirs(args.git_dir))
    return extract(git_dirs, out)


if __name__ == "__main__":
    sys.exit(main())
