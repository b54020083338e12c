"""A local OAuth 2.0 provider standing in for Google's and Microsoft's token services, and the
token introspection endpoint of the private Dovecot's ``oauth2`` passdb (no ``odoo`` import).

One HTTP server on 127.0.0.1 (``http.server`` in a thread) answers:

- ``POST /google/token`` and ``POST /microsoft/token``: the token endpoints Odoo's
  ``google_gmail`` and ``microsoft_outlook`` call (``grant_type=refresh_token`` or
  ``authorization_code``), with Google's answers (a new access token, the refresh token kept)
  and Microsoft's (a new access token and a *rotated* refresh token: the old one is refused
  from then on, so a rotated token that was not saved is noticed at the next refresh);
  ``invalid_grant`` for a revoked or unknown refresh token, as both providers answer;
- ``POST /introspect``: what Dovecot asks (``introspection_mode = post``, ``token=...``):
  ``{"active": true, "username": ...}`` for an access token that is known, not expired and not
  revoked, ``{"active": false}`` otherwise.

Everything it was asked is kept (``requests``), so tests assert what the provider saw.
"""

import base64
import contextlib
import json
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Account:
    """A provider account: its current refresh token, and the IMAP login its tokens open:
    its own, or (``opens``) a Microsoft 365 shared mailbox it has Full Access to."""

    username: str
    refresh_token: str
    revoked: bool = False
    access_tokens: dict = field(default_factory=dict)  # token -> expiry (epoch seconds)
    opens: str | None = None


class OAuthProvider:
    """The stand-in provider. ``lifetime``: seconds an access token lives; ``delay``: seconds
    each token request takes (to make two refreshers overlap)."""

    host = "127.0.0.1"

    def __init__(self, lifetime=3600, delay=0.0):
        self.lifetime = lifetime
        self.delay = delay
        self.accounts = {}  # username -> Account
        self.requests = []  # (path, form) of every request, in order
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = provider.answer(self.path, form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):  # quiet
                return

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return f"http://{self.host}:{self.server.server_address[1]}"

    @property
    def introspection_url(self):
        return f"{self.url}/introspect"

    # -- accounts and tokens ---------------------------------------------------------------
    def add_account(self, username, opens=None):
        """A consented account (``opens``: the shared mailbox its tokens open); returns its
        refresh token."""
        with self.lock:
            account = Account(username, "rt-" + secrets.token_hex(12), opens=opens)
            self.accounts[username] = account
            return account.refresh_token

    def issue_access_token(self, username, lifetime=None):
        """An access token as the consent flow would have left it: (token, expiry)."""
        with self.lock:
            return self._issue(self.accounts[username], lifetime)

    def _issue(self, account, lifetime=None):
        token = "at-" + secrets.token_hex(12)
        expiry = int(time.time()) + (self.lifetime if lifetime is None else lifetime)
        account.access_tokens[token] = expiry
        return token, expiry

    def revoke(self, username):
        """The user withdrew the consent (or changed the password): no token works."""
        with self.lock:
            account = self.accounts[username]
            account.revoked = True
            account.access_tokens.clear()

    def expire(self, token):
        """The provider considers ``token`` expired from now on (whatever it said)."""
        with self.lock:
            for account in self.accounts.values():
                if token in account.access_tokens:
                    account.access_tokens[token] = 0

    def refreshes(self, username=None):
        """Refresh requests seen (for ``username``'s current or past refresh tokens)."""
        return [
            form
            for path, form in self.requests
            if path.endswith("/token")
            and form.get("grant_type") == "refresh_token"
            and (username is None or form.get("_username") == username)
        ]

    def introspected(self, active=None, username=None):
        """Introspection requests seen (``username``: for that account's tokens)."""
        return [
            form
            for path, form in self.requests
            if path == "/introspect"
            and (active is None or form.get("_active") == active)
            and (username is None or form.get("_username") == username)
        ]

    # -- the endpoints ---------------------------------------------------------------------
    def answer(self, path, form):
        if self.delay and path.endswith("/token"):
            time.sleep(self.delay)
        with self.lock:
            record = dict(form)
            self.requests.append((path, record))
            if path == "/introspect":
                return self._introspect(form, record)
            if path in ("/google/token", "/microsoft/token"):
                return self._token(path.split("/")[1], form, record)
            return 404, {"error": "not_found"}

    def _introspect(self, form, record):
        now = time.time()
        record["_active"] = False
        for account in self.accounts.values():
            expiry = account.access_tokens.get(form.get("token"))
            if expiry is None:
                continue
            record["_username"] = account.username
            if expiry > now and not account.revoked:
                record["_active"] = True
                return 200, {"active": True, "username": account.opens or account.username}
        return 200, {"active": False}

    def _token(self, flavour, form, record):
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        account = next(
            (a for a in self.accounts.values() if a.refresh_token == form.get("refresh_token")),
            None,
        )
        if account is None or account.revoked:
            return 400, {
                "error": "invalid_grant",
                "error_description": "AADSTS50173: The provided grant has expired due to it "
                "being revoked, a fresh auth token is needed."
                if flavour == "microsoft"
                else "Token has been expired or revoked.",
            }
        record["_username"] = account.username
        token, expiry = self._issue(account)
        body = {
            "access_token": token,
            "expires_in": expiry - int(time.time()),
            "token_type": "Bearer",
        }
        if flavour == "microsoft":  # Microsoft rotates the refresh token on every use
            account.refresh_token = "rt-" + secrets.token_hex(12)
            body["refresh_token"] = account.refresh_token
            body["scope"] = form.get("scope", "")
            if "openid" in body["scope"].split():  # asked by Odoo 19's microsoft_outlook
                body["id_token"] = _id_token(account.opens or account.username)
        return 200, body


