#!/usr/bin/env python3
"""`make bench`: import throughput, push latency, matching scale and memory of mail_crm_link,
side by side with Odoo's native fetchmail, in one run on this machine.

    python3 tools/bench.py [--messages 5000] [--partners 10000] [--native-messages 500]
                           [--push 200] [--push-mailboxes 200] [--push-mailbox-mails 300]
                           [--rss 5000,20000] [--match 1000,10000,100000]
                           [--only import,native,match,push,many,rss,bigmail,outbox]
                           [--outbox 1000]

Builds its own database (mcl_bench) and Dovecot (.cache/bench-dovecot), prints a table and
writes bench/results.json. Each measured phase runs in its own Odoo process (odoo shell), so
the peak RSS figures are per phase.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "mail_crm_link", "tests"))

import devenv  # the same config and database helpers as make test
from corpus import Corpus  # pure modules of the test bench
from dovecot import DovecotServer
from smtp_sink import SmtpSink

DB = os.environ.get("MCL_BENCH_DB") or f"mcl_bench{devenv.SERIES_TAG}"
PASSWORD = "bench"
PUSH_MAX_WAIT = 10  # seconds: a pushed mail stored later than this fails `make bench`
PUSH_TARGET_P99 = 2  # seconds
# import targets (issue 15), checked at the default sizes (5,000 mails, 10,000 partners) only
IMPORT_TARGET = 200  # mails per second
RATIO_TARGET = 15  # times native fetchmail, same run
PHASES = ("import", "native", "explain", "match", "push", "many", "rss", "bigmail", "outbox")


def log(message):
    print(f"\033[1m[bench]\033[0m {message}", flush=True)


def run_phase(config, phase, **args):
    with open(os.path.join(ROOT, "tools", "bench_worker.py"), encoding="utf-8") as handle:
        code = handle.read().replace("__PHASE__", phase).replace("__ARGS__", json.dumps(args))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "shell",
            "-c",
            config,
            "-d",
            DB,
            "--log-level=warn",
            "--no-http",
        ],
        input=code,
        text=True,
        capture_output=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
    raise SystemExit(f"bench phase {phase} failed")


def fill(dovecot, login, count, seed):
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", seed=seed)
    batch = []
    for raw in corpus.realistic_mix(count):
        batch.append(raw)
        if len(batch) == 200:
            dovecot.append_many(login, batch)
            batch = []
    if batch:
        dovecot.append_many(login, batch)


def big_mail(megabytes):
    """A client mail of about ``megabytes`` MB: a PDF attachment of random bytes, base64."""
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", seed=25)
    payload = os.urandom(megabytes * 1024 * 1024 * 3 // 4)
    return corpus.message(
        subject="Drawings, full set", attachments=[("drawings.pdf", payload, "application/pdf")]
    )


def percentiles(latencies):
    """p50/p95/p99/max (nearest rank) of a list of seconds."""
    ordered = sorted(latencies)

    def rank(p):
        return round(ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)], 3)

    return {
        "count": len(ordered),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": round(ordered[-1], 3),
        "over_10s": sum(1 for x in ordered if x > PUSH_MAX_WAIT),
    }


class Listener:
    """The real ``odoo-bin mailbox_listen`` command, as production runs it, with its log."""

    def __init__(self, config, name, *args):
        addons = ",".join(devenv.odoo_addons_paths())  # first: Odoo finds addon commands so
        self.log_path = os.path.join(devenv.CACHE, f"bench-{name}.log")
        with open(self.log_path, "w", encoding="utf-8") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "odoo", f"--addons-path={addons}", "mailbox_listen"]
                + ["-c", config, "-d", DB, "--log-level=info", *args],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )

    def idling(self):
        """Ids of the mailboxes whose watcher has logged an IDLE start."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return {
                int(m) for m in re.findall(r"mailbox (\d+): IDLE\s*$", handle.read(), re.MULTILINE)
            }

    def wait_idling(self, count, timeout):
        start = time.monotonic()
        while len(self.idling()) < count:
            if self.proc.poll() is not None:
                raise SystemExit(f"mailbox_listen exited; see {self.log_path}")
            if time.monotonic() - start > timeout:
                raise SystemExit(
                    f"mailbox_listen: {len(self.idling())}/{count} mailboxes idling after "
                    f"{timeout}s; see {self.log_path}"
                )
            time.sleep(0.2)
        return time.monotonic() - start

    def status(self):
        """Memory, threads and connections of the listener process, now."""
        values = {}
        with open(f"/proc/{self.proc.pid}/status", encoding="utf-8") as handle:
            for line in handle:
                key, _sep, value = line.partition(":")
                values[key] = value.split()[0] if value.split() else ""
        return {
            "rss_mb": round(int(values["VmRSS"]) / 1024, 1),
            "peak_rss_mb": round(int(values["VmHWM"]) / 1024, 1),
            "threads": int(values["Threads"]),
        }

    def tcp_connections(self, port):
        """Established TCP connections of the listener to ``port`` (Dovecot's IMAP)."""
        inodes = set()
        for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table, encoding="utf-8") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if fields[3] == "01" and remote_port == port and fields[9] in inodes:
                        count += 1
        return count

    def pg_connections(self, cur):
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [f"odoo-{self.proc.pid}"],
        )
        return cur.fetchone()[0]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure_push(dovecot, conn, targets, count, seed, mean_interval):
    """Append ``count`` mails at random intervals (exponential, seeded, at most 2 s apart) to
    random ``targets`` ({login: mailbox id}), while this thread polls PostgreSQL: latency =
    from the start of each APPEND until its mail is stored and linked (state no longer
    'new'), as another worker sees it. Stops early if a mail waits 60 s."""
    rng = random.Random(seed)
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", seed=seed)
    logins = sorted(targets)
    appended = {}  # Message-ID → (mailbox id, APPEND start)
    errors = []

    def appender():
        try:
            for index in range(count):
                time.sleep(min(rng.expovariate(1 / mean_interval), 2.0))
                login = rng.choice(logins)
                msgid = f"<push.{seed}.{index}.{time.time_ns()}@client.example>"
                raw = corpus.message(sender=corpus.person("it"), lang="it", msgid=msgid)
                appended[msgid] = (targets[login], time.monotonic())
                dovecot.append(login, raw)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    thread = threading.Thread(target=appender, daemon=True)
    thread.start()
    latencies = {}
    while thread.is_alive() or len(latencies) < len(appended):
        now = time.monotonic()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT message_id FROM mailbox_message WHERE mailbox_id = ANY(%s) "
                "AND state != 'new' AND message_id = ANY(%s)",
                [sorted(set(targets.values())), [m for m in appended if m not in latencies]],
            )
            for (msgid,) in cur.fetchall():
                latencies[msgid] = now - appended[msgid][1]
        waiting = [m for m, (_mb, start) in appended.items() if m not in latencies]
        if waiting and now - min(appended[m][1] for m in waiting) > 60:
            raise SystemExit(f"push: {len(waiting)} mail(s) not stored after 60 s: {waiting[:3]}")
        time.sleep(0.05)
    thread.join()
    if errors:
        raise SystemExit(f"push: APPEND failed: {errors[0]}")
    return percentiles(list(latencies.values()))


