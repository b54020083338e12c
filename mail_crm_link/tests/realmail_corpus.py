"""The real-world mail corpus: mails nobody on this project wrote, taken from the test fixtures
of public mail libraries and mail servers (see ``realmail/README.md``).

Pure Python (no ``odoo`` import): the tests and ``tools/realmail.py`` share it.

The mails themselves are never committed: ``realmail/SOURCES.tsv`` lists each one by
repository, commit, path, sha256 and size, and ``tools/realmail.py`` rebuilds the folder
(default ``~/.cache/mail_crm_link/realmail/``, or ``$MCL_REALMAIL``) from git directories of
those repositories. A test that needs the corpus fails with the rebuild command when the folder
is missing or incomplete; it never passes quietly.
"""

import csv
import hashlib
import os
from dataclasses import dataclass

SOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "realmail", "SOURCES.tsv")
DEFAULT_FOLDER = os.path.join("~", ".cache", "mail_crm_link", "realmail")


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


def folder():
    return os.path.expanduser(os.environ.get("MCL_REALMAIL") or DEFAULT_FOLDER)


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
        f"    python3 tools/realmail.py --clones DIR   # full clones as DIR/owner/name"
    )


def load(directory=None):
    """[(Source, bytes)] of every listed mail, checked against its sha256; raises
    ``CorpusMissing`` (with the rebuild command) when any is missing or differs."""
    directory = directory or folder()
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
