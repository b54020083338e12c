"""A real SMTP listener on 127.0.0.1 (aiosmtpd) that captures what Odoo sends.

Pure Python (no ``odoo`` import). ``get_sink()`` gives the test session's listener;
``sink.reset()`` empties it between tests. Knobs, all cleared by ``reset()``:

- ``refuse``: lower-case addresses refused at RCPT TO (550, as for an unknown user);
- ``hold``: a threading.Event; while it is not set, each mail is received and then left
  unanswered (no 250), so a test can stop the sender exactly there;
- ``delay``: seconds to wait before answering, as a real server over a network;
- ``received``: a threading.Event set when a mail has been received;
- ``drop``: each mail is received, then the connection is cut without an answer (the
  server has the mail; the sender cannot know it was taken).

``SmtpSink(refuse_login=True)`` offers AUTH and refuses every login (535). ``deliver`` (a
callable taking a CapturedMail) makes it a small mail server: the demo delivers what Odoo
sends into the demo Dovecot mailbox.
"""

import asyncio
import atexit
import email
import email.policy
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

try:
    from .dovecot import free_port
except ImportError:  # imported as a top-level module by tools/devenv.py (the demo)
    from dovecot import free_port


class CapturedMail:
    """One accepted SMTP transaction: envelope plus the parsed message."""

    def __init__(self, envelope):
        self.mail_from = envelope.mail_from
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.raw = envelope.original_content or envelope.content
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    def __getitem__(self, header):
        return self.message[header]

    def __repr__(self):
        return f"<CapturedMail {self.mail_from} -> {self.rcpt_tos}: {self.message['Subject']!r}>"


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.sink.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = CapturedMail(envelope)
        with self.sink.lock:
            self.sink.messages.append(mail)
        self.sink.received.set()
        if self.sink.drop:
            server.transport.abort()  # no 250: the line is cut after the whole mail
            return "250 Message accepted for delivery (never heard)"
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        if self.sink.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.sink.hold.wait, 60)
        if self.sink.deliver is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.sink.deliver, mail)
            except Exception as exc:  # noqa: BLE001 (told to the sender as a server would)
                return f"451 4.3.0 Delivery failed: {exc}"
        return "250 Message accepted for delivery"


class SmtpSink:
    host = "127.0.0.1"

    def __init__(self, port=None, deliver=None, refuse_login=False):
        self.port = port or free_port()
        self.messages = []
        self.refuse = set()
        self.hold = None
        self.delay = 0
        self.drop = False
        self.received = threading.Event()
        self.deliver = deliver
        self.lock = threading.Lock()
        auth = {}
        if refuse_login:  # offers AUTH and refuses every login (535), as with a wrong password
            auth = {
                "authenticator": lambda *args: AuthResult(success=False, handled=False),
                "auth_require_tls": False,
            }
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **auth)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def reset(self):
        with self.lock:
            self.messages.clear()
        self.refuse = set()
        self.hold = None
        self.delay = 0
        self.drop = False
        self.received.clear()

    def message_ids(self):
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]

    def mail_server_values(self):
        """Values of an ``ir.mail_server`` that delivers to this sink."""
        return {
            "name": "Test SMTP sink",
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_encryption": "none",
        }


_SINK = None


def get_sink():
    global _SINK
    if _SINK is None:
        _SINK = SmtpSink().start()
        atexit.register(_SINK.stop)
    return _SINK