class ByeProxy:
    """A TCP relay in front of the test Dovecot that ends every session it carries the way
    Exchange Online does when the session's token expires (``end_sessions``): a ``* BYE``
    line, then the connection closes. Server lines are relayed whole, so the BYE never cuts
    one. With ``tls`` (``(cert file, key file)``) it speaks IMAP over TLS to its clients, as
    Exchange does (Odoo 19's google_gmail and microsoft_outlook refuse a mailbox without
    SSL), and plain IMAP to Dovecot."""

    host = "127.0.0.1"

    def __init__(self, target_port, tls=None):
        self.target_port = target_port
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.listener = None
        self.sessions = []  # (client socket, server socket, lock of the client side)
        self.lock = threading.Lock()

    def start(self):
        self.listener = socket.create_server((self.host, 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def port(self):
        return self.listener.getsockname()[1]

    def stop(self):
        if self.listener is not None:
            self.listener.close()
        self.end_sessions(None)

    def end_sessions(self, line=b"* BYE Session invalidated - AccessTokenExpired"):
        with self.lock:
            sessions, self.sessions = self.sessions, []
        for client, server, lock in sessions:
            with lock:
                with contextlib.suppress(OSError):
                    if line:
                        client.sendall(line + b"\r\n")
                for sock in (client, server):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
        return len(sessions)

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            if self.tls:
                try:
                    client = self.tls.wrap_socket(client, server_side=True)
                except OSError:
                    continue
            server = socket.create_connection((self.host, self.target_port))
            lock = threading.Lock()
            with self.lock:
                self.sessions.append((client, server, lock))
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, lock), daemon=True).start()

    @staticmethod
    def _pump(source, target, lock):
        pending = b""
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if lock is None:
                    target.sendall(data)
                    continue
                pending += data
                whole, cut, pending = pending.rpartition(b"\n")
                if cut:
                    with lock:
                        target.sendall(whole + cut)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def running_provider(**kwargs):
    provider = OAuthProvider(**kwargs).start()
    try:
        yield provider
    finally:
        provider.stop()


_SERVERS = None


def get_oauth_servers():
    """The test session's provider and the Dovecot whose ``oauth2`` passdb asks it: started
    once, stopped when the interpreter exits (a second Dovecot beside ``get_server()``'s)."""
    global _SERVERS
    if _SERVERS is None:
        import atexit

        from .dovecot import DovecotServer

        provider = OAuthProvider().start()
        dovecot = DovecotServer(oauth2_introspection_url=provider.introspection_url).start()
        atexit.register(dovecot.cleanup)
        atexit.register(provider.stop)
        _SERVERS = (provider, dovecot)
    elif not _SERVERS[1].running:
        _SERVERS[1].start()
    return _SERVERS


def _id_token(email):
    """An OpenID Connect ID token naming ``email`` (unsigned: Odoo reads its claims only)."""

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'email': email})}."
