"""The pure pipeline of mail_crm_link: decisions on plain values, no ``odoo`` import.

addresses  normalizing and classifying email addresses
parse      raw bytes → ParsedMail
imap_sync  folder discovery, UID planning and batched fetching over an imaplib connection
pop_sync   UIDL planning over a poplib connection
errors     connection failures → a kind the mailbox can explain
"""
