"""Translations: the .pot covers the code, and uk/ru/it translate every string of it."""

import json
import os
import re
import unittest

from babel.messages.pofile import read_po
from lxml import etree

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import code_translations

from .. import compat
from .common import CLIENT_DOMAIN, OUR_DOMAIN
from .corpus import Corpus

I18N = os.path.join(os.path.dirname(os.path.dirname(__file__)), "i18n")
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")
LANGS = ("uk", "ru", "it")


def _catalog(name):
    with open(os.path.join(I18N, name), "rb") as handle:
        return read_po(handle)


class TestPoFiles(unittest.TestCase):
    def test_every_string_translated_with_its_placeholders(self):
        template = {m.id for m in _catalog("mail_crm_link.pot") if m.id}
        self.assertGreater(len(template), 300)
        for lang in LANGS:
            with self.subTest(lang=lang):
                catalog = {m.id: m.string for m in _catalog(f"{lang}.po") if m.id}
                self.assertEqual(set(catalog), template, "the .po follows the .pot")
                for msgid, msgstr in catalog.items():
                    self.assertTrue(msgstr, f"{lang}: untranslated {msgid!r}")
                    self.assertEqual(
                        sorted(PLACEHOLDER.findall(msgid)),
                        sorted(PLACEHOLDER.findall(msgstr)),
                        f"{lang}: placeholders of {msgid!r}",
                    )


@tagged("post_install", "-at_install")
class TestTranslationsLoad(TransactionCase):
    def test_every_string_of_the_code_is_a_code_entry_of_the_pot(self):
        """Odoo translates a ``_()`` of Python or JavaScript only from a .po entry marked
        ``odoo-python`` / ``odoo-javascript``: a string also used as a field label or an
        action name, whose entry lacks that mark, stays English in the code (the link
        dialog's title did). Odoo's own exporter says which strings the code holds."""
        from odoo.tools.translate import TranslationModuleReader

        marks = {}
        for module, ttype, _name, _res_id, source, _value, comments in TranslationModuleReader(
            self.env.cr, modules=["mail_crm_link"]
        ):
            if module == "mail_crm_link" and ttype == "code":
                marks.setdefault(source, set()).update(
                    c for c in comments or () if c.startswith("odoo-")
                )
        self.assertGreater(len(marks), 200)
        for name in ("mail_crm_link.pot", *(f"{lang}.po" for lang in LANGS)):
            catalog = {m.id: m for m in _catalog(name) if m.id}
            for source, wanted in marks.items():
                with self.subTest(file=name, msgid=source):
                    self.assertIn(source, catalog, "not in the catalog")
                    have = {c for c in catalog[source].auto_comments if c.startswith("odoo-")}
                    self.assertLessEqual(wanted, have, "no code mark: English in the code")

    def test_ukrainian_user_reads_ukrainian(self):
        self.env["res.lang"]._activate_lang("uk_UA")
        self.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            ["uk_UA"]
        )
        env = self.env(context={"lang": "uk_UA"})
        fields = env["fetchmail.server"].fields_get(["crm_link_mode", "deal_link_mode"])
        self.assertEqual(fields["crm_link_mode"]["string"], "Пов'язування з CRM")
        self.assertIn(
            ("single", "Лише коли відкрита рівно одна угода"), fields["deal_link_mode"]["selection"]
        )
        self.assertEqual(env._("Email from %s", "Олена"), "Лист від Олена")

    def test_triage_list_buttons_in_ukrainian(self):
        """The triage queue's buttons are terms of its own list view: the .po must name that
        view too, not only the mail form, or they stay English there."""
        self.env["res.lang"]._activate_lang("uk_UA")
        self.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            ["uk_UA"]
        )
        view = self.env.ref("mail_crm_link.mailbox_message_view_list_triage")
        arch = (
            self.env["mailbox.message"]
            .with_context(lang="uk_UA")
            .get_view(view_id=view.id, view_type="list")["arch"]
        )
        buttons = {b.get("name"): b for b in etree.fromstring(arch).iter("button")}
        self.assertEqual(buttons["action_triage_link"].get("string"), "Пов'язати з…")
        self.assertEqual(buttons["action_create_lead"].get("string"), "Створити лід")
        uk = {m.id: m.string for m in _catalog("uk.po") if m.id}
        english = etree.fromstring(view.with_context(lang="en_US").arch).iter("button")
        for button in english:
            for attribute in ("string", "confirm"):
                source = button.get(attribute)
                if source:
                    shown = buttons[button.get("name")].get(attribute)
                    self.assertEqual(shown, uk[source], f"{button.get('name')} {attribute}")


