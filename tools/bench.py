#!/usr/bin/env python3
"""`make bench`: import throughput, push latency, matching scale and memory of mail_crm_link,
side by side with Odoo's native fetchmail, in one run on this machine.

    python3 tools/bench.py [--messages 5000] [--partners 10000] [--native-messages 500]
                           [--push 100] [--rss 5000,20000] [--match 1000,10000,100000]
                           [--outbox 1000]

Builds its own database (mcl_bench) and Dovecot (.cache/bench-dovecot), prints a table and
writes bench/results.json. Each measured phase runs in its own Odoo process (odoo shell), so
the peak RSS figures are per phase.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "mail_crm_link", "tests"))

import devenv  # the same config and database helpers as make test
from corpus import Corpus  # pure modules of the test bench
from dovecot import DovecotServer
from smtp_sink import SmtpSink

DB = os.environ.get("MCL_BENCH_DB", "mcl_bench")
PASSWORD = "bench"


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


def push_latency(config, dovecot, count):
    """APPEND → stored and linked, with the mailbox-listen command running (IMAP IDLE)."""
    import psycopg2

    login = dovecot.add_user("push@mycompany.example", PASSWORD)
    setup = run_phase(config, "push_setup", login=login, password=PASSWORD, port=dovecot.port_imap)
    addons = ",".join(devenv.odoo_addons_paths())  # first: Odoo finds addon commands so
    log_path = os.path.join(devenv.CACHE, "bench-listener.log")
    with open(log_path, "w", encoding="utf-8") as listener_log:
        listener = subprocess.Popen(
            [sys.executable, "-m", "odoo", f"--addons-path={addons}", "mailbox-listen"]
            + ["-c", config, "-d", DB, "--log-level=info"],
            stdout=subprocess.DEVNULL,
            stderr=listener_log,
        )
    conn = psycopg2.connect(dbname=DB)
    conn.autocommit = True
    corpus = Corpus(domain="client.example", our_domain="mycompany.example", seed=7)
    latencies = []
    try:
        time.sleep(5)  # the listener connects and starts IDLE
        for index in range(count):
            msgid = f"<push.{index}.{time.time_ns()}@client.example>"
            raw = corpus.message(sender=corpus.person("it"), lang="it", msgid=msgid)
            start = time.monotonic()
            dovecot.append(login, raw)
            while True:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT state FROM mailbox_message WHERE mailbox_id = %s "
                        "AND message_id = %s",
                        [setup["mailbox_id"], msgid],
                    )
                    row = cur.fetchone()
                if row and row[0] != "new":  # stored, and linked (or classified, or in error)
                    break
                if time.monotonic() - start > 60:
                    raise SystemExit(f"push: message {index} not stored after 60 s")
                time.sleep(0.05)
            latencies.append(time.monotonic() - start)
    finally:
        listener.terminate()  # it stops gracefully within an IDLE period; no need to wait
        try:
            listener.wait(15)
        except subprocess.TimeoutExpired:
            listener.kill()
            listener.wait()
        conn.close()
    latencies.sort()
    return {
        "p50": round(statistics.median(latencies), 3),
        "p95": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 3),
        "count": len(latencies),
    }


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
    parser.add_argument("--push", type=int, default=100)
    parser.add_argument("--rss", default="5000,20000")
    parser.add_argument(
        "--outbox", type=int, default=1000, help="mass send to this many contacts (0: skip)"
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

    config = devenv.write_config("bench", DB)
    devenv.create_db(config, DB)
    root = os.path.join(devenv.CACHE, "bench-dovecot")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    dovecot = DovecotServer(root=root).start()
    results = {"machine": machine(), "messages": opts.messages, "partners": opts.partners}
    try:
        # 1. matching cost as the CRM grows (before the import, on the same stored sample)
        users = {}
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
            round(ours["msgs_per_s"] / native["msgs_per_s"], 1) if native["msgs_per_s"] else None
        )

        # 4. matching cost per message at each CRM size
        for size in match_sizes:
            run_phase(config, "partners", partners=size, known_senders=100)
            match = run_phase(config, "match", sample=500)
            log(f"matching at {match['partners']} partners: {match['ms_per_message']} ms/mail")
            results[f"match_ms_{_k(size)}"] = match["ms_per_message"]

        # 5. push latency
        if opts.push:
            push = push_latency(config, dovecot, opts.push)
            log(f"push: {push}")
            results["push_latency_p50_s"] = push["p50"]
            results["push_latency_p95_s"] = push["p95"]

        # 6. memory: peak RSS of whole imports of growing size
        for size in rss_sizes:
            login = dovecot.add_user(f"rss{size}@mycompany.example", PASSWORD)
            fill(dovecot, login, size, seed=size)
            rss = run_phase(
                config, "import", login=login, password=PASSWORD, port=dovecot.port_imap
            )
            log(f"import of {size}: {rss}")
            results[f"rss_mb_{_k(size)}"] = rss["peak_rss_mb"]

        # 7. mass send: the request that queues, then the outbox cron until all have left
        if opts.outbox:
            results["outbox"] = mass_send(config, dovecot, opts.outbox)
    finally:
        dovecot.stop()

    os.makedirs(os.path.dirname(opts.output), exist_ok=True)
    with open(opts.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
        handle.write("\n")
    print_table(results)
    return 0


def _k(size):
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def print_table(results):
    rows = [
        ("machine", results["machine"], ""),
        ("messages / partners", f"{results['messages']} / {results['partners']}", ""),
        ("import, mail_crm_link", results.get("import_msgs_per_s"), "msgs/s  (target >= 200)"),
        ("import, native fetchmail", results.get("native_msgs_per_s"), "msgs/s"),
        ("ratio mail_crm_link / native", results.get("ratio_vs_native"), "x  (target >= 10)"),
        ("push latency p50", results.get("push_latency_p50_s"), "s"),
        ("push latency p95", results.get("push_latency_p95_s"), "s  (target <= 10)"),
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
    width = max(len(r[0]) for r in rows)
    print()
    for name, value, unit in rows:
        print(f"  {name.ljust(width)}  {value}  {unit}")
    print()


if __name__ == "__main__":
    sys.exit(main())
