"""Realistic email messages for tests, the demo and the benchmark (pure Python, no ``odoo``).

Every builder returns the raw bytes a mail server would hold. Messages are built with the
standard ``email`` package in its compat32 flavour, because that is what lets us choose legacy
charsets (windows-1251, koi8-r) for headers and bodies as real mail clients still send them.

    corpus = Corpus(domain="client.example")
    raw = corpus.message(sender=..., to=..., subject="Offerta", lang="it")
    reply = corpus.reply(raw, sender=..., body="Grazie!")
"""

import base64
import random
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

# (language, charset) → (display names, subjects, body paragraphs)
TEXTS = {
    "uk": {
        "names": ["Олена Коваленко", "Тарас Шевчук", "Ірина Бондаренко", "Богдан Мельник"],
        "subjects": [
            "Запит комерційної пропозиції",
            "Рахунок на оплату №{n}",
            "Умови доставки до Львова",
            "Зустріч у четвер",
        ],
        "body": [
            "Доброго дня!",
            "Просимо надіслати комерційну пропозицію на {n} одиниць.",
            "З повагою,",
        ],
        "file": "Специфікація_{n}.pdf",
    },
    "ru": {
        "names": ["Анна Смирнова", "Дмитрий Иванов", "Ольга Петрова", "Сергей Кузнецов"],
        "subjects": [
            "Запрос цены на оборудование",
            "Счёт №{n} на оплату",
            "Договор поставки",
            "Вопрос по заказу {n}",
        ],
        "body": ["Здравствуйте!", "Пришлите, пожалуйста, счёт на {n} позиций.", "С уважением,"],
        "file": "Договор_№{n}.docx",
    },
    "it": {
        "names": ["Giulia Rossi", "Marco Bianchi", "Francesca Esposito", "Luca Romano"],
        "subjects": [
            "Richiesta di offerta",
            "Fattura n. {n}",
            "Consegna a Milano — più veloce?",
            "Preventivo aggiornato",
        ],
        "body": [
            "Buongiorno,",
            "vorremmo ricevere un preventivo per {n} unità, perché è urgente.",
            "Cordiali saluti,",
        ],
        "file": "Preventivo_città_{n}.pdf",
    },
    "en": {
        "names": ["Emma Clarke", "James O'Neill", "Sophie Turner", "Daniel Wright"],
        "subjects": ["Request for quotation", "Invoice {n}", "Delivery terms", "Meeting next week"],
        "body": ["Hello,", "Could you send us a quotation for {n} units?", "Best regards,"],
        "file": "requirements_{n}.pdf",
    },
}
CHARSETS = {
    "uk": ["windows-1251", "utf-8"],
    "ru": ["koi8-r", "windows-1251", "utf-8"],
    "it": ["utf-8", "iso-8859-1"],
    "en": ["us-ascii", "utf-8"],
}

# a 1x1 transparent PNG: a real image for inline parts
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f6b0000000049454e44ae426082"
)
PDF_STUB = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# The demo's mail begins this many days before the day it is built, at 09:00 UTC: recent
# whenever the demo is made ("Why not?" looks at the last six months), a month of history
DEMO_DAYS_AGO = 35


def demo_start(now=None, days_ago=DEMO_DAYS_AGO):
    """When the demo's first mail was written: ``days_ago`` days before ``now`` (UTC), at
    09:00, as the tests' fixed clock. The mails after it keep their spacing."""
    now = now or datetime.now(timezone.utc)
    day = (now.astimezone(timezone.utc) - timedelta(days=days_ago)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=timezone.utc)


