"""One Odoo worker of the real-commit tests: a separate OS process on a real database.

    python3 worker.py CONFIG DATABASE FOLDER NAME

It loads the registry once, then serves rounds given by the test process through files in
FOLDER (see ``harness.WorkerPool``), so that several workers start each round at the same
instant and one registry load serves many rounds:

    FOLDER/NAME.ready.K    written by the worker: loaded and waiting for round K
    FOLDER/go.K            written by the test: {"NAME": step, ...} for round K (atomically)
    FOLDER/NAME.done.K     written by the worker: the JSON result of its step

Every step runs in a transaction of its own (``registry.cursor()``, committed at the end),
through the product's entry points only, as the cron and the web client call them. Nothing
here imports the test bench: this file runs outside of the test process.
"""

import contextlib
import json
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from unittest import mock

import psycopg2.errors

import odoo
from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.tools import SQL

POLL = 0.0005  # seconds between two looks at the go file: workers start within a millisecond


# -- steps ------------------------------------------------------------------------------------
def step_noop(env, step):
    return {}


def step_create(env, step):
    """Records from the values the test computed (Dovecot ports…), committed."""
    records = env[step["model"]].create(step["values"])
    return {"ids": records.ids}


def step_write(env, step):
    env[step["model"]].browse(step["ids"]).write(step["values"])
    return {}


def step_sync(env, step):
    """``mailbox._mcl_sync()`` as the cron calls it; ``until_done``: again while partial, and
    while busy for up to ``busy_wait`` seconds (a killed worker's session may linger)."""
    mailbox = env["fetchmail.server"].browse(step["mailbox_id"])
    kwargs = {"batch_size": step["batch_size"]} if step.get("batch_size") else {}
    results = []
    give_up = time.monotonic() + step.get("busy_wait", 0)
    while True:
        result = mailbox._mcl_sync(**kwargs)
        results.append(result)
        env.invalidate_all()
        if result.get("busy") and time.monotonic() < give_up:
            time.sleep(0.2)
            continue
        if not step.get("until_done") or not result.get("partial"):
            break
    return {"result": results[-1], "results": results}


def step_cron(env, step):
    """One run of the mailbox cron by Odoo's own cron runner (``ir.cron._process_jobs``): the
    job in its transaction, exceptions caught and logged by Odoo as in production. The other
    crons of the database are pushed to later so that only ours runs."""
    cron = env.ref("mail_crm_link.ir_cron_mailbox_sync")
    cr = env.cr
    cr.execute(
        "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' + interval '1 day' WHERE id != %s",
        [cron.id],
    )
    cr.execute(
        "UPDATE ir_cron SET active = true,"
        " nextcall = now() at time zone 'UTC' - interval '1 minute' WHERE id = %s",
        [cron.id],
    )
    cr.commit()  # the cron runner reads the job from its own cursor  # pylint: disable=invalid-commit
    with _poison(env, step.get("poison")):
        env.registry["ir.cron"]._process_jobs(env.cr.dbname)
    cr.execute("SELECT failure_count FROM ir_cron WHERE id = %s", [cron.id])
    return {"cron_failure_count": cr.fetchone()[0]}


def step_compose(env, step):
    """The "Send" button of the composer as the web client does it: the wizard saved by one request,
    then ``action_send`` in another, run by Odoo's ``retrying`` (``odoo/service/model.py``)
    which re-runs the request after a serialization failure, up to 5 times. ``conflict``:
    on the first attempt only, the request then also updates that row (a later statement
    of the same request, say), which a concurrent transaction of the test holds."""
    wizard = env["mailbox.compose"].with_context(**step.get("context", {})).create(step["values"])
    env.cr.commit()  # the wizard's own request  # pylint: disable=invalid-commit
    attempts = []

    def request():
        attempts.append(len(attempts) + 1)
        wizard.browse(wizard.id).action_send()
        conflict = step.get("conflict")
        if conflict and len(attempts) == 1:
            env.cr.execute(
                SQL(
                    "UPDATE %s SET write_date = now() WHERE id = %s",
                    SQL.identifier(conflict["table"]),
                    conflict["id"],
                )
            )

    retrying(request, env)
    return {"attempts": len(attempts)}


