"""The database itself refuses what must never be stored twice, on every supported series.

Odoo 19 ignores ``_sql_constraints`` (with a warning), so a constraint declared the 18 way
would silently vanish there; ``compat.Constraint`` declares them for both. These tests insert
the duplicates through SQL, past the ORM, so that only PostgreSQL can refuse them.
"""

import psycopg2

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .. import compat

# every constraint of the addon: (table, name); Odoo names them <table>_<name> on 18 and 19
CONSTRAINTS = [
    ("mailbox_message", "mailbox_dedup_uniq"),
    ("mailbox_message_link", "partner_uniq"),
    ("mailbox_message_link", "lead_uniq"),
    ("mailbox_message_link", "one_target"),
    ("mailbox_folder", "mailbox_name_uniq"),
    ("res_partner_email", "partner_email_uniq"),
    ("mailbox_address_claim", "address_uniq"),
    ("mailbox_pop_skip", "mailbox_uidl_uniq"),
    ("fetchmail_server", "poll_interval_min"),
    ("fetchmail_server", "connect_timeout_positive"),
    ("fetchmail_server", "import_days_positive"),
]


@tagged("post_install", "-at_install")
class TestDatabaseConstraints(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mailbox = cls.env["fetchmail.server"].create(
            {
                "name": "Constraints mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 143,
                "user": "constraints@mycompany.example",
                "password": "x",
                "crm_link_mode": "manual",
            }
        )
        cls.message = cls.env["mailbox.message"].create(
            {"mailbox_id": cls.mailbox.id, "dedup_key": "<once@client.example>"}
        )
        cls.partner = cls.env["res.partner"].create({"name": "Giulia Rossi"})
        cls.lead = cls.env["crm.lead"].create({"name": "Offerta"})
        cls.env.flush_all()

    def assertRefused(self, constraint, sql, params):
        """``sql`` fails in the database on ``constraint`` (its full name)."""
        with (
            self.assertRaises(psycopg2.IntegrityError) as caught,
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(sql, params)
        self.assertEqual(caught.exception.diag.constraint_name, constraint)

    def test_every_constraint_is_in_the_database(self):
        self.env.cr.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE conname = ANY(%s)",
            [[f"{table}_{name}" for table, name in CONSTRAINTS]],
        )
        found = set(self.env.cr.fetchall())
        missing = [
            f"{table}_{name}"
            for table, name in CONSTRAINTS
            if (table, f"{table}_{name}") not in found
        ]
        self.assertFalse(missing, f"constraints missing on Odoo {compat.SERIES}")

    def test_a_message_is_stored_once_per_mailbox(self):
        self.assertRefused(
            "mailbox_message_mailbox_dedup_uniq",
            "INSERT INTO mailbox_message (mailbox_id, dedup_key, state) VALUES (%s, %s, 'new')",
            [self.mailbox.id, "<once@client.example>"],
        )
        # another mailbox may hold the same mail
        other = self.mailbox.copy({"name": "Other mailbox"})
        self.env.flush_all()
        self.env.cr.execute(
            "INSERT INTO mailbox_message (mailbox_id, dedup_key, state) VALUES (%s, %s, 'new')",
            [other.id, "<once@client.example>"],
        )

    def test_a_mail_is_linked_once_per_record(self):
        insert = (
            "INSERT INTO mailbox_message_link (message_id, partner_id, lead_id, link_type) "
            "VALUES (%s, %s, %s, 'manual')"
        )
        self.env.cr.execute(insert, [self.message.id, self.partner.id, None])
        self.assertRefused(
            "mailbox_message_link_partner_uniq", insert, [self.message.id, self.partner.id, None]
        )
        self.env.cr.execute(insert, [self.message.id, None, self.lead.id])
        self.assertRefused(
            "mailbox_message_link_lead_uniq", insert, [self.message.id, None, self.lead.id]
        )
        self.assertRefused(
            "mailbox_message_link_one_target",
            insert,
            [self.message.id, self.partner.id, self.lead.id],
        )

    def test_the_messages_users_read(self):
        """Odoo shows a refused duplicate with the constraint's message, which both series
        keep (translatable) in ir.model.constraint."""
        messages = dict(
            self.env["ir.model.constraint"]
            .search([("module.name", "=", "mail_crm_link"), ("type", "=", "u")])
            .mapped(lambda c: (c.name, c.message))
        )
        self.assertEqual(
            messages.get("mailbox_message_mailbox_dedup_uniq"),
            "A message is stored once per mailbox.",
        )
        self.assertEqual(
            messages.get("mailbox_message_link_partner_uniq"),
            "This mail is already on the contact.",
        )

    def test_a_new_address_is_claimed_once(self):
        """Two transactions creating a record for one new address meet on this row."""
        insert = "INSERT INTO mailbox_address_claim (address, claimed_at) VALUES (%s, now())"
        self.env.cr.execute(insert, ["new@client.example"])
        self.assertRefused("mailbox_address_claim_address_uniq", insert, ["new@client.example"])

    def test_a_pop3_message_is_skipped_once(self):
        insert = "INSERT INTO mailbox_pop_skip (mailbox_id, uidl) VALUES (%s, 'UID1')"
        self.env.cr.execute(insert, [self.mailbox.id])
        self.assertRefused("mailbox_pop_skip_mailbox_uidl_uniq", insert, [self.mailbox.id])

    def test_folders_addresses_and_settings(self):
        self.assertRefused(
            "mailbox_folder_mailbox_name_uniq",
            "INSERT INTO mailbox_folder (mailbox_id, name, label, role) "
            "VALUES (%s, 'INBOX', 'Inbox', 'inbox'), (%s, 'INBOX', 'Inbox', 'inbox')",
            [self.mailbox.id, self.mailbox.id],
        )
        self.assertRefused(
            "res_partner_email_partner_email_uniq",
            "INSERT INTO res_partner_email (partner_id, email, email_normalized) "
            "VALUES (%s, 'a@client.example', 'a@client.example'), "
            "(%s, 'A@client.example', 'a@client.example')",
            [self.partner.id, self.partner.id],
        )
        self.assertRefused(
            "fetchmail_server_poll_interval_min",
            "UPDATE fetchmail_server SET poll_interval = 0 WHERE id = %s",
            [self.mailbox.id],
        )

    def test_transient_models_vacuum(self):
        """The hourly autovacuum reads ``write_date``/``create_date`` of every transient
        table: no field of the addon may take the name of such a magic column (a related
        ``write_date`` had no column: ``UndefinedColumn`` in the log every hour)."""
        transient = [
            model
            for name, model in self.env.items()
            if model._transient and name.startswith("mailbox.")
        ]
        self.assertIn("mailbox.lead.choice.line", [model._name for model in transient])
        for model in transient:
            with self.subTest(model=model._name):
                for column in ("create_uid", "create_date", "write_uid", "write_date"):
                    field = model._fields[column]  # Odoo's own: a stored column of the table
                    self.assertTrue(field.store and not field.related, column)
        choice = self.env["mailbox.lead.choice"].create(
            {
                "message_id": self.message.id,
                "kind": "lead",
                "line_ids": [(0, 0, {"lead_id": self.lead.id})],
            }
        )
        line = choice.line_ids
        self.assertEqual(line.lead_write_date, self.lead.write_date)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mailbox_lead_choice SET write_date = now() - interval '1 day' WHERE id = %s;"
            "UPDATE mailbox_lead_choice_line SET write_date = now() - interval '1 day' "
            "WHERE id = %s",
            [choice.id, line.id],
        )
        for model in transient:
            with self.subTest(model=model._name):
                model._transient_vacuum()
        self.assertFalse(line.exists(), "a day old: vacuumed")
