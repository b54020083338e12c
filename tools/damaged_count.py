#!/usr/bin/env python3
"""How many mails of a folder parse fine, degraded, damaged or in error (issue 25, point 4).

    python3 tools/damaged_count.py DIR [DIR ...]              # the parse module of this tree
    python3 tools/damaged_count.py --rev main DIR [DIR ...]   # the parse module at a git revision
    python3 tools/damaged_count.py --list error DIR           # also name the files in error

Every regular file under each DIR (recursively, hidden files and README* skipped) is one mail,
read as bytes and given to ``mailflow.parse.parse``. Pure Python: the ``mailflow`` package
imports nothing from ``odoo``, so no database or Odoo is needed. With ``--rev`` the package is
taken from ``git show REV:mail_crm_link/mailflow/...`` into a temporary folder, so that the
counts before and after a change come from one command.

A mail is counted once, in the first of: ``error`` (``mail.error`` set), ``damaged``
(``mail.damaged``; a parse module without the flag has none), ``degraded``, ``fine``.
"""

import argparse
import collections
import importlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "mail_crm_link/mailflow"
KINDS = ("fine", "degraded", "damaged", "error")


def load_parse(rev=None):
    """The ``parse`` module of this tree, or of git revision ``rev``."""
    if rev is None:
        folder = os.path.join(ROOT, "mail_crm_link")
    else:
        folder = tempfile.mkdtemp(prefix="mcl-parse-")
        target = os.path.join(folder, "mailflow")
        os.makedirs(target)
        names = subprocess.run(
            ["git", "-C", ROOT, "ls-tree", "--name-only", f"{rev}:{PACKAGE}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for name in names:
            if name.endswith(".py"):
                data = subprocess.run(
                    ["git", "-C", ROOT, "show", f"{rev}:{PACKAGE}/{name}"],
                    check=True,
                    capture_output=True,
                ).stdout
                with open(os.path.join(target, name), "wb") as out:
                    out.write(data)
    sys.path.insert(0, folder)
    return importlib.import_module("mailflow.parse")


def mail_files(directory):
    for base, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.upper().startswith("README"):
                continue
            path = os.path.join(base, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def kind(mail):
    if mail.error:
        return "error"
    if getattr(mail, "damaged", False):
        return "damaged"
    return "degraded" if mail.degraded else "fine"


def count(parse, directory):
    """``(Counter of kinds, {kind: [(path, reason)]})`` for the mails of ``directory``."""
    counts, files = collections.Counter(), collections.defaultdict(list)
    for path in mail_files(directory):
        with open(path, "rb") as handle:
            mail = parse.parse(handle.read())
        found = kind(mail)
        counts[found] += 1
        reason = mail.error or "; ".join(mail.warnings)
        files[found].append((os.path.relpath(path, directory), reason))
    return counts, files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+", metavar="DIR")
    parser.add_argument("--rev", help="take mailflow/ from this git revision (default: the tree)")
    parser.add_argument("--list", action="append", choices=KINDS, default=[], help="name files")
    args = parser.parse_args(argv)
    parse = load_parse(args.rev)
    print(f"parse module: {args.rev or 'working tree'} ({parse.__file__})")
    print(f"{'folder':<40} {'mails':>6} " + " ".join(f"{k:>9}" for k in KINDS))
    total = collections.Counter()
    for directory in args.directories:
        counts, files = count(parse, directory)
        total.update(counts)
        label = os.path.basename(os.path.normpath(directory))
        print(
            f"{label:<40} {sum(counts.values()):>6} " + " ".join(f"{counts[k]:>9}" for k in KINDS)
        )
        for name in args.list:
            for path, reason in files[name]:
                print(f"    {name}: {path}: {reason[:160]}")
    if len(args.directories) > 1:
        print(f"{'all':<40} {sum(total.values()):>6} " + " ".join(f"{total[k]:>9}" for k in KINDS))


if __name__ == "__main__":
    main()