# The English sentences the module writes for a stored client mail, and a fragment of their
# translation a user of each language must read instead (issue 14, point 9).
ACTIVITY_NOTE = "Incoming email from %(sender)s in mailbox %(mailbox)s."
SCREENS = {
    "uk_UA": {
        "note": "Вхідний лист від",
        "lead": "Лист від",
        "push": "Миттєва доставка (IMAP IDLE)",
        "chatter": "Вхідний лист",
        "received": "Отримані",
    },
    "ru_RU": {
        "note": "Входящее письмо от",
        "lead": "Письмо от",
        "push": "Мгновенная доставка (IMAP IDLE)",
        "chatter": "Входящее письмо",
        "received": "Полученные",
    },
    "it_IT": {
        "note": "Email ricevuta da",
        "lead": "Email da",
        "push": "Ricezione immediata (IMAP IDLE)",
        "chatter": "Email in arrivo",
        "received": "Ricevute",
    },
}
ENGLISH = (
    "Incoming email from",
    "in mailbox",
    "Email from",
    "Push (IMAP IDLE)",
    "Reply-To: the mailbox",
    "Choose a deal",
)
# what the web client shows of the mail (the chatter's direction, the email timeline):
# JavaScript strings, served to the browser from the web translations
WEB_STRINGS = (
    "Incoming email",
    "Sent email",
    "Received",
    "Sent",
    "Pending",
    "Processed",
    "Queued",
    "Reply",
    "Forward",
    "Mark Processed",
    "Remove from Card",
    "Open in Mailbox",
    "No mail on this record yet.",
)


