"""Translations: the .pot covers the code, and uk/ru/it translate every string of it."""

import os
import re
import unittest

from babel.messages.pofile import read_po

from odoo.tests import TransactionCase, tagged

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
