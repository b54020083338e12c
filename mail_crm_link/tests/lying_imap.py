"""A lying IMAP server for the tests (issue 24): a loopback relay in front of the real Dovecot
that passes everything through but rewrites the answers a test chooses. The sync talks to a
real server; only the lie is made up.

``lie`` is a function ``(line) -> line``, given each untagged or tagged response line from
the server (without literal data, which is passed on untouched) and returning what the client
gets instead. ``empty_search`` and ``half_search`` are two such lies.
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


def half_search(line):
    """A server whose search drops every other UID."""
    match = _SEARCH.match(line)
    if not match:
        return line
    uids = match.group(1).split()
    return b"* SEARCH " + b" ".join(uids[::2]) + match.group(2)


class LyingImap:
    def __init__(self, host, port, lie=None):
        self.target = (host, port)
        self.lie = lie
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
        """Server to client: line by line, literals passed on as they are."""
        reader = server.makefile("rb")
        with contextlib.suppress(OSError, ValueError):
            while line := reader.readline():
                literal = _LITERAL.search(line)
                lie = self.lie
                if lie is not None and not literal:
                    told = lie(line)
                    if told != line:
                        self.lies_told += 1
                    line = told
                client.sendall(line)
                if literal:
                    client.sendall(reader.read(int(literal.group(1))))
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)
