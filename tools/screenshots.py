#!/usr/bin/env python3
"""Screenshots of the main screens, taken from the running demo (``make demo``).

    make demo                      # in one terminal: Odoo on http://127.0.0.1:8069
    python3 tools/screenshots.py   # in another: writes docs/screenshots/*.png

Debian's Chromium, headless, driven through the DevTools protocol as Odoo's own tour
runner does (``odoo/tests/common.py``, ``ChromeBrowser``); the session comes from
``/web/session/authenticate`` and is handed to Chromium as its cookie. Each screen is
opened by its address and photographed once what it is about is on screen. Needs the
Python packages requests and websocket-client (both installed by ``make setup``).

Options: ``--url``, ``--db``, ``--login``, ``--password``, ``--out``, ``--lang`` (e.g.
``uk_UA``: the user's language for the pictures, put back afterwards), ``--width`` and
``--height``.
"""

import argparse
import base64
import collections
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import websocket

ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds for one screen to show what it is about (2 shared cores)


class Odoo:
    """JSON-RPC with the demo's session: finds the records the screens show."""

    def __init__(self, url, db, login, password):
        self.url = url.rstrip("/")
        self.http = requests.Session()
        result = self._post(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        if not result.get("uid"):
            raise SystemExit(f"cannot log in as {login} on {db}")
        self.uid = result["uid"]
        self.session_id = self.http.cookies.get("session_id")

    def _post(self, path, params):
        response = self.http.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "params": params},
            timeout=60,
        )
        response.raise_for_status()
        answer = response.json()
        if answer.get("error"):
            raise SystemExit(f"{path}: {answer['error'].get('data', {}).get('message')}")
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        return self._post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def first(self, model, domain, order="id desc"):
        found = self.call(model, "search", domain, limit=1, order=order)
        if not found:
            raise SystemExit(f"the demo has no {model} matching {domain}: run make demo first")
        return found[0]