def _header(text, charset):
    """An RFC 2047 encoded-word header in ``charset`` (plain ASCII stays plain)."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        return Header(text, charset).encode()


def _address(name, addr, charset="utf-8"):
    if not name:
        return addr
    try:
        name.encode("ascii")
        return formataddr((name, addr))
    except UnicodeEncodeError:
        return formataddr((str(Header(name, charset).encode()), addr))


class Corpus:
    """A seeded factory of realistic messages: same seed, same bytes."""

    def __init__(
        self, domain="client.example", our_domain="mycompany.example", seed=42, start=None
    ):
        self.domain = domain
        self.our_domain = our_domain
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = start or datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
        self.counter = 0

    # -- small helpers ----------------------------------------------------------------------
    def _next(self):
        self.counter += 1
        self.clock += timedelta(minutes=self.rng.randint(3, 90))
        return self.counter

    def person(self, lang="en", index=None):
        names = TEXTS[lang]["names"]
        name = names[index % len(names)] if index is not None else self.rng.choice(names)
        login = "".join(c for c in _translit(name).lower() if c.isalnum() or c == ".")
        return name, f"{login}@{self.domain}"

    def _charset(self, lang, charset):
        return charset or self.rng.choice(CHARSETS[lang])

    def _headers(
        self, msg, sender, to, subject, charset, cc=None, date=None, msgid=None, extra=None
    ):
        msg["From"] = _address(*sender, charset) if isinstance(sender, tuple) else sender
        msg["To"] = ", ".join(
            _address(*t, charset) if isinstance(t, tuple) else t
            for t in (to if isinstance(to, list) else [to])
        )
        if cc:
            msg["Cc"] = ", ".join(_address(*c, charset) if isinstance(c, tuple) else c for c in cc)
        msg["Subject"] = _header(subject, charset)
        msg["Date"] = format_datetime(date or self.clock)
        msg["Message-ID"] = msgid or (
            f"<mcl.{self.seed}.{self.counter}.{self.rng.getrandbits(32):08x}@{_domain_of(sender)}>"
        )
        if "MIME-Version" not in msg:
            msg["MIME-Version"] = "1.0"
        for key, value in (extra or {}).items():
            msg[key] = value
        for index, part in enumerate(p for p in msg.walk() if p.is_multipart()):
            part.set_boundary(f"=_mcl_{self.seed}_{self.counter}_{index}")  # reproducible bytes
        return msg

    def _body_text(self, lang, n):
        return "\n\n".join(p.format(n=n) for p in TEXTS[lang]["body"])

    # -- builders ---------------------------------------------------------------------------
    def message(
        self,
        sender=None,
        to=None,
        subject=None,
        body=None,
        lang="en",
        charset=None,
        html=True,
        attachments=(),
        inline_image=False,
        cc=None,
        extra_headers=None,
        date=None,
        msgid=None,
    ):
        """A client mail: text, or multipart/alternative text+HTML, with optional attachments.

        ``attachments`` is a list of file names (non-ASCII names use RFC 2231) or of
        ``(name, bytes, mimetype)``.
        """
        n = self._next()
        charset = self._charset(lang, charset)
        sender = sender or self.person(lang)
        to = to or ("Sales", f"sales@{self.our_domain}")
        subject = (
            subject if subject is not None else self.rng.choice(TEXTS[lang]["subjects"]).format(n=n)
        )
        text = body if body is not None else self._body_text(lang, n)
        if not _encodable(text, charset) or not _encodable(subject, charset):
            charset = "utf-8"
        name = sender[0] if isinstance(sender, tuple) else parseaddr(sender)[0]
        text_full = f"{text}\n\n{name}"
        if html or inline_image:
            body_part = MIMEMultipart("alternative")
            body_part.attach(MIMEText(text_full, "plain", charset))
            img = '<p><img src="cid:logo@mcl" alt="logo"/></p>' if inline_image else ""
            paragraphs = "".join(f"<p>{_html_escape(p)}</p>" for p in text_full.split("\n\n"))
            body_part.attach(
                MIMEText(f"<html><body>{paragraphs}{img}</body></html>", "html", charset)
            )
            if inline_image:
                related = MIMEMultipart("related")
                related.attach(body_part)
                image = MIMEImage(PNG_1X1, "png")
                image["Content-ID"] = "<logo@mcl>"
                image.add_header("Content-Disposition", "inline", filename="logo.png")
                related.attach(image)
                body_part = related
        else:
            body_part = MIMEText(text_full, "plain", charset)
        if attachments:
            msg = MIMEMultipart("mixed")
            msg.attach(body_part)
            for item in attachments:
                msg.attach(_attachment(item, n))
        else:
            msg = body_part
        return self._headers(
            msg, sender, to, subject, charset, cc=cc, date=date, msgid=msgid, extra=extra_headers
        ).as_bytes()

    def reply(
        self,
        original,
        sender,
        body="Thank you, noted.",
        lang=None,
        charset="utf-8",
        to=None,
        quote=True,
        **kwargs,
    ):
        """A reply to ``original`` (bytes) with In-Reply-To and References set as clients do."""
        from email import message_from_bytes

        orig = message_from_bytes(original)
        orig_id = orig["Message-ID"]
        refs = (orig.get("References", "") + " " + orig_id).strip()
        subject = str(_decoded(orig["Subject"]))
        if not subject.lower().startswith(("re:", "aw:", "відп:", "ответ:", "r:")):
            subject = "Re: " + subject
        text = body
        if quote:
            text += "\n\n> " + "\n> ".join(_plain_of(orig).splitlines()[:6])
        extra = {"In-Reply-To": orig_id, "References": refs}
        extra.update(kwargs.pop("extra_headers", {}))
        return self.message(
            sender=sender,
            to=to or orig["From"],
            subject=subject,
            body=text,
            lang=lang or "en",
            charset=charset,
            extra_headers=extra,
            **kwargs,
        )

    def auto_reply(self, to, sender=None, kind="auto-submitted"):
        """An out-of-office answer, marked the way Exchange, Gmail or vacation(1) mark it."""
        sender = sender or self.person("en")
        headers = {
            "auto-submitted": {"Auto-Submitted": "auto-replied"},
            "x-autoreply": {"X-Autoreply": "yes"},
            "precedence": {"Precedence": "auto_reply"},
        }[kind]
        return self.message(
            sender=sender,
            to=to,
            subject="Out of office: back on Monday",
            body="I am out of the office until Monday.",
            html=False,
            extra_headers=headers,
        )

    def bounce(self, original_to, original_subject="Request for quotation"):
        """A DSN (RFC 3464) delivery failure report from MAILER-DAEMON, as Postfix writes it."""
        n = self._next()
        boundary = f"dsn-{n}"
        return (
            f"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.{self.domain}>\r\n"
            f"To: sales@{self.our_domain}\r\n"
            f"Subject: Undelivered Mail Returned to Sender #{n}\r\n"
            f"Date: {format_datetime(self.clock)}\r\n"
            f"Message-ID: <dsn{n}@mx.{self.domain}>\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"'
            f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"Delivery to {original_to} failed permanently.\r\n\r\n--{boundary}\r\n"
            "Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.{self.domain}\r\n\r\n"
            f"Final-Recipient: rfc822; {original_to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Subject: {original_subject}\r\nTo: {original_to}\r\n\r\n--{boundary}--\r\n"
        ).encode()

    def mailing_list(self, to=None):
        """A newsletter: List-Id, List-Unsubscribe, Precedence: bulk."""
        return self.message(
            sender=("Industry Weekly", f"news@lists.{self.domain}"),
            to=to or f"sales@{self.our_domain}",
            subject="Industry Weekly #42",
            extra_headers={
                "List-Id": f"Industry Weekly <weekly.lists.{self.domain}>",
                "List-Unsubscribe": f"<mailto:unsubscribe@lists.{self.domain}>",
                "Precedence": "bulk",
            },
        )

    def internal(self, sender, to, subject="Lunch?"):
        """Mail between colleagues: every participant in our own domain."""
        return self.message(
            sender=sender, to=to, subject=subject, body="Shall we meet at noon?", html=False
        )

    def malformed(self, kind="bad-boundary"):
        """Broken messages as they exist in real mailboxes."""
        n = self._next()
        date = format_datetime(self.clock)
        if kind == "bad-boundary":  # multipart without its closing boundary, bad base64
            return (
                f"From: broken{n}@{self.domain}\r\nTo: sales@{self.our_domain}\r\n"
                f"Subject: broken multipart {n}\r\nDate: {date}\r\n"
                f"Message-ID: <broken{n}@{self.domain}>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n--XYZ\r\n'
                "Content-Type: application/pdf; name=a.pdf\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n"
            ).encode()
        if kind == "bad-charset":  # declared charset does not exist; raw 8-bit bytes
            return (
                f"From: =?x-unknown?q?=E9t=E9?= <charset{n}@{self.domain}>\r\n"
                f"To: sales@{self.our_domain}\r\nSubject: =?utf-8?b?broken?=\r\n"
                f"Date: {date}\r\nMessage-ID: <charset{n}@{self.domain}>\r\n"
                "Content-Type: text/plain; charset=x-unknown\r\n\r\n"
            ).encode() + b"Caf\xe9 \xff\xfe na\xefve\r\n"
        if kind == "no-headers":  # garbage: no From, no Message-ID, no Date
            return b"this is not an email at all\r\n\x00\x01\x02 binary junk\r\n"
        if kind == "bad-date":
            return (
                f"From: date{n}@{self.domain}\r\nTo: sales@{self.our_domain}\r\n"
                f"Subject: date from nowhere\r\nDate: Blursday, 45 Smarch 20XX\r\n"
                f"Message-ID: <date{n}@{self.domain}>\r\n\r\nbody\r\n"
            ).encode()
        if kind == "empty-multipart":  # a multipart of nothing: no part, no text, no file
            return (
                f"From: empty{n}@{self.domain}\r\nTo: sales@{self.our_domain}\r\n"
                f"Subject: empty multipart {n}\r\nDate: {date}\r\n"
                f"Message-ID: <empty{n}@{self.domain}>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n\r\n'
            ).encode()
        raise ValueError(kind)

    def damaged(self, kind, sender=None, subject=None):
        """Mails whose MIME structure is broken but whose text and files every mail program
        shows (issue 25): ``no-close-boundary`` (the final ``--B--`` missing), ``bad-padding``
        (a base64 text part and file without their ``=`` padding), ``no-end`` (a multipart cut
        in the middle of its file, as an interrupted transfer leaves it) and ``no-parts`` (a
        multipart whose boundary never occurs: the body is plain text). From ``sender`` (name,
        address), a known client by default."""
        n = self._next()
        name, address = sender or ("Giulia Rossi", f"giulia.rossi@{self.domain}")
        subject = subject or f"Damaged {kind} {n}"
        head = (
            f"From: {name} <{address}>\r\nTo: sales@{self.our_domain}\r\n"
            f"Subject: {subject}\r\nDate: {format_datetime(self.clock)}\r\n"
            f"Message-ID: <damaged{n}@{self.domain}>\r\nMIME-Version: 1.0\r\n"
        )
        pdf = base64.b64encode(b"%PDF-1.4 offer " * 20 + b"%").decode()  # ends in "=="
        text = "Here is the offer we spoke about, see the attached file.\r\n"
        if kind == "no-close-boundary":
            body = (
                'Content-Type: multipart/mixed; boundary="B1"\r\n\r\n'
                f"--B1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
                "--B1\r\nContent-Type: application/pdf; name=offer.pdf\r\n"
                "Content-Disposition: attachment; filename=offer.pdf\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n"
            )
        elif kind == "bad-padding":
            unpadded = base64.b64encode(text.encode()).decode().rstrip("=")
            body = (
                'Content-Type: multipart/mixed; boundary="B2"\r\n\r\n'
                "--B2\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{unpadded}\r\n"
                "--B2\r\nContent-Type: application/pdf; name=offer.pdf\r\n"
                "Content-Disposition: attachment; filename=offer.pdf\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{pdf.rstrip('=')}\r\n--B2--\r\n"
            )
        elif kind == "no-end":
            body = (
                'Content-Type: multipart/mixed; boundary="B3"\r\n\r\n'
                '--B3\r\nContent-Type: multipart/alternative; boundary="B4"\r\n\r\n'
                f"--B4\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
                "--B4\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                f"<p>{text.strip()}</p>\r\n--B4--\r\n"
                "--B3\r\nContent-Type: application/pdf; name=offer.pdf\r\n"
                "Content-Disposition: attachment; filename=offer.pdf\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{pdf[:200]}"
            )
        elif kind == "no-parts":
            body = f'Content-Type: multipart/alternative; boundary="B5"\r\n\r\n{text}'
        else:
            raise ValueError(kind)
        return (head + body).encode()

    # -- sets -------------------------------------------------------------------------------
    def demo_mails(self, our_address):
        """A dozen realistic client mails for the demo mailbox (several languages, a thread,
        an attachment, an auto-reply and a newsletter)."""
        to = ("Sales", our_address)
        mails = []
        first = self.message(
            sender=self.person("it", 0),
            to=to,
            lang="it",
            charset="utf-8",
            attachments=[TEXTS["it"]["file"]],
        )
        mails.append(first)
        mails.append(
            self.reply(
                first, sender=self.person("it", 0), to=to, body="Ci sono novità sul preventivo?"
            )
        )
        mails.append(
            self.message(sender=self.person("uk", 0), to=to, lang="uk", charset="windows-1251")
        )
        mails.append(
            self.message(
                sender=self.person("uk", 1),
                to=to,
                lang="uk",
                charset="utf-8",
                attachments=[TEXTS["uk"]["file"]],
            )
        )
        mails.append(self.message(sender=self.person("ru", 0), to=to, lang="ru", charset="koi8-r"))
        mails.append(
            self.message(
                sender=self.person("ru", 1),
                to=to,
                lang="ru",
                charset="windows-1251",
                inline_image=True,
            )
        )
        for i in range(3):
            mails.append(
                self.message(
                    sender=self.person("en", i),
                    to=to,
                    lang="en",
                    attachments=["requirements.pdf"] if i == 1 else (),
                )
            )
        mails.append(self.auto_reply(to=our_address))
        mails.append(self.mailing_list(to=our_address))
        mails.append(self.message(sender=self.person("en", 3), to=to, subject=""))
        return mails

    def demo_more_mails(self, our_address):
        """Mails the demo mailbox got after its first dozen (built after those and the demo's
        Sent mail, which so stay byte-identical): what "Why not?" and the damaged-mail mark
        show. A known client writing through a mailing list (list mail: not logged) and a
        known client's mail whose closing MIME boundary is missing (stored, linked, marked
        damaged, its original downloadable)."""
        return [
            self.client_list_post(sender=self.person("en", 1), to=our_address),
            self.damaged(
                "no-close-boundary", sender=self.person("en", 2), subject="Signed offer attached"
            ),
        ]

    def client_list_post(self, sender, to=None):
        """A known client's post to a user-group mailing list the mailbox is subscribed to:
        sent from the client's own address, but list mail (List-Id, Precedence: list)."""
        return self.message(
            sender=sender,
            to=("Product Users", f"users@lists.{self.domain}"),
            cc=[to or f"sales@{self.our_domain}"],
            subject="[product-users] Import of price lists from Excel?",
            body="Hello all,\n\nhas anyone imported price lists from Excel into the new "
            "version? Ours stops at the first empty row.",
            extra_headers={
                "List-Id": f"Product Users <users.lists.{self.domain}>",
                "List-Post": f"<mailto:users@lists.{self.domain}>",
                "Precedence": "list",
            },
        )

    def demo_triage_mails(self, our_address):
        """Mail for the demo's second mailbox, whose policy creates nothing for an unknown
        address: a new colleague of known clients (suggestions by domain), a prospect from a
        new company, a cold sales pitch (to ignore), and a known client (linked as usual)."""
        to = ("Info", our_address)
        return [
            self.message(
                sender=("Marco Bianchi", f"marco.bianchi@{self.domain}"),
                to=to,
                lang="it",
                charset="utf-8",
                subject="Nuovo referente per gli ordini",
                body="Buongiorno,\n\nda lunedì seguo io gli ordini al posto di Giulia "
                "Rossi. Potete aggiornare i vostri contatti?\n\nCordiali saluti,",
            ),
            self.message(
                sender=("Peter Novak", "peter.novak@novak-bau.example"),
                to=to,
                subject="Enquiry: 40 units for our new site",
                body="Hello,\n\nwe are opening a second site in spring and need about 40 "
                "units. Could you send a price list and delivery times?\n\nBest regards,",
            ),
            self.message(
                sender=("Growth Team", "hello@leadboost.example"),
                to=to,
                subject="Triple your leads in 30 days",
                body="Hi there,\n\nour AI finds 500 new leads a month for companies like "
                "yours. Book a 15-minute call this week!",
            ),
            self.message(
                sender=self.person("it", 0),
                to=to,
                lang="it",
                charset="utf-8",
                subject="Fattura del mese scorso",
                body="Buongiorno,\n\npotreste reinviare la fattura del mese scorso? "
                "Non la troviamo.\n\nGrazie,",
            ),
        ]

    def realistic_mix(self, count, senders=200, reply_rate=0.3, attachment_rate=0.2):
        """``count`` messages as a generator (bounded memory): mixed sizes, multipart, 20 %
        attachments, 30 % replies in threads, several languages and charsets."""
        langs = ["en", "en", "it", "uk", "ru"]
        recent = []
        for i in range(count):
            lang = langs[i % len(langs)]
            sender = (self.person(lang)[0], f"client{self.rng.randrange(senders)}@{self.domain}")
            if recent and self.rng.random() < reply_rate:
                raw = self.reply(
                    self.rng.choice(recent), sender=sender, to=("Sales", f"sales@{self.our_domain}")
                )
            else:
                atts = []
                if self.rng.random() < attachment_rate:
                    size = self.rng.choice([2_000, 20_000, 150_000])
                    atts = [
                        (
                            TEXTS[lang]["file"].format(n=i),
                            _filler(size, self.rng),
                            "application/pdf",
                        )
                    ]
                raw = self.message(
                    sender=sender, lang=lang, attachments=atts, html=self.rng.random() < 0.8
                )
            recent.append(raw)
            if len(recent) > 50:
                recent.pop(0)
            yield raw