def push_latency(config, dovecot, count):
    """APPEND → stored and linked, with the mailbox_listen command running (IMAP IDLE)."""
    import psycopg2

    login = dovecot.add_user("push@mycompany.example", PASSWORD)
    setup = run_phase(config, "push_setup", login=login, password=PASSWORD, port=dovecot.port_imap)
    listener = Listener(config, "listener")
    conn = psycopg2.connect(dbname=DB)
    conn.autocommit = True
    try:
        listener.wait_idling(1, 60)
        status = listener.status()
        stats = measure_push(dovecot, conn, {login: setup["mailbox_id"]}, count, 7, 0.4)
    finally:
        listener.stop()
        conn.close()
    return {**stats, "listener_rss_mb": status["rss_mb"], "load_average": load_average()}


def explain_cost(config, dovecot, opts):
    """Import speed with the routing explanation and without it (the store, link and publish
    steps write no route), in pairs on the same mail and the same CRM: each import is
    undone after it is measured. The pairs alternate (with first, then without first: A B B A),
    because each import leaves the database a little larger and the later run of a pair reads
    slower. ``cost_pct``: the slowdown over each complete A B B A quartet (the sums of its two
    "with" and its two "without" speeds), which cancels a steady drift, averaged over the
    quartets; the median, min and max of the single pairs are kept beside it.
    ``{"explain": ...}``, or ``{}`` when the phase is not asked for."""
    if "explain" not in opts.only_set or not opts.explain_pairs:
        return {}
    if "import" not in opts.only_set:  # the CRM of the import phase, at its size
        run_phase(config, "partners", partners=opts.partners, known_senders=100)
    pairs = []
    for index in range(opts.explain_pairs):
        speeds = {}
        order = (True, False) if index % 2 == 0 else (False, True)
        for explained in order:
            login = dovecot.add_user(f"explain{index}{int(explained)}@mycompany.example", PASSWORD)
            fill(dovecot, login, opts.messages, seed=44)  # not the import phase's mail
            result = run_phase(
                config,
                "import",
                login=login,
                password=PASSWORD,
                port=dovecot.port_imap,
                explain=explained,
                forget=True,
            )
            speeds[explained] = result["msgs_per_s"]
        pairs.append(
            {
                "with": speeds[True],
                "without": speeds[False],
                "cost_pct": slowdown_pct(speeds[True], speeds[False]),
                "load": load_average(),
            }
        )
    costs = sorted(pair["cost_pct"] for pair in pairs if pair["cost_pct"] is not None)
    quartets = []
    # an odd last pair makes no quartet
    for first, second in zip(pairs[0::2], pairs[1::2], strict=False):
        four = (first["with"], second["with"], first["without"], second["without"])
        if all(four):  # an import that measured nothing makes no quartet
            quartets.append(slowdown_pct(four[0] + four[1], four[2] + four[3]))
    cost = {
        "pairs": pairs,
        "cost_pct_abba": quartets,
        "cost_pct": round(sum(quartets) / len(quartets), 2) if quartets else None,
        "cost_pct_median": costs[len(costs) // 2] if costs else None,
        "cost_pct_min": costs[0] if costs else None,
        "cost_pct_max": costs[-1] if costs else None,
    }
    log(f"routing explanation: {cost}")
    return {"explain": cost}


def slowdown_pct(with_speed, without_speed):
    """How much slower, in percent, ``with_speed`` is than ``without_speed``; ``None`` when
    either run measured nothing (no speed to compare)."""
    if not with_speed or not without_speed:
        return None
    return round(100 * (1 - with_speed / without_speed), 2)


def load_average():
    """The machine's 1-minute load average (it is shared: figures move with it)."""
    return round(os.getloadavg()[0], 1)


def many_mailboxes(config, dovecot, mailboxes, count):
    """``mailboxes`` push mailboxes (one Dovecot user each) on one listener process: its
    memory, threads and connections, and push latency while mail arrives in random ones."""
    import psycopg2

    logins = [dovecot.add_user(f"many{i}@mycompany.example", PASSWORD) for i in range(mailboxes)]
    setup = run_phase(
        config, "push_setup_many", logins=logins, password=PASSWORD, port=dovecot.port_imap
    )
    targets = dict(zip(logins, setup["mailbox_ids"], strict=True))
    listener = Listener(config, "listener-many")
    conn = psycopg2.connect(dbname=DB)
    conn.autocommit = True
    try:
        startup = listener.wait_idling(mailboxes, 300)
        time.sleep(2)
        with conn.cursor() as cur:
            idle = {
                **listener.status(),
                "imap_connections": listener.tcp_connections(dovecot.port_imap),
                "pg_connections": listener.pg_connections(cur),
            }
        stats = measure_push(dovecot, conn, targets, count, 11, 0.25)
        with conn.cursor() as cur:
            after = {**listener.status(), "pg_connections": listener.pg_connections(cur)}
        load = load_average()
    finally:
        listener.stop()
        conn.close()
    # a restart: every mailbox synced already, the listener only checks them
    listener = Listener(config, "listener-many-restart")
    try:
        restart = listener.wait_idling(mailboxes, 300)
    finally:
        listener.stop()
    return {
        "mailboxes": mailboxes,
        "startup_s": round(startup, 1),
        "restart_s": round(restart, 1),
        "idle": idle,
        "after": after,
        "push": stats,
        "load_average": load,
    }


def commit():
    """The commit measured, with '+changes' when the work tree differs from it."""
    head = subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}+changes" if head and dirty else head or "unknown"


