# Run by tools/bench.py inside `odoo shell` (``env`` is given). One phase per run, chosen by
# the BENCH_* placeholders that bench.py fills in; prints one line "BENCH_RESULT {json}".
# A fresh process per phase keeps peak RSS figures per phase.
import json
import os
import resource
import time

PHASE = "__PHASE__"
ARGS = json.loads("""__ARGS__""")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def helper_peak_rss_mb():
    """Peak RSS of the largest finished child: the import's parse helper (0: none ran)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def mailbox_values(name, login, password, port, mode):
    return {
        "name": name,
        "server_type": "imap",
        "server": "127.0.0.1",
        "port": port,
        "is_ssl": False,
        "connection_security": "none",
        "user": login,
        "password": password,
        "crm_link_mode": mode,
        "internal_domains": "mycompany.example",
        "import_window": "all",
        "state": "done",
    }


def phase_partners():
    """Bring the CRM to ARGS['partners'] partners (plus a lead per ten), with SQL: the ORM
    would take minutes for 100k rows and this is set-up, not what is measured."""
    cr = env.cr
    target = ARGS["partners"]
    cr.execute("SELECT count(*) FROM res_partner WHERE email LIKE %s", ["bench%"])
    have = cr.fetchone()[0]
    if have > target:  # shrink: matching is measured at growing and shrinking sizes
        cr.execute(
            "DELETE FROM res_partner WHERE id IN (SELECT id FROM res_partner WHERE email LIKE"
            " %s ORDER BY id DESC LIMIT %s)",
            ["bench%", have - target],
        )
        cr.execute(
            "DELETE FROM crm_lead WHERE id IN (SELECT id FROM crm_lead WHERE name LIKE"
            " %s ORDER BY id DESC LIMIT %s)",
            ["Bench lead %", have // 10 - target // 10],
        )
    if have < target:
        cr.execute(
            """
            INSERT INTO res_partner (name, complete_name, email, email_normalized, active, type,
                                     is_company, commercial_partner_id, create_date, write_date)
            SELECT 'Bench ' || i, 'Bench ' || i, 'bench' || i || '@c' || (i %% 997) || '.example',
                   'bench' || i || '@c' || (i %% 997) || '.example', true, 'contact', false, NULL,
                   now(), now()
              FROM generate_series(%s, %s - 1) AS i
            """,
            [have, target],
        )
        cr.execute(
            "UPDATE res_partner SET commercial_partner_id = id WHERE commercial_partner_id IS NULL"
        )
        cr.execute(
            """
            INSERT INTO crm_lead (name, type, email_from, email_normalized, active, probability,
                                  create_date, write_date, priority)
            SELECT 'Bench lead ' || i, 'lead', 'lead' || i || '@l' || (i %% 991) || '.example',
                   'lead' || i || '@l' || (i %% 991) || '.example', true, 10, now(), now(), '0'
              FROM generate_series(%s, %s - 1) AS i
            """,
            [have // 10, target // 10],
        )
    # the clients of the corpus: half of its senders are known contacts
    for k in range(ARGS.get("known_senders", 0)):
        address = f"client{k}@client.example"
        if not env["res.partner"].search_count([("email_normalized", "=", address)]):
            env["res.partner"].create({"name": f"Client {k}", "email": address})
    env.cr.commit()
    return {"partners": target}


class SelfCheckClock:
    """Time spent in the sync's self-check (issue 24): ``_cross_checked_uids`` less the
    SEARCH it runs anyway, and ``_checked_fetch`` less the one FETCH it runs anyway, plus
    the coverage figure of the mailbox form. Wrappers on the registry's classes, in this
    bench process only."""

    def __init__(self):
        from odoo.addons.mail_crm_link.mailflow import imap_sync

        self.seconds = {"check": 0.0, "search": 0.0, "fetch": 0.0, "coverage": 0.0}
        self.folders = 0
        sync_class = type(env["mailbox.sync"])
        folder_class = type(env["mailbox.folder"])
        clock = self

        def timed(name, function):
            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    clock.seconds[name] += time.perf_counter() - start

            return wrapper

        self.originals = [
            (imap_sync, "search_uids", imap_sync.search_uids),
            (sync_class, "_cross_checked_uids", sync_class._cross_checked_uids),
            (sync_class, "_checked_fetch", sync_class._checked_fetch),
        ]
        real_fetch = imap_sync.fetch_batch
        first_fetch = []  # the fetch a batch runs anyway; a second ask is the check's

        def fetch(conn, uids, *args, **kwargs):
            if first_fetch:
                first_fetch.pop()
                return timed("fetch", real_fetch)(conn, uids, *args, **kwargs)
            return real_fetch(conn, uids, *args, **kwargs)

        original_checked = sync_class._checked_fetch

        def checked(self_, *args, **kwargs):
            first_fetch.append(True)
            return original_checked(self_, *args, **kwargs)

        original_cross = sync_class._cross_checked_uids

        def cross(self_, *args, **kwargs):
            clock.folders += 1
            return original_cross(self_, *args, **kwargs)

        imap_sync.search_uids = timed("search", imap_sync.search_uids)
        imap_sync.fetch_batch = fetch
        self.originals.append((imap_sync, "fetch_batch", real_fetch))
        sync_class._cross_checked_uids = timed("check", cross)
        sync_class._checked_fetch = timed("check", checked)
        self.folder_class = folder_class

    def coverage(self, mailbox):
        start = time.perf_counter()
        mailbox.invalidate_recordset()
        mailbox.folder_ids.invalidate_recordset()
        _text = mailbox.mcl_coverage
        self.seconds["coverage"] += time.perf_counter() - start

    def result(self):
        overhead = self.seconds["check"] - self.seconds["search"] - self.seconds["fetch"]
        folders = max(self.folders, 1)
        return {
            "folders": self.folders,
            "check_ms_per_folder": round(overhead * 1000 / folders, 3),
            "coverage_ms": round(self.seconds["coverage"] * 1000, 2),
        }


def without_explanation():
    """The import as it was before the routing explanation (issue 25): the store step writes
    no route and the link and publish steps' parts are not written. The notes the link step
    keeps in memory remain (measured apart, in the profile: well under a percent)."""
    from odoo.addons.mail_crm_link.mailflow import explain

    explain.stored = lambda *args, **kwargs: None
    type(env["mailbox.crm.linker"])._write_routes = lambda self, routes: None


# what an import writes besides its mails: rows newer than the import's start are its own
# (the bench runs one import at a time); the links, notifications and partner addresses go
# with their rows (ON DELETE CASCADE)
FORGOTTEN_TABLES = (
    "mailbox_message",
    "mail_message",
    "mail_activity",
    "mail_followers",
    "ir_attachment",
    "crm_lead",
    "res_partner",
)


def high_water_marks():
    """The highest id of each table an import writes to, before it starts."""
    marks = {}
    for table in FORGOTTEN_TABLES:
        env.cr.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        marks[table] = env.cr.fetchone()[0]
    return marks


def forget_import(mailbox, marks):
    """Undo what an import wrote (its mails and their files, chatter entries, activities and
    followers, the partners and leads it made), so that the next import of the same mail
    finds the CRM as this one did and leaves no orphan row behind."""
    cr = env.cr
    for table in FORGOTTEN_TABLES:  # children first: the mails' entries before the leads
        cr.execute(f"DELETE FROM {table} WHERE id > %s", [marks[table]])
    mailbox.write({"active": False})
    cr.commit()


def phase_import():
    if ARGS.get("explain") is False:
        without_explanation()
    marks = high_water_marks()
    mailbox = env["fetchmail.server"].create(
        mailbox_values("Bench", ARGS["login"], ARGS["password"], ARGS["port"], "auto")
    )
    env.cr.commit()
    clock = SelfCheckClock()
    start = time.monotonic()
    rounds = 0
    while True:
        rounds += 1
        kwargs = {"batch_size": ARGS["batch_size"]} if ARGS.get("batch_size") else {}
        result = mailbox._mcl_sync(**kwargs)  # the product's batch size unless asked
        if result.get("error"):
            raise RuntimeError(result["error"])
        if not result.get("partial"):
            break
    elapsed = time.monotonic() - start
    env.invalidate_all()
    clock.coverage(mailbox)
    import_check = clock.result()
    # an incremental sync with nothing new: what the self-check costs a folder every poll
    clock.seconds = dict.fromkeys(clock.seconds, 0.0)
    clock.folders = 0
    resync_start = time.monotonic()
    mailbox._mcl_sync()
    resync_s = time.monotonic() - resync_start
    resync_check = clock.result()
    stored = env["mailbox.message"].search_count([("mailbox_id", "=", mailbox.id)])
    links = env["mailbox.message.link"].search_count([("mailbox_id", "=", mailbox.id)])
    linked = env["mailbox.message"].search_count(
        [("mailbox_id", "=", mailbox.id), ("state", "=", "linked")]
    )
    # the routing explanation (issue 25): how big it is stored, how many mails have one, and
    # what wording it costs on display (a timeline page words 20)
    env.cr.execute(
        "SELECT count(*) FILTER (WHERE route ? 'link'), coalesce(avg(pg_column_size(route)), 0)"
        " FROM mailbox_message WHERE mailbox_id = %s",
        [mailbox.id],
    )
    explained, route_bytes = env.cr.fetchone()
    sample = env["mailbox.message"].search([("mailbox_id", "=", mailbox.id)], limit=200)
    env.invalidate_all()
    explain_start = time.monotonic()
    for message in sample:
        env["mailbox.route.explainer"]._lines(message)
    explain_s = time.monotonic() - explain_start
    if ARGS.get("forget"):
        forget_import(mailbox, marks)
    return {
        "messages": stored,
        "linked": linked,
        "links": links,
        "explained": explained,
        "route_bytes_per_mail": round(float(route_bytes), 1),
        "explain_ms_per_mail": round(explain_s * 1000 / max(len(sample), 1), 3),
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(stored / elapsed, 1) if elapsed else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "helper_peak_rss_mb": round(helper_peak_rss_mb(), 1),
        "selfcheck_import_ms_per_folder": import_check["check_ms_per_folder"],
        "selfcheck_resync_ms_per_folder": resync_check["check_ms_per_folder"],
        "resync_ms_per_folder": round(resync_s * 1000 / max(resync_check["folders"], 1), 2),
        "coverage_ms": import_check["coverage_ms"],
    }


def phase_native():
    """Odoo's own fetchmail on the same kind of mail: each message through the mail gateway
    into a crm.lead (message_process), as a fetchmail.server with 'Create a new record'."""
    values = mailbox_values("Native", ARGS["login"], ARGS["password"], ARGS["port"], "off")
    values["object_id"] = env["ir.model"]._get_id("crm.lead")
    server = env["fetchmail.server"].create(values)
    env.cr.commit()
    before = env["mail.message"].search_count([("message_type", "=", "email")])
    start = time.monotonic()
    server.fetch_mail()
    elapsed = time.monotonic() - start
    processed = env["mail.message"].search_count([("message_type", "=", "email")]) - before
    return {
        "messages": processed,
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(processed / elapsed, 1) if elapsed else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def phase_push_setup():
    values = mailbox_values("Push", ARGS["login"], ARGS["password"], ARGS["port"], "auto")
    values["push_enabled"] = True
    mailbox = env["fetchmail.server"].create(values)
    env.cr.commit()
    mailbox._mcl_sync()  # folders found, nothing to import yet
    return {"mailbox_id": mailbox.id}


def phase_push_setup_many():
    """One push mailbox per login, none synced yet (the listener's first catch-up does it);
    push off on the mailboxes of earlier phases, so that the listener watches these only."""
    env["fetchmail.server"].search([("push_enabled", "=", True)]).push_enabled = False
    mailboxes = env["fetchmail.server"].create(
        [
            {
                **mailbox_values(f"Many {login}", login, ARGS["password"], ARGS["port"], "auto"),
                "push_enabled": True,
            }
            for login in ARGS["logins"]
        ]
    )
    env.cr.commit()
    return {"mailbox_ids": mailboxes.ids}


def phase_match():
    """Cost of matching per message (address and thread lookups, policy decisions, no
    writing): the stored bench mail run through the linking engine's decision part."""
    from odoo.addons.mail_crm_link.services.crm_linker import LinkBatch

    messages = env["mailbox.message"].search(
        [("state", "!=", "error")], limit=ARGS.get("sample", 500), order="id"
    )
    mailbox = messages.mailbox_id[:1]
    timings = []
    for _round in range(3):
        env.invalidate_all()
        start = time.perf_counter()
        linker = env["mailbox.crm.linker"]
        run = LinkBatch(env, mailbox, allow_create=False)
        linker._prepare(run, messages)
        for message in messages:
            linker._link_one(run, message)
        timings.append((time.perf_counter() - start) / len(messages) * 1000)
    env.cr.execute("SELECT count(*) FROM res_partner")
    return {
        "partners": env.cr.fetchone()[0],
        "sample": len(messages),
        "ms_per_message": round(min(timings), 3),
    }


def phase_outbox():
    """Mass send from a list to ARGS['count'] contacts: the request, then the outbox cron
    (prepare in chunks, send) until everything has left, through a real SMTP listener and
    with the APPEND to a Dovecot Sent folder."""
    server = env["ir.mail_server"].create(
        {
            "name": "Bench SMTP",
            "smtp_host": "127.0.0.1",
            "smtp_port": ARGS["smtp_port"],
            "smtp_encryption": "none",
        }
    )
    mailbox = env["fetchmail.server"].create(
        {
            **mailbox_values("Bench outbox", ARGS["login"], ARGS["password"], ARGS["port"], "auto"),
            "email_address": "sales@mycompany.example",
            "mail_server_id": server.id,
            "outgoing_unknown_action": "none",
        }
    )
    mailbox.button_confirm_login()  # finds the Sent folder
    contacts = env["res.partner"].create(
        [
            {"name": f"Outbox client {n}", "email": f"outbox{n}@client.example"}
            for n in range(ARGS["count"])
        ]
    )
    template = env["mail.template"].create(
        {
            "name": "Bench price list",
            "mcl_crm": True,
            "mcl_sharing": "all",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "subject": "Price list for {{ object.name }}",
            "body_html": '<p>Dear <t t-out="object.name"/>, here is our price list.</p>',
        }
    )
    env.cr.commit()
    wizard = (
        env["mailbox.mass.compose"]
        .with_context(active_model="res.partner", active_ids=contacts.ids)
        .create({"template_id": template.id, "mailbox_id": mailbox.id})
    )
    start = time.perf_counter()
    action = wizard.action_send()
    env.cr.commit()  # the end of the request (a long list is prepared by the cron)
    request_s = time.perf_counter() - start
    outbox = env["mailbox.outbox"]
    batch = env["mailbox.send.batch"].browse(action["res_id"])
    runs = 0
    start = time.perf_counter()
    while batch.preparing or outbox._count_due():
        outbox._cron_send()
        runs += 1
    cron_s = time.perf_counter() - start
    return {
        "count": ARGS["count"],
        "request_s": round(request_s, 2),
        "cron_s": round(cron_s, 2),
        "mails_per_s": round(ARGS["count"] / cron_s, 1) if cron_s else None,
        "cron_runs": runs,
        "sent": batch.count_sent,
        "failed": batch.count_failed,
        "peak_rss_mb": round(peak_rss_mb()),
    }


PHASES = {
    "outbox": phase_outbox,
    "import": phase_import,
    "native": phase_native,
    "match": phase_match,
    "partners": phase_partners,
    "push_setup": phase_push_setup,
    "push_setup_many": phase_push_setup_many,
}
if ARGS.get("profile"):
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(PHASES[PHASE])
    if os.environ.get("MCL_BENCH_PSTATS"):  # for pstats: where inside a step the time goes
        profiler.dump_stats(os.environ["MCL_BENCH_PSTATS"])
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(ARGS["profile"])
    result["profile"] = out.getvalue()
else:
    result = PHASES[PHASE]()
env.cr.commit()
print("BENCH_RESULT " + json.dumps(result), flush=True)
