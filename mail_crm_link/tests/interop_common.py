"""The test bench against any of the private IMAP servers (Dovecot, Cyrus, Courier), and a
relay that lets a test kill a sync at an exact point of the IMAP conversation.

    class TestOnCyrus(MailServerCase):
        get_mail_server = staticmethod(cyrus.get_server)
"""

import contextlib
import re
import socket
import threading

from .common import MailCrmLinkCommon


class MailServerCase(MailCrmLinkCommon):
    """MailCrmLinkCommon with the IMAP server under test as a class attribute."""

    get_mail_server = None  # staticmethod(<module>.get_server) in each concrete class

    @property
    def server(self):
        return self.get_mail_server()

    @property
    def dovecot(self):
        """The helpers of MailCrmLinkCommon (make_mail_user, make_mailbox) use ``self.dovecot``:
        here it is the server under test."""
        return self.server

    def folder(self, name):
        """The server's name of a personal folder: 'Sent' on Dovecot, 'INBOX/Sent' on Cyrus,
        'INBOX.Sent' on Courier."""
        spell = getattr(self.server, "folder", None)  # DovecotServer: all at the top level
        return spell(name) if spell else name


class FetchTrap:
    """A loopback relay in front of an IMAP server: connections to ``port`` are passed on to
    the server, and when the client sends its ``armed``-th ``UID FETCH`` the relay calls
    ``on_trap`` (which kills the client) and cuts the connection before the command arrives.
    A test thus stops a sync between two batches without patching any of its code."""

    _FETCH = re.compile(rb"^\S+ UID FETCH ", re.IGNORECASE)

    def __init__(self, host, port, armed=None, on_trap=None):
        self.target = (host, port)
        self.armed = armed
        self.on_trap = on_trap
        self.fetches = 0
        self.sprung = threading.Event()
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
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            threading.Thread(target=self._client, args=(client, server), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def _client(self, client, server):
        """Client to server, line by line (the sync sends no literals)."""
        buffer = b""
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                buffer += data
                while b"\n" in buffer:
                    line, _sep, buffer = buffer.partition(b"\n")
                    if self._FETCH.match(line):
                        self.fetches += 1
                        if self.armed and self.fetches >= self.armed and not self.sprung.is_set():
                            self.sprung.set()
                            if self.on_trap:
                                self.on_trap()
                            client.close()
                            server.close()
                            return
                    server.sendall(line + b"\n")
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_WR)