@tagged("post_install", "-at_install")
class TestScreensInTheUsersLanguage(TransactionCase):
    """What a Ukrainian, Russian or Italian salesman sees of a stored client mail: no English
    generated text (the activity note, the name of a lead made from a mail without subject,
    the mailbox form's labels, the chatter's and the timeline's texts, the entry that
    notifies him)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("uk_UA")
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.env["ir.module.module"].search([("name", "=", "mail_crm_link")])._update_translations(
            list(SCREENS)
        )
        cls.corpus = Corpus(domain=CLIENT_DOMAIN, our_domain=OUR_DOMAIN)

    def world(self, lang):
        """A salesman in ``lang``, owner of a mailbox and responsible of a client's deal."""
        tag = lang.lower()
        user = self.env["res.users"].create(
            {
                "name": f"Sales {lang}",
                "login": f"sales.{tag}",
                "email": f"sales.{tag}@{OUR_DOMAIN}",
                "lang": lang,
                "notification_type": "inbox",
                compat.USER_GROUPS: [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        mailbox = self.env["fetchmail.server"].create(
            {
                "name": f"sales.{tag}@{OUR_DOMAIN}",  # as administrators name them
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": tag,
                "password": "unused",
                "crm_link_mode": "auto",
                "internal_domains": OUR_DOMAIN,
                "owner_id": user.id,
            }
        )
        inbox = self.env["mailbox.folder"].create(
            {"mailbox_id": mailbox.id, "name": "INBOX", "label": "Inbox", "role": "inbox"}
        )
        client = self.env["res.partner"].create(
            {"name": f"Client {tag}", "email": f"client.{tag}@{CLIENT_DOMAIN}"}
        )
        deal = self.env["crm.lead"].create(
            {
                "name": f"Deal {tag}",
                "type": "opportunity",
                "partner_id": client.id,
                "user_id": user.id,
            }
        )
        return user, mailbox, inbox, client, deal

    def store(self, mailbox, inbox, raw, uid):
        message = self.env["mailbox.message.store"]._store_batch(
            mailbox, inbox, [({"imap_uid": uid, "uidvalidity": 1}, raw, None)]
        )
        self.env["mailbox.crm.linker"]._link_safely(message)
        return message

    def assertNoEnglish(self, text, where):
        for sentence in ENGLISH:
            self.assertNotIn(sentence, text, f"{where}: English {sentence!r}")

    def test_no_english_generated_text(self):
        for lang, expected in SCREENS.items():
            with self.subTest(lang=lang):
                user, mailbox, inbox, client, deal = self.world(lang)
                message = self.store(
                    mailbox,
                    inbox,
                    self.corpus.message(sender=(client.name, client.email), subject="Offer"),
                    1,
                )
                as_user = self.env(user=user, context={"lang": lang})
                # the Email activity on the deal
                activity = as_user["mail.activity"].browse(message.activity_id.id)
                self.assertIn(expected["note"], str(activity.note))
                self.assertNoEnglish(str(activity.note), "activity note")
                # the entry on the deal that notifies him, in his Discuss inbox
                told = self.env["mail.notification"].search(
                    [
                        ("res_partner_id", "=", user.partner_id.id),
                        ("mail_message_id", "in", message.link_ids.mail_message_id.ids),
                    ]
                )
                self.assertEqual(len(told), 1)
                entry = as_user["mail.message"].browse(told.mail_message_id.id)
                self.assertNoEnglish(f"{entry.subject} {entry.body} {entry.preview}", "entry")
                # the email timeline's values, read as him
                timeline = as_user["mailbox.timeline"].read_timeline("crm.lead", deal.id)
                self.assertEqual(timeline["total"], 1)
                self.assertNoEnglish(json.dumps(timeline, ensure_ascii=False), "timeline")
                # the web client's own texts of the chatter and the timeline
                web = {
                    m["id"]: m["string"]
                    for m in code_translations.get_web_translations("mail_crm_link", lang)[
                        "messages"
                    ]
                }
                for english in WEB_STRINGS:
                    self.assertTrue(web.get(english), f"{english!r} has no {lang} translation")
                    self.assertNotEqual(web[english], english)
                self.assertEqual(web["Incoming email"], expected["chatter"])
                self.assertEqual(web["Received"], expected["received"])
                # the mailbox form's labels
                labels = as_user["fetchmail.server"].fields_get(
                    ["push_enabled", "copy_mode"], ["string", "selection"]
                )
                self.assertEqual(labels["push_enabled"]["string"], expected["push"])
                self.assertNoEnglish(json.dumps(labels, ensure_ascii=False), "mailbox form")
                # a lead created from a mail without subject is named in its responsible's
                # language
                mailbox.incoming_unknown_action = "lead"
                unknown = self.store(
                    mailbox,
                    inbox,
                    self.corpus.message(
                        sender=("Nuovo Cliente", f"new.{lang.lower()}@{CLIENT_DOMAIN}"),
                        subject="",
                    ),
                    2,
                )
                lead = unknown.link_ids.lead_id
                self.assertEqual(lead.user_id, user)
                self.assertTrue(lead.name.startswith(expected["lead"]), lead.name)

    def test_lead_source_in_the_users_language(self):
        """The source of the records a mailbox creates is the mailbox's own, named after it
        (its address): no English generic word ("Mailbox") on the lead's Marketing tab,
        whatever the user's language; a lead made by hand from a mail has it too."""
        generic = self.env.ref("mail_crm_link.utm_source_mailbox")
        for lang in SCREENS:
            with self.subTest(lang=lang):
                user, mailbox, inbox, _client, _deal = self.world(lang)
                mailbox.incoming_unknown_action = "lead"
                stored = self.store(
                    mailbox,
                    inbox,
                    self.corpus.message(
                        sender=("Nuovo Cliente", f"source.{lang.lower()}@{CLIENT_DOMAIN}"),
                        subject="Preventivo",
                    ),
                    3,
                )
                lead = stored.link_ids.lead_id
                self.assertTrue(lead)
                self.assertEqual(lead.source_id, mailbox.source_id)
                self.assertNotEqual(lead.source_id, generic)
                as_user = self.env(user=user, context={"lang": lang})
                seen = as_user["crm.lead"].browse(lead.id).source_id.display_name
                self.assertEqual(seen, mailbox.name)
                self.assertNotIn("mailbox", seen.lower())
                # "Create Lead" on a mail, by the salesman in his language
                by_hand = as_user["mailbox.message"].browse(stored.id)
                action = by_hand._mcl_create_record("lead")
                made = as_user[action["res_model"]].browse(action["res_id"])
                self.assertEqual(made.source_id, mailbox.source_id)
