"""A lying IMAP server for the tests (issue 24): a loopback relay in front of the real Dovecot
that passes everything through but rewrites the answers a test chooses. The sync talks to a
real server; only the lie is made up.

``lie`` is a function ``(line) -> line``, given each untagged or tagged response line from
the server (without literal data, which is passed on untouched) and returning what the client
gets instead. ``empty_search`` and ``half_search`` are two such lies.

``response_lie`` is a function ``(parts) -> parts`` given each whole response: its lines and
literals in order (``[b'* 3 FETCH (UID 3 BODY[] {120}\\r\\n', <120 bytes>, b')\\r\\n']``),
returning what the client gets instead (``[]`` drops it; ``CUT`` in the list closes the
connection there). ``drop_fetch``, ``cut_literal``, ``relabel_fetch``, ``renumber`` and
``cut_connection`` make such lies; each lies ``times`` times at most (``None``: always).
"""

import contextlib
import re
import socket
import threading

_LITERAL = re.compile(rb"\{(\d+)\}\r?\n$")
_SEARCH = re.compile(rb"^\* SEARCH\b(.*?)(\r?\n)$", re.IGNORECASE)


def empty_search(line):
    """A server whose search finds nothing, whatever the folder holds."""
    match = _SEARCH.match(line)
    return b"* SEARCH" + match.group(2) if match else line


_EXISTS = re.compile(rb"^\* \d+ EXISTS\r?\n$", re.IGNORECASE)


def no_exists(line):
    """A server (or a proxy) that never says how many mails a folder holds."""
    return b"" if _EXISTS.match(line) else line


def half_search(line):
    """A server whose search drops every other UID."""
    match = _SEARCH.match(line)
    if not match:
        return line
    uids = match.group(1).split()
    return b"* SEARCH " + b" ".join(uids[::2]) + match.group(2)


CUT = object()  # in a response lie's answer: the connection is closed there
_BODY_UID = re.compile(rb"\bUID (\d+)")


def _body_uid(parts):
    """The UID of a FETCH response that carries a mail's content, else None."""
    if len(parts) < 3 or b"FETCH" not in parts[0] or b"BODY[]" not in parts[0]:
        return None
    match = _BODY_UID.search(parts[0])
    return int(match.group(1)) if match else None


def _limited(times, lie):
    """``lie`` for the responses it applies to (it returns None for the others), ``times``
    times at most."""
    told = [0]

    def response_lie(parts):
        if times is not None and told[0] >= times:
            return parts
        answer = lie(parts)
        if answer is None:
            return parts
        told[0] += 1
        return answer

    return response_lie


def drop_fetch(uids, times=None):
    """A server that leaves the mails ``uids`` out of its FETCH answers."""
    return _limited(times, lambda parts: [] if _body_uid(parts) in uids else None)


def cut_literal(uids, times=None):
    """A server that sends the mails ``uids`` cut to half their size (announced as such)."""

    def lie(parts):
        if _body_uid(parts) not in uids:
            return None
        half = len(parts[1]) // 2
        head = _LITERAL.sub(b"{%d}\r\n" % half, parts[0])
        return [head, parts[1][:half], *parts[2:]]

    return _limited(times, lie)


def relabel_fetch(uid, other, times=None):
    """A server that answers for mail ``uid`` under the UID ``other``."""

    def lie(parts):
        if _body_uid(parts) != uid:
            return None
        return [parts[0].replace(b"UID %d " % uid, b"UID %d " % other), *parts[1:]]

    return _limited(times, lie)


def _after_mails(after, times, answer):
    """A lie that tells ``answer(parts)`` instead of the mails sent after the first
    ``after``, ``times`` times at most."""
    sent = [0]

    def lie(parts):
        if _body_uid(parts) is None:
            return None
        sent[0] += 1
        return None if sent[0] <= after else answer(parts)

    return _limited(times, lie)


def renumber(uidvalidity, after=1, times=1):
    """A server that announces a new UIDVALIDITY after ``after`` mails sent."""
    return _after_mails(
        after, times, lambda parts: [b"* OK [UIDVALIDITY %d] renumbered\r\n" % uidvalidity, *parts]
    )


def cut_connection(after=1, times=1):
    """A server whose connection breaks in the middle of the ``after``+1-th mail sent."""
    return _after_mails(after, times, lambda parts: [parts[0], parts[1][: len(parts[1]) // 2], CUT])


def shuffle_fetch():
    """A server that sends the FETCH answers of a command in reverse order."""
    held = []

    def lie(parts):
        if _body_uid(parts) is not None:
            held.append(parts)
            return []
        if held and re.match(rb"^[A-Za-z0-9]+ OK", parts[0]):  # the tagged end
            answer = [part for response in reversed(held) for part in response] + parts
            held.clear()
            return answer
        return None

    return _limited(None, lie)


class LyingImap:
    def __init__(self, host, port, lie=None, response_lie=None):
        self.target = (host, port)
        self.lie = lie
        self.response_lie = response_lie
        self.lies_told = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self):
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, 10)
            with self.lock:
                self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def _answers(self, server, client):
        """Server to client: whole responses (lines and literals), each passed through the
        lies."""
        reader = server.makefile("rb")
        with contextlib.suppress(OSError, ValueError):
            while line := reader.readline():
                parts = [line]
                while literal := _LITERAL.search(parts[-1]):
                    parts.append(reader.read(int(literal.group(1))))
                    parts.append(reader.readline())
                told = self._tell(parts)
                if told != parts:
                    self.lies_told += 1
                for part in told:
                    if part is CUT:
                        client.close()
                        return
                    client.sendall(part)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)

    def _tell(self, parts):
        lie, response_lie = self.lie, self.response_lie
        if lie is not None and len(parts) == 1:
            parts = [lie(parts[0])]
        if response_lie is not None:
            parts = response_lie(parts)
        return parts


class LyingPop(LyingImap):
    """The same relay for POP3, line by line: ``lie`` is ``(command, line) -> line or None``
    (None drops the line), given each line the server sends with the verb of the client's
    last command (``"UIDL"``, ``"STAT"``, …)."""

    def __init__(self, host, port, lie=None):
        self.last_command = ""
        super().__init__(host, port, lie=lie)

    def _pipe(self, source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.last_command = (
                    data.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
                )
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def _answers(self, server, client):
        reader = server.makefile("rb")
        with contextlib.suppress(OSError, ValueError):
            while line := reader.readline():
                told = self.lie(self.last_command, line) if self.lie else line
                if told != line:
                    self.lies_told += 1
                if told is not None:
                    client.sendall(told)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)


def uidl_drops(number):
    """A POP3 server whose UIDL listing leaves out message ``number``."""
    prefix = b"%d " % number

    def lie(command, line):
        return None if command == "UIDL" and line.startswith(prefix) else line

    return lie