class Chromium:
    """One headless Chromium tab, spoken to over the DevTools protocol."""

    def __init__(self, width, height):
        binary = next(
            (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
            None,
        )
        if not binary:
            raise SystemExit("Chromium not found (Debian package chromium)")
        self.profile = tempfile.mkdtemp(prefix="mcl-screenshots-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = pathlib.Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise SystemExit("Chromium did not start")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = []
        while not pages and time.monotonic() < deadline:
            pages = [
                t
                for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
                if t["type"] == "page"
            ]
            time.sleep(0.1)
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT, suppress_origin=True
        )
        self.ids = itertools.count(1)
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def send(self, method, **params):
        """Send one command and wait for its answer (events in between are dropped)."""
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=TIMEOUT):
        """Wait until ``selector`` is on the page and the web client is idle."""
        check = f"!!document.querySelector({json.dumps(selector)})"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(check):
                time.sleep(3)  # let images, avatars, counters and fonts settle
                return
            time.sleep(0.3)
        raise RuntimeError(f"{selector} did not show within {timeout}s")

    def click(self, selector):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def open(self, url, selector):
        self.send("Page.navigate", url=url)
        self.wait_for(selector)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def screens(odoo):
    """(file name, address, what must be on screen, None or (what to click, what must then
    be on screen))."""
    links = odoo.call(
        "mailbox.message.link",
        "search_read",
        [("lead_id.type", "=", "opportunity")],
        ["lead_id"],
        limit=5000,
    )
    if not links:
        raise SystemExit("the demo has no deal with mail: run make demo first")
    deal = collections.Counter(link["lead_id"][0] for link in links).most_common(1)[0][0]
    mail = odoo.first(
        "mailbox.message",
        [
            ("direction", "=", "incoming"),
            ("link_ids", "!=", False),
            ("attachment_ids", "!=", False),
            ("damaged", "=", False),  # the demo's damaged mail is not the typical mail
        ],
    )
    mailbox = odoo.first("fetchmail.server", [("crm_link_mode", "!=", "off")], order="id")
    # a contact with mail of its address that is not on its card: the demo's client whose
    # out-of-office answer and mailing-list post the mailbox did not log
    senders = {
        m["sender"]
        for m in odoo.call(
            "mailbox.message", "search_read", [("state", "=", "ignored")], ["sender"], limit=500
        )
        if m["sender"]
    }
    contact = odoo.first(
        "res.partner", [("email", "in", sorted(senders)), ("is_company", "=", False)]
    )
    return [
        ("pipeline.png", "/odoo/crm", ".o_kanban_record .o_field_widget", None),
        (
            "deal-email-timeline.png",
            f"/odoo/action-crm.crm_lead_action_pipeline/{deal}",
            ".o_mcl_timeline_mail",
            # the newest received mail, unfolded: its body and actions
            (
                ".o_mcl_timeline_mail:has(.o_mcl_direction_incoming) .o_mcl_timeline_head",
                ".o_mcl_timeline_body",
            ),
        ),
        (
            "deal-why-here.png",
            f"/odoo/action-crm.crm_lead_action_pipeline/{deal}",
            ".o_mcl_why_here_toggle",
            # "Why here?" of the newest mail: the routing explanation as a popover
            (".o_mcl_why_here_toggle", ".o_mcl_why_here"),
        ),
        (
            "mail-why-here.png",
            f"/odoo/action-mail_crm_link.mailbox_message_action/{mail}",
            ".o_form_view .o_notebook",
            (".o_notebook .nav-link[name='route']", ".o_mcl_route li"),
        ),
        (
            "contact-why-not.png",
            f"/odoo/contacts/{contact}",
            ".o-form-buttonbox",
            # "Why Not?" may sit under the button box's "More" (narrow screens)
            (
                (".o-form-buttonbox .o_button_more", "button[name='action_mcl_why_not']"),
                ("button[name='action_mcl_why_not']", ".modal .o_data_row"),
            ),
        ),
        (
            "triage.png",
            "/odoo/action-mail_crm_link.mailbox_message_action_triage",
            ".o_list_view .o_data_row",
            None,
        ),
        ("mail-list.png", "/odoo/action-mail_crm_link.mailbox_message_action", ".o_data_row", None),
        (
            "mail-form.png",
            f"/odoo/action-mail_crm_link.mailbox_message_action/{mail}",
            ".o_form_view .o_notebook",
            None,
        ),
        (
            "mailbox-form.png",
            f"/odoo/action-mail_crm_link.fetchmail_server_action/{mailbox}",
            ".o_form_view .o_notebook",
            # its CRM page: what the mailbox does with client mail
            (
                ".o_notebook .nav-link[name='mail_crm_link']",
                ".o_notebook .nav-link.active[name='mail_crm_link']",
            ),
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default=os.environ.get("MCL_DEMO_DB", "mcl_demo"))
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--lang", help="the user's language for the pictures, e.g. uk_UA")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    odoo = Odoo(args.url, args.db, args.login, args.password)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lang_before = None
    if args.lang:
        # a language the database has not loaded yet is installed first (with the addon's
        # translations): else the user's language is set but every screen stays in English
        lang = odoo.call(
            "res.lang",
            "search_read",
            [("code", "=", args.lang), ("active", "in", [True, False])],
            ["active"],
        )
        if not lang:
            raise SystemExit(f"unknown language {args.lang}")
        if not lang[0]["active"]:
            wizard = odoo.call("base.language.install", "create", {"lang_ids": [lang[0]["id"]]})
            odoo.call("base.language.install", "lang_install", [wizard])
            print(f"installed the language {args.lang}", flush=True)
        lang_before = odoo.call("res.users", "read", [odoo.uid], ["lang"])[0]["lang"]
        odoo.call("res.users", "write", [odoo.uid], {"lang": args.lang})
    browser = Chromium(args.width, args.height)
    try:
        host = args.url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=odoo.session_id,
            domain=host,
            path="/",
            httpOnly=True,
        )
        for name, path, selector, click in screens(odoo):
            browser.open(args.url.rstrip("/") + path, selector)
            steps = click if click and isinstance(click[0], tuple) else [click] if click else []
            for target, shown in steps:
                # a target that is not there (e.g. no "More" on a wide screen) is skipped
                if browser.evaluate(f"!!document.querySelector({json.dumps(target)})"):
                    browser.click(target)
                browser.wait_for(shown)
            browser.screenshot(out / name)
            print(f"wrote {out / name}", flush=True)
    finally:
        browser.close()
        if lang_before is not None:
            odoo.call("res.users", "write", [odoo.uid], {"lang": lang_before})
    return 0


if __name__ == "__main__":
    sys.exit(main())
