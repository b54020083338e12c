"""Parse ahead: a batch of raw mails parsed in a process of its own, while this one writes.

A large import alternates between parsing (pure Python) and storing (the ORM and PostgreSQL).
In one process only one of the two runs at a time, so on a 2-core machine one core waits.
``ParseAhead.submit`` hands a batch's bytes to a helper process and returns at once; the sync
stores the previous batch meanwhile and collects this one with ``result``.

The helper is a fresh interpreter, started with this process's library path, that imports
this package (and, in the background, the sanitizer below). It is not a fork: the parent may be
an Odoo worker with threads and open database connections, whose copies in a forked child
could be closed under the parent's feet. It ends when its input ends, and by itself when the
parent is gone.

With a ``sanitizer`` (``(module, function, import path, modules to import first)``, e.g.
Odoo's ``html_sanitize``), the helper also sanitizes the HTML bodies into
``ParsedMail.html_clean``, once it has imported that module (in the background: the first
batches are answered without it, never later).

Nothing is ever lost to the helper: if it cannot start, dies, answers garbage or takes longer
than ``timeout`` (a minute per batch), ``result`` returns ``None`` for the mails it did not
parse and the caller parses them itself (``parse.parse`` is total). A mail the helper could not
parse is ``None`` as well, so the caller's own error handling applies to it.
"""

import contextlib
import functools
import importlib
import io
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time

from . import parse

_logger = logging.getLogger(__name__)

