"""The real-world mail corpus: mails nobody on this project wrote, taken from the test fixtures
of public mail libraries and mail servers (see ``realmail/README.md``).

Pure Python (no ``odoo`` import): the tests, ``tools/realmail.py`` and ``tools/devenv.py``
share it.

The mails themselves are never committed: ``realmail/SOURCES.tsv`` lists each one by
repository, commit, path, sha256 and size. The folder that holds them is found, in order, in
``$MCL_REALMAIL`` and in the cache folder ``~/.cache/mail_crm_link/realmail/``; ``make setup``
fetches it into the first of those when neither holds it (``tools/realmail.py --ensure``).

Where the corpus is nowhere (no network when ``make setup`` ran), the tests that need it are
skipped with one reason that names the command and the variable (``missing_reason``), and
``make test`` repeats it after pytest's closing line. With ``CI=true`` a missing corpus is a
failure (``CorpusMissing``). A file that is there but differs from its sha256 is a failure
everywhere: it is not a corpus that is missing but one that is wrong.
"""

import csv
import hashlib
import os
import unittest
from dataclasses import dataclass

SOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "realmail", "SOURCES.tsv")
CACHE_FOLDER = os.path.join("~", ".cache", "mail_crm_link", "realmail")
DEFAULT_FOLDER = CACHE_FOLDER  # the name it had


class CorpusMissing(AssertionError):
    """The corpus folder is missing or does not match SOURCES.tsv."""


@dataclass(frozen=True)
class Source:
    repository: str  # owner/name on GitHub
    commit: str
    path: str  # inside the repository
    sha256: str
    size: int

    @property
    def file_name(self):
        """The mail's file in the corpus folder: one flat folder, names readable."""
        return f"{self.repository.replace('/', '+')}--{self.path.replace('/', '--')}"


def candidates():
    """The folders that may hold the corpus, in the order they are looked in."""
    folders = [os.environ.get("MCL_REALMAIL"), CACHE_FOLDER]
    return [os.path.abspath(os.path.expanduser(f)) for f in folders if f]


def absent(directory, listed=None):
    """The listed mails that ``directory`` lacks (a file of another size counts as absent:
    an interrupted copy). Cheap: sizes only, no hashing."""
    result = []
    for source in listed if listed is not None else sources():
        try:
            size = os.path.getsize(os.path.join(directory, source.file_name))
        except OSError:
            size = None
        if size != source.size:
            result.append(source)
    return result


def folder():
    """The folder of the corpus: the first candidate that holds every listed mail, otherwise
    the first candidate (where ``tools/realmail.py`` writes it)."""
    listed = sources()
    folders = candidates()
    for directory in folders:
        if not absent(directory, listed):
            return directory
    return folders[0]


def missing_reason():
    """One sentence for the tests skipped because the corpus is nowhere, or None when the
    corpus is there."""
    listed = sources()
    looked = []
    for directory in candidates():
        lacking = len(absent(directory, listed))
        if not lacking:
            return None
        looked.append(f"{directory} lacks {lacking} of {len(listed)}")
    where = "; ".join(looked)
    env = "" if os.environ.get("MCL_REALMAIL") else "MCL_REALMAIL is unset; "
    return (
        f"real-world mail corpus not found ({env}{where}): run `make setup` where github.com "
        f"is reachable to fetch it, or set MCL_REALMAIL to a folder that holds it "
        f"(mail_crm_link/tests/realmail/README.md)"
    )


def required():
    """True where a missing corpus fails rather than skips (CI)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def sources(path=SOURCES):
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Source(row["repository"], row["commit"], row["path"], row["sha256"], int(row["bytes"]))
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def rebuild_hint(directory=None):
    return (
        f"The real-world mail corpus is missing or incomplete in {directory or folder()} "
        f"(set MCL_REALMAIL to use another folder). Rebuild it from clones of the public "
        f"repositories listed in mail_crm_link/tests/realmail/SOURCES.tsv "
        f"(see mail_crm_link/tests/realmail/README.md):\n"
        f"    python3 tools/realmail.py --fetch          # partial clones from github.com\n"
        f"    python3 tools/realmail.py --clones DIR   # or clones of yours as DIR/owner/name"
    )


def load(directory=None):
    """[(Source, bytes)] of every listed mail, checked against its sha256.

    Where no folder holds the corpus (and ``directory`` is not given), raises
    ``unittest.SkipTest`` with ``missing_reason()``, or ``CorpusMissing`` under ``CI=true``.
    Raises ``CorpusMissing`` (with the rebuild command) when a mail is missing from the folder
    given, or differs from its sha256."""
    if directory is None:
        reason = missing_reason()
        if reason:
            if required():
                raise CorpusMissing(f"{reason} (CI=true: the corpus is required)")
            raise unittest.SkipTest(reason)
        directory = folder()
    result, problems = [], []
    for source in sources():
        path = os.path.join(directory, source.file_name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            problems.append(f"missing {source.file_name}")
            continue
        if hashlib.sha256(data).hexdigest() != source.sha256:
            problems.append(f"differs from its source: {source.file_name}")
            continue
        result.append((source, data))
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if problems[5:] else ""
        )
        raise CorpusMissing(f"{rebuild_hint(directory)}\n({shown})")
    return result