STEPS = {
    "noop": step_noop,
    "create": step_create,
    "compose": step_compose,
    "write": step_write,
    "sync": step_sync,
    "cron": step_cron,
}


# -- injected faults (this process only; the addon's code is not touched) ---------------------
TRANSPORT_MODULES = (  # where the IMAP transport lives, old layout first
    "odoo.addons.mail_crm_link.mailflow.imap_sync",
    "odoo.addons.mail_crm_link.mailflow.transport.imap",
    "odoo.addons.mail_crm_link.mailflow.imap",
)


@contextlib.contextmanager
def _poison(env, poison):
    """``{"fetch_error": login}``: our own code fails for that mailbox only — the IMAP
    transport's ``fetch_batch`` raises ``AttributeError("injected")`` on its connections."""
    if not poison:
        yield
        return
    login = poison["fetch_error"]
    transport = None
    for name in TRANSPORT_MODULES:
        with contextlib.suppress(ImportError):
            transport = __import__(name, fromlist=["fetch_batch"])
            if hasattr(transport, "fetch_batch"):
                break
            transport = None
    if transport is None:
        raise RuntimeError(f"no IMAP transport with fetch_batch in {TRANSPORT_MODULES}")
    Mailbox = type(env["fetchmail.server"])
    connect, fetch_batch = Mailbox._mcl_connect, transport.fetch_batch

    def _mcl_connect(self):
        conn = connect(self)
        conn.mcl_test_login = self.user  # which mailbox this connection belongs to
        return conn

    def poisoned_fetch_batch(conn, *args, **kwargs):
        if getattr(conn, "mcl_test_login", None) == login:
            raise AttributeError("injected")
        return fetch_batch(conn, *args, **kwargs)

    with (
        mock.patch.object(Mailbox, "_mcl_connect", _mcl_connect),
        mock.patch.object(transport, "fetch_batch", poisoned_fetch_batch),
    ):
        yield


# -- the round loop -----------------------------------------------------------------------------
def _write_json(path, value):
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(value, handle, default=str)
    os.replace(path + ".tmp", path)


def _wait_for(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout}s")
        time.sleep(POLL)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_step(registry, step):
    started = datetime.now(timezone.utc).replace(tzinfo=None)  # as Odoo stores
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = STEPS[step["op"]](env, step)
    except Exception as exc:  # noqa: BLE001 (reported to the test, which decides)
        result = {"exception": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["started"] = started.isoformat()
    result["pid"] = os.getpid()
    return result


def _load_registry(db, attempts=5):
    """``Registry(db)`` as Odoo's own workers get it: Odoo 19 loads a registry in a
    transaction that deletes the "partially updated" marker, and workers that start together
    on a fresh copy fail there with a serialization error that Odoo's server retries (see its
    comment in ``Registry.new``). Workers of this harness start at the same instant, so they
    retry it too, instead of depending on how fast the machine starts them."""
    for attempt in range(attempts):
        try:
            return odoo.modules.registry.Registry(db)
        except psycopg2.errors.SerializationFailure:
            # the half-made registry stays in Odoo's cache after this failure: not reused
            odoo.modules.registry.Registry.delete(db)
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def main(config, db, folder, name):
    odoo.tools.config.parse_config(
        ["-c", config, "-d", db, "--no-http", "--log-level=warn", "--max-cron-threads=0"]
    )
    registry = _load_registry(db)
    round_no = 0
    while True:
        _write_json(os.path.join(folder, f"{name}.ready.{round_no}"), {"pid": os.getpid()})
        steps = _wait_for(os.path.join(folder, f"go.{round_no}"), timeout=600)
        step = steps.get(name, {"op": "noop"})
        if step["op"] == "stop":
            return 0
        result = run_step(registry, step)
        _write_json(os.path.join(folder, f"{name}.done.{round_no}"), result)
        round_no += 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
