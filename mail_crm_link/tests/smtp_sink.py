"""A real SMTP listener on 127.0.0.1 (aiosmtpd) that captures what Odoo sends.

Pure Python (no ``odoo`` import). ``get_sink()`` gives the test session's listener; ``sink.reset()``
empties it between tests.
"""

import atexit
import email
import email.policy
import threading

from aiosmtpd.controller import Controller

from .dovecot import free_port


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

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.messages.append(CapturedMail(envelope))
        return "250 Message accepted for delivery"


class SmtpSink:
    host = "127.0.0.1"

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def reset(self):
        with self.lock:
            self.messages.clear()

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
