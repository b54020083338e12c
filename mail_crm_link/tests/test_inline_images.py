"""Inline images (``<img src="cid:…">``) are shown from the files stored with their mail.

A signature's logo or a pasted screenshot is named in the HTML by Content-ID; a browser
knows no ``cid:`` address. The stored body points at the stored file instead, served by
Odoo's /web/image to whoever may read the mail, through the real Dovecot and Odoo's HTTP.
"""

import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..mailflow import inline
from .common import MailCrmLinkCommon
from .corpus import PNG_1X1


class TestInlinePure(unittest.TestCase):
    def test_a_named_part_is_pointed_at_its_address(self):
        html = '<p>Hi</p><img src="cid:logo@mcl" alt="logo"><img src=\'CID:%3Cpic%201%3E\'>'
        self.assertEqual(inline.cids(html), {"logo@mcl", "pic 1"})
        body, count = inline.resolve(html, {"logo@mcl": "/web/image/7", "pic 1": "/web/image/8"})
        self.assertEqual(count, 2)
        self.assertEqual(
            body, '<p>Hi</p><img src="/web/image/7" alt="logo"><img src=\'/web/image/8\'>'
        )

    def test_a_part_the_mail_does_not_carry_is_left_alone(self):
        html = '<img src="cid:missing@x"><a href="cid:logo@mcl">text, not an image source</a>'
        self.assertEqual(inline.resolve(html, {"logo@mcl": "/web/image/1"}), (html, 0))
        self.assertEqual(inline.resolve(html, {}), (html, 0))
        self.assertEqual(inline.resolve("", {"a": "b"}), ("", 0))
        self.assertEqual(inline.resolve(None, {"a": "b"}), (None, 0))

    def test_content_ids_compare_as_mail_programs_do(self):
        for written in ("<Logo@MCL>", " logo@mcl ", "logo%40mcl", "<logo@mcl>"):
            self.assertEqual(inline.content_id_key(written), "logo@mcl")
        self.assertEqual(inline.content_id_key(None), "")

    @settings(max_examples=300, deadline=None)
    @given(st.text(), st.dictionaries(st.text(), st.text(min_size=1)))
    def test_total(self, html, urls):
        body, count = inline.resolve(html, urls)
        self.assertIsInstance(body, str)
        self.assertGreaterEqual(count, 0)
        if not count:
            self.assertEqual(body, html)


@tagged("post_install", "-at_install")
class TestInlineImagesShown(MailCrmLinkCommon, HttpCase):
    def test_the_logo_is_shown_from_the_stored_file_to_its_readers_only(self):
        login = self.make_mail_user()
        raw = self.corpus.message(
            sender=(self.contact_client.name, self.contact_client.email),
            subject="Счёт на оплату",
            lang="ru",
            inline_image=True,
        )
        self.dovecot.append(login, raw)
        mailbox = self.make_mailbox(login, owner_id=self.user_sales_manager.id)
        self.sync(mailbox)
        message = self.stored(mailbox)
        logo = message.attachment_ids.filtered(lambda a: a.name == "logo.png")
        self.assertEqual(len(logo), 1)
        body = str(message.body_html)
        self.assertNotIn("cid:", body)
        self.assertIn(f'src="/web/image/{logo.id}"', body)
        # the cards' chatter entries show the same body
        entries = message.link_ids.mail_message_id
        self.assertTrue(entries)
        for entry in entries:
            self.assertIn(f"/web/image/{logo.id}", str(entry.body))

        salesman = self.user_sales_salesman
        self.assertTrue(message.with_user(salesman).has_access("read"))
        self.authenticate(salesman.login, salesman.login)
        response = self.url_open(f"/web/image/{logo.id}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, PNG_1X1)

        # the file's access follows its mail: not for a user without sales rights ...
        self.authenticate("user_no_crm", "user_no_crm")
        with mute_logger("odoo.http", "odoo.addons.base.models.ir_rule"):
            response = self.url_open(f"/web/image/{logo.id}")
        self.assertNotEqual(response.content, PNG_1X1)
        # ... nor for the salesman once the owner made the mail private
        message.with_user(self.user_sales_manager).action_toggle_private()
        self.env.cr.flush()
        self.authenticate(salesman.login, salesman.login)
        with mute_logger("odoo.http", "odoo.addons.base.models.ir_rule"):
            response = self.url_open(f"/web/image/{logo.id}")
        self.assertNotEqual(response.content, PNG_1X1)