def mass_send(config, dovecot, count):
    """Mass send to ``count`` contacts through a real SMTP listener (and APPEND to Sent)."""
    login = dovecot.add_user("outbox@mycompany.example", PASSWORD)
    sink = SmtpSink().start()
    try:
        result = run_phase(
            config,
            "outbox",
            login=login,
            password=PASSWORD,
            port=dovecot.port_imap,
            smtp_port=sink.port,
            count=count,
        )
        result["received"] = len(sink.messages)
        result["received_unique"] = len(set(sink.message_ids()))
    finally:
        sink.stop()
    log(f"mass send: {result}")
    return result


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores {cpu}, {mem:.0f} GiB, Python {platform.python_version()}"


def import_verdict(results, opts):
    """The import targets missed (issue 15), at the default sizes only."""
    if opts.messages < 5000 or opts.partners < 10000:
        return []
    missed = []
    if (results.get("import_msgs_per_s") or 0) < IMPORT_TARGET:
        missed.append(f"import below {IMPORT_TARGET} mails/s")
    if (results.get("ratio_vs_native") or 0) < RATIO_TARGET:
        missed.append(f"import below {RATIO_TARGET}x native fetchmail")
    return missed


def push_verdict(push):
    """The push targets missed: a mail waiting over 10 s, a p99 over 2 s (issue 15)."""
    missed = []
    if push["max"] > PUSH_MAX_WAIT:
        missed.append(f"push: {push['over_10s']} mail(s) waited over {PUSH_MAX_WAIT} s")
    if push["p99"] > PUSH_TARGET_P99:
        missed.append(f"push: p99 over {PUSH_TARGET_P99} s")
    return missed


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--partners", type=int, default=10000)
    parser.add_argument(
        "--native-messages",
        type=int,
        default=500,
        help="native fetchmail runs at ~10 mails/s: measured on this many",
    )
    parser.add_argument(
        "--push", type=int, default=200, help="mails pushed to one mailbox (latency tails)"
    )
    parser.add_argument(
        "--push-mailboxes", type=int, default=200, help="push mailboxes on one listener"
    )
    parser.add_argument(
        "--push-mailbox-mails",
        type=int,
        default=300,
        help="mails pushed into random mailboxes of the many-mailboxes phase",
    )
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help="run only these phases (comma-separated): " + ", ".join(PHASES),
    )
    parser.add_argument("--rss", default="5000,20000")
    parser.add_argument(
        "--big-mail",
        type=int,
        default=25,
        help="size in MB of the one large mail imported among 200 small ones (0: skip)",
    )
    parser.add_argument(
        "--outbox", type=int, default=1000, help="mass send to this many contacts (0: skip)"
    )
    parser.add_argument(
        "--explain-pairs",
        type=int,
        default=3,
        help="imports with and without the routing explanation, alternated, same mail",
    )
    parser.add_argument("--match", default="1000,10000,100000")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="print the N costliest calls of the import (cProfile)",
    )
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results.json"))
    opts = parser.parse_args()
    rss_sizes = [int(x) for x in opts.rss.split(",") if x]
    match_sizes = sorted(int(x) for x in opts.match.split(",") if x)
    only = opts.only_set = {x.strip() for x in opts.only.split(",") if x.strip()}
    if only - set(PHASES):
        parser.error(f"unknown phase(s): {', '.join(sorted(only - set(PHASES)))}")
    failures = []

    config = devenv.write_config("bench", DB)
    devenv.create_db(config, DB)
    root = os.path.join(devenv.CACHE, "bench-dovecot")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    dovecot = DovecotServer(root=root).start()
    results = {
        "machine": machine(),
        "commit": commit(),
        "messages": opts.messages,
        "partners": opts.partners,
    }
    try:
        users = {}
        # 1. matching cost as the CRM grows (before the import, on the same stored sample)
        if "import" in only or "match" in only:
            t0 = time.monotonic()
            users["ours"] = dovecot.add_user("sales@mycompany.example", PASSWORD)
            fill(dovecot, users["ours"], opts.messages, seed=42)
            log(f"{opts.messages} messages appended in {time.monotonic() - t0:.0f}s")
            run_phase(
                config, "partners", partners=min(match_sizes[0], opts.partners), known_senders=100
            )

            # 2. import at the CRM size asked for
            run_phase(config, "partners", partners=opts.partners, known_senders=100)
            ours = run_phase(
                config,
                "import",
                login=users["ours"],
                password=PASSWORD,
                port=dovecot.port_imap,
                profile=opts.profile,
            )
            profile = ours.pop("profile", "")
            if profile:
                print(profile)
            log(f"mail_crm_link: {ours}")
            results["import_msgs_per_s"] = ours["msgs_per_s"]
            results["import"] = ours

        if "native" in only:
            # 3. native fetchmail, same run, same database
            users["native"] = dovecot.add_user("native@mycompany.example", PASSWORD)
            fill(dovecot, users["native"], opts.native_messages, seed=43)
            native = run_phase(
                config, "native", login=users["native"], password=PASSWORD, port=dovecot.port_imap
            )
            log(f"native fetchmail: {native}")
            results["native_msgs_per_s"] = native["msgs_per_s"]
            results["native"] = native
            results["ratio_vs_native"] = (
                round(results["import_msgs_per_s"] / native["msgs_per_s"], 1)
                if native["msgs_per_s"] and results.get("import_msgs_per_s")
                else None
            )
            failures += import_verdict(results, opts)

        # 3b. what the routing explanation costs the import: the same mail, the same CRM,
        # imported with it and without it, alternated (A B B A ...) against drift
        results.update(explain_cost(config, dovecot, opts))

        if "match" in only:
            # 4. matching cost per message at each CRM size
            for size in match_sizes:
                run_phase(config, "partners", partners=size, known_senders=100)
                match = run_phase(config, "match", sample=500)
                log(f"matching at {match['partners']} partners: {match['ms_per_message']} ms/mail")
                results[f"match_ms_{_k(size)}"] = match["ms_per_message"]

        # 5. push: latency tails on one mailbox, then many mailboxes on one listener
        if "push" in only and opts.push:
            push = push_latency(config, dovecot, opts.push)
            log(f"push ({push['count']} mails): {push}")
            results["push"] = push
            results["push_latency_p50_s"] = push["p50"]
            results["push_latency_p95_s"] = push["p95"]
            results["push_latency_p99_s"] = push["p99"]
            results["push_latency_max_s"] = push["max"]
            failures += push_verdict(push)
        if "many" in only and opts.push_mailboxes:
            many = many_mailboxes(config, dovecot, opts.push_mailboxes, opts.push_mailbox_mails)
            log(f"{opts.push_mailboxes} push mailboxes on one listener: {many}")
            results["many_mailboxes"] = many
            if many["push"]["max"] > PUSH_MAX_WAIT:
                failures.append(
                    f"{opts.push_mailboxes} mailboxes: {many['push']['over_10s']} mail(s) "
                    f"waited over {PUSH_MAX_WAIT} s"
                )

        # 6. memory: peak RSS of whole imports of growing size
        for size in rss_sizes if "rss" in only else ():
            login = dovecot.add_user(f"rss{size}@mycompany.example", PASSWORD)
            fill(dovecot, login, size, seed=size)
            rss = run_phase(
                config, "import", login=login, password=PASSWORD, port=dovecot.port_imap
            )
            log(f"import of {size}: {rss}")
            results[f"rss_mb_{_k(size)}"] = rss["peak_rss_mb"]
            results[f"helper_rss_mb_{_k(size)}"] = rss.get("helper_peak_rss_mb")

        # 7. one large mail among small ones: ours and native fetchmail, peak RSS of each
        if "bigmail" in only and opts.big_mail:
            big = big_mail(opts.big_mail)
            for who, phase in (("ours", "import"), ("native", "native")):
                login = dovecot.add_user(f"big-{who}@mycompany.example", PASSWORD)
                fill(dovecot, login, 200, seed=25)
                dovecot.append(login, big)
                rss = run_phase(
                    config, phase, login=login, password=PASSWORD, port=dovecot.port_imap
                )
                log(f"{len(big) / 1e6:.1f} MB mail among 200 ({who}): {rss}")
                results[f"big_mail_rss_mb_{who}"] = rss["peak_rss_mb"]
                if who == "ours":
                    results["big_mail_helper_rss_mb"] = rss.get("helper_peak_rss_mb")
                results[f"big_mail_stored_{who}"] = rss["messages"]
            results["big_mail_mb"] = round(len(big) / 1e6, 1)

        # 8. mass send: the request that queues, then the outbox cron until all have left
        if "outbox" in only and opts.outbox:
            results["outbox"] = mass_send(config, dovecot, opts.outbox)
    finally:
        dovecot.stop()

    os.makedirs(os.path.dirname(opts.output), exist_ok=True)
    with open(opts.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
        handle.write("\n")
    print_table(results)
    for failure in failures:
        log(f"FAILED {failure}")
    return 1 if failures else 0


def _k(size):
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def print_table(results):
    rows = [
        ("machine", results["machine"], ""),
        ("messages / partners", f"{results['messages']} / {results['partners']}", ""),
        (
            "import, mail_crm_link",
            results.get("import_msgs_per_s"),
            f"msgs/s  (target >= {IMPORT_TARGET})",
        ),
        ("import, native fetchmail", results.get("native_msgs_per_s"), "msgs/s"),
        (
            "ratio mail_crm_link / native",
            results.get("ratio_vs_native"),
            f"x  (target >= {RATIO_TARGET})",
        ),
        ("commit", results.get("commit"), ""),
    ]
    imported = results.get("import") or {}
    if "selfcheck_import_ms_per_folder" in imported:
        rows += [
            (
                "self-check per folder: import / resync",
                "{} / {}".format(
                    imported["selfcheck_import_ms_per_folder"],
                    imported["selfcheck_resync_ms_per_folder"],
                ),
                "ms  (resync, nothing new: {} ms per folder in all)".format(
                    imported["resync_ms_per_folder"]
                ),
            ),
            ("coverage figure of the mailbox form", imported["coverage_ms"], "ms"),
        ]
    if "route_bytes_per_mail" in imported:
        rows += [
            (
                "routing explanation: mails explained / stored bytes per mail",
                "{} / {}".format(imported["explained"], imported["route_bytes_per_mail"]),
                "(worded on display: {} ms per mail)".format(imported["explain_ms_per_mail"]),
            )
        ]
    explained = results.get("explain")
    if explained:
        rows += [
            (
                "import with / without the explanation",
                " ; ".join(f"{p['with']} / {p['without']}" for p in explained["pairs"]),
                "msgs/s  (cost {}% over A B B A {}; pairs median {}%, {}..{}%)".format(
                    explained["cost_pct"],
                    explained["cost_pct_abba"],
                    explained["cost_pct_median"],
                    explained["cost_pct_min"],
                    explained["cost_pct_max"],
                ),
            )
        ]
    push = results.get("push")
    if push:
        rows += [
            (
                f"push latency p50 / p95 ({push['count']} mails)",
                f"{push['p50']} / {push['p95']}",
                "s",
            ),
            ("push latency p99", push["p99"], f"s  (target <= {PUSH_TARGET_P99})"),
            ("push latency max", push["max"], f"s  (fails over {PUSH_MAX_WAIT})"),
            ("push: listener RSS, 1 mailbox", push["listener_rss_mb"], "MB"),
        ]
    many = results.get("many_mailboxes")
    if many:
        label = f"{many['mailboxes']} push mailboxes, 1 listener"
        rows += [
            (
                f"{label}: until all idle",
                f"{many['startup_s']} (first sync of each) / {many['restart_s']} (restart)",
                "s",
            ),
            (
                f"{label}: RSS idle / after",
                f"{many['idle']['rss_mb']} / {many['after']['rss_mb']}",
                "MB",
            ),
            (f"{label}: threads", many["idle"]["threads"], ""),
            (
                f"{label}: connections",
                "{} IMAP, {} PostgreSQL (after the burst: {})".format(
                    many["idle"]["imap_connections"],
                    many["idle"]["pg_connections"],
                    many["after"]["pg_connections"],
                ),
                "",
            ),
            (
                f"{label}: push p50 / p99 / max ({many['push']['count']} mails)",
                f"{many['push']['p50']} / {many['push']['p99']} / {many['push']['max']}",
                "s",
            ),
        ]
    outbox = results.get("outbox")
    if outbox:
        rows += [
            (f"mass send {outbox['count']}: the request", outbox["request_s"], "s"),
            (f"mass send {outbox['count']}: prepare + send (cron)", outbox["cron_s"], "s"),
            ("mass send: mails per second (cron)", outbox["mails_per_s"], "mails/s"),
        ]
    rows += [
        (f"matching at {k.removeprefix('match_ms_')} partners", v, "ms/mail")
        for k, v in results.items()
        if k.startswith("match_ms_")
    ]
    rows += [
        (f"peak RSS importing {k.removeprefix('rss_mb_')}", v, "MB")
        for k, v in results.items()
        if k.startswith("rss_mb_")
    ]
    rows += [
        (f"  and its parse helper process {k.removeprefix('helper_rss_mb_')}", v, "MB")
        for k, v in results.items()
        if k.startswith("helper_rss_mb_")
    ]
    if results.get("big_mail_mb"):
        rows += [
            (
                f"peak RSS, one {results['big_mail_mb']} MB mail among 200, {who}",
                results.get(f"big_mail_rss_mb_{key}"),
                "MB",
            )
            for who, key in (("mail_crm_link", "ours"), ("native fetchmail", "native"))
        ]
        rows.append(
            ("  and mail_crm_link's parse helper", results.get("big_mail_helper_rss_mb"), "MB")
        )
    width = max(len(r[0]) for r in rows)
    print()
    for name, value, unit in rows:
        print(f"  {name.ljust(width)}  {value}  {unit}")
    print()


if __name__ == "__main__":
    sys.exit(main())