# -- module helpers ----------------------------------------------------------------------------
def _attachment(item, n):
    if isinstance(item, tuple):
        name, data, mimetype = item
    else:
        name, data, mimetype = item.format(n=n), PDF_STUB, "application/pdf"
    maintype, subtype = mimetype.split("/")
    part = (
        MIMEApplication(data, subtype) if maintype == "application" else MIMEBase(maintype, subtype)
    )
    if maintype != "application":
        part.set_payload(data)
    try:
        name.encode("ascii")
        part.add_header("Content-Disposition", "attachment", filename=name)
    except UnicodeEncodeError:  # RFC 2231: filename*=utf-8''...
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    return part


def _filler(size, rng):
    return PDF_STUB + bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * (
        max(1, size // 4096)
    )


def _encodable(text, charset):
    try:
        text.encode(charset)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _domain_of(sender):
    addr = sender[1] if isinstance(sender, tuple) else parseaddr(sender)[1]
    return addr.rsplit("@", 1)[-1] or "localhost"


def _decoded(value):
    from email.header import decode_header, make_header

    return make_header(decode_header(value or ""))


def _plain_of(msg):
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def _html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TRANSLIT = dict(
    zip(
        "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяыэё",
        [
            "a",
            "b",
            "v",
            "h",
            "g",
            "d",
            "e",
            "ie",
            "zh",
            "z",
            "y",
            "i",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "iu",
            "ia",
            "y",
            "e",
            "e",
        ],
        strict=True,
    )
)


def _translit(name):
    return "".join(_TRANSLIT.get(c.lower(), c) for c in name).replace(" ", ".").replace("'", "")