_FRAME = struct.Struct(">Q")  # length of the pickle that follows
_PACKAGE = __name__.rsplit(".", 1)[0]  # this package as the parent imported it
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # holds mailflow/
# what the helper's answers may contain (the parent unpickles nothing else)
_ALLOWED = {
    ("copyreg", "__newobj__"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
    ("mailflow.parse", "ParsedMail"),
    ("mailflow.parse", "Attachment"),
}
# ``-c`` puts the working directory first on the path: dropped, so that nothing there shadows
# the standard library
_CHILD = (
    "import sys; sys.path[:] = [p for p in sys.path if p]; sys.path.append(sys.argv[1]); "
    "from mailflow import parse_ahead; parse_ahead.main(sys.argv[2:])"
)
DEFAULT_TIMEOUT = 60  # seconds a batch may take in the helper before it is parsed here


def _python():
    """This process's interpreter, or None when it is embedded in a program that is not
    Python (a WSGI server): running that with ``-c`` would not start Python."""
    name = os.path.basename(sys.executable or "")
    return sys.executable if name.startswith(("python", "pypy")) else None


def _write(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream):
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None  # end of stream
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


class _AnswerUnpickler(pickle.Unpickler):
    """The helper's answers: parsed mails and dates, nothing else. The helper's ``mailflow``
    is this process's ``<package>.mailflow``."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"unexpected {module}.{name} from the parse helper")
        if module.startswith("mailflow."):
            module = _PACKAGE + module[len("mailflow") :]
        return super().find_class(module, name)


# -- the helper process ------------------------------------------------------------------------
class _Sanitizer:
    """The sanitizer named by the parent, imported in a background thread: ``get()`` is the
    function once it is there, else None (that batch's HTML is left to the parent).
    ``preload``: modules imported first (Odoo 19's ``odoo.init`` patches lxml, as in the
    parent)."""

    def __init__(self, spec):
        self._function = None
        if len(spec) >= 3:
            threading.Thread(target=self._load, args=spec, daemon=True).start()

    def _load(self, module, name, path, *rest):
        """``rest``: modules to import first, and ``option=True``/``option=False`` keyword
        options of the function (``sanitize_style=True``: the parent's policy, the same
        as ``mail.message.body``)."""
        preload = [item for item in rest if "=" not in item]
        options = {
            key: value == "True"
            for key, _sep, value in (i.partition("=") for i in rest if "=" in i)
        }
        try:
            if path and path not in sys.path:
                sys.path.append(path)
            for other in preload:
                if other:
                    importlib.import_module(other)
            function = getattr(importlib.import_module(module), name)
        except Exception:  # noqa: BLE001 (the parent sanitizes)
            return
        self._function = functools.partial(function, **options) if options else function

    def get(self):
        return self._function


def _watch_parent(parent):
    """End the helper when the process that started it is gone (killed), whatever it does."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main(sanitizer=()):
    """The helper's entry point: a clean process state, then ``serve``."""
    if hasattr(signal, "pthread_sigmask"):  # not the signals blocked in the parent's thread
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
    # the answers go to a copy of stdout; anything printed by imported code goes to stderr,
    # and log records (a sanitizer's warning quotes the mail) go nowhere
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    logging.getLogger().addHandler(logging.NullHandler())
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        serve(sys.stdin.buffer, answers, sanitizer)
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the parent is gone or gave up on us: nothing to say


def serve(stdin, stdout, sanitizer=()):
    """The helper's loop: (ticket, [(raw, date)]) in, (ticket, [ParsedMail | None]) out."""
    sanitizer = _Sanitizer(sanitizer)
    while True:
        data = _read_frame(stdin)
        if data is None:
            return
        ticket, items = pickle.loads(data)
        answers = []
        for raw, date in items:
            try:
                mail = parse.parse(raw, fallback_date=date)
            except Exception:  # noqa: BLE001 (the parent parses it and reports it)
                mail = None
            sanitize = sanitizer.get()
            if mail is not None and mail.html and sanitize is not None:
                try:
                    mail.html_clean = str(sanitize(mail.html))
                except Exception:  # noqa: BLE001 (the parent sanitizes it)
                    mail.html_clean = None
            answers.append(mail)
        _write(stdout, (ticket, answers))


# -- the parent's side ---------------------------------------------------------------------------
class ParseAhead:
    """One helper process for one sync. Use as a context manager, or ``close()`` it.

    Nothing the sync calls blocks longer than ``timeout``: batches are written to the helper
    by a thread of their own (a helper that stops reading cannot hold ``submit``) and its
    answers are read by another."""

    ahead = True  # the caller gains by fetching the next batch before storing this one

    def __init__(self, timeout=DEFAULT_TIMEOUT, executable=None, sanitizer=None):
        """``sanitizer``: (module, function name, directory to import it from, modules to
        import first) of the HTML sanitizer the helper applies (see the module docstring)."""
        self.timeout = timeout
        self._sanitizer = [str(part or "") for part in sanitizer or ()]
        self._executable = executable or _python()
        self._proc = None
        self._dead = False
        self._next = 0
        self._answers = {}
        self._waiting = set()  # tickets submitted and not collected
        self._cond = threading.Condition()
        self._outbox = queue.Queue()
        self._threads = []

    # -- lifecycle ---------------------------------------------------------------------------
    def _start(self):
        if not self._executable:
            self._dead = True  # not run by a Python interpreter (embedded): parse here
            return
        # the libraries this process imports, found where this process finds them
        path = os.pathsep.join(p for p in sys.path if p)
        try:
            self._proc = subprocess.Popen(  # our own interpreter and code
                [self._executable, "-c", _CHILD, _ROOT, *self._sanitizer],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            _logger.warning("parse helper could not start (%s): parsing in this process", exc)
            self._dead = True
            return
        for target, name in ((self._read_answers, "read"), (self._write_batches, "write")):
            thread = threading.Thread(target=target, name=f"mcl-parse-ahead-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _write_batches(self):
        stream = self._proc.stdin
        while True:
            item = self._outbox.get()
            if item is None:
                break
            try:
                _write(stream, item)
            except (OSError, ValueError, pickle.PicklingError) as exc:
                if not self._dead:
                    _logger.warning("parse helper is gone (%s): parsing in this process", exc)
                self._kill()
                break
        with contextlib.suppress(OSError, ValueError):
            stream.close()

    def _read_answers(self):
        stream = self._proc.stdout
        try:
            while True:
                data = _read_frame(stream)
                if data is None:
                    break
                ticket, answers = _AnswerUnpickler(io.BytesIO(data)).load()
                with self._cond:
                    self._answers[ticket] = answers
                    self._cond.notify_all()
        except Exception:  # the parent parses what is missing
            _logger.warning("parse helper answered garbage: parsing in this process", exc_info=True)
            self._kill()
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def close(self):
        """End the helper: at once when answers are still pending (a sync that stopped at
        its deadline or on an error will not collect them), else once it has read all."""
        proc = self._proc
        if proc is None:
            self._dead = True
            return
        if self._waiting:
            self._kill()
        self._outbox.put(None)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._dead = True
        for thread in self._threads:
            thread.join(timeout=5)
        with contextlib.suppress(OSError):
            proc.stdout.close()
        self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    # -- work --------------------------------------------------------------------------------
    def submit(self, items):
        """Hand ``items`` = [(raw bytes, fallback date)] to the helper; returns a ticket for
        ``result`` at once. Never raises: a helper that is gone leaves the batch to the
        caller."""
        ticket = (self._next, len(items))
        self._next += 1
        if self._proc is None and not self._dead:
            self._start()
        if self._dead or not items:
            return ticket
        self._waiting.add(ticket[0])
        self._outbox.put((ticket[0], list(items)))
        return ticket

    def result(self, ticket):
        """[ParsedMail | None] for the submitted items, in order; ``None`` where the caller
        must parse the mail itself. Waits at most ``timeout``."""
        number, count = ticket
        if not count:
            return []
        self._waiting.discard(number)
        with self._cond:
            self._cond.wait_for(lambda: number in self._answers or self._dead, timeout=self.timeout)
            answers = self._answers.pop(number, None)
        if answers is None:
            if not self._dead:
                _logger.warning(
                    "parse helper took over %ss for a batch: parsing in this process",
                    self.timeout,
                )
                self._kill()
            return [None] * count
        if len(answers) != count:
            return [None] * count
        return answers

    def _kill(self):
        with self._cond:
            self._dead = True
            self._cond.notify_all()
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()


class InProcess:
    """The same interface, parsing nothing ahead: ``result`` leaves every mail to the caller
    (small syncs, where starting a helper costs more than it saves)."""

    pid = None
    ahead = False

    def submit(self, items):
        return (None, len(items))

    def result(self, ticket):
        return [None] * ticket[1]

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass
