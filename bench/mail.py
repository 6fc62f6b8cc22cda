"""Client e-mail end to end: `vigil mail` (the SMTP listener) and `vigil engine` as their own
processes on a demo database, fed by SMTP clients on the same machine.

    python bench/mail.py                      # SQLite
    python bench/mail.py --db postgresql://postgres@127.0.0.1:5432/bench_mail
    python bench/mail.py --mails 2000 --clients 8 --latency 200

Prints:
- e-mails/s accepted end to end into incidents: N distinct mails sent by --clients concurrent
  SMTP sessions (one connection each, many messages per connection, like a relaying MTA), from
  the first MAIL FROM to the moment the N-th incident exists in the database;
- end of DATA -> first notification dispatched: for --latency mails sent one at a time (a lone
  client writing), the time from the 250 that ends DATA to the `sent_at` the engine recorded for
  the incident's first page (the demo's engineers have the recording channel: the engine does
  all its database work for each page, and no network call). p50, p95, p99, max.
What ran beside: the SMTP clients (threads of this script), `vigil mail`, `vigil engine`, an
SMTP sink (aiosmtpd) receiving the engine's acknowledgements to the client (and PostgreSQL when
used) on the same cores; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from _support import ROOT, free_port, pages_of, vigil_env
from sqlalchemy import func, select

from app.db import Database
from app.models import Client, ClientMail, Incident, Notification

DOMAIN = "mail.bench.test"


def message(i: int, tag: str) -> bytes:
    return (f"From: Ops {i} <ops{i % 50}@acme.example>\r\nTo: acme@{DOMAIN}\r\nSubject: [{tag}] Checkout fails {i}\r\n"
            f"Message-ID: <{tag}-{i}@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Le paiement échoue pour la commande {i}.\r\n").encode()


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("vigil mail exited") from None
            time.sleep(0.1)
    raise SystemExit("vigil mail did not start")


def count_incidents(db: Database, tag: str) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(Incident)
                         .where(Incident.source == "email", Incident.summary.like(f"[{tag}]%"))).scalar_one()


def throughput(db: Database, port: int, n: int, clients: int) -> tuple[float, float]:
    tag = "tp"
    per = [list(range(c, n, clients)) for c in range(clients)]

    def run(indices: list[int]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for i in indices:
                smtp.sendmail(f"ops{i % 50}@acme.example", [f"acme@{DOMAIN}"], message(i, tag))

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(p,)) for p in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.monotonic() - t0
    while count_incidents(db, tag) < n:
        if time.monotonic() - t0 > 600:
            raise SystemExit(f"only {count_incidents(db, tag)} of {n} incidents after 600 s")
        time.sleep(0.05)
    total = time.monotonic() - t0
    print(f"  {n} mails over {clients} SMTP sessions: all 250 after {accepted:.2f} s ({n / accepted:.0f}/s accepted), "
          f"all incidents after {total:.2f} s")
    return n / total, t0


def caught_up(db: Database, t0: float) -> None:
    """Wait until the engine has sent what the burst gave it (every page and every answer to the
    client): the next figure is a lone client's, not the burst's backlog."""
    while True:
        with db.session() as s:
            waiting = s.execute(select(func.count()).select_from(Notification)
                                .where(Notification.status.in_(("pending", "sending")))).scalar_one()
        if not waiting or time.monotonic() - t0 > 600:
            break
        time.sleep(0.2)
    with db.session() as s:
        sent = s.execute(select(func.count()).select_from(Notification).where(Notification.status == "sent")).scalar_one()
    print(f"  the engine had sent the burst's pages and answers ({sent} messages, {waiting} still waiting) "
          f"{time.monotonic() - t0:.1f} s after the first mail")


def latency(db: Database, port: int, m: int) -> list[float]:
    tag = "lat"
    ends: dict[str, datetime] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for i in range(m):
            smtp.sendmail(f"ops{i % 50}@acme.example", [f"acme@{DOMAIN}"], message(i, tag))
            ends[f"[{tag}] Checkout fails {i}"] = datetime.now(UTC)
            time.sleep(0.05)  # a lone client: one mail at a time, not a storm
    deadline = time.monotonic() + 120
    while True:
        with db.session() as s:
            # An incident's page: its own, or a bundled page listing it (notify/plan.bundle).
            pages = pages_of("incident")
            rows = s.execute(
                select(Incident.summary, func.min(Notification.sent_at))
                .join(pages, pages.c.key == Incident.id).join(Notification, Notification.id == pages.c.nid)
                .where(Incident.summary.like(f"[{tag}]%"), Notification.purpose == "page", Notification.sent_at.is_not(None))
                .group_by(Incident.summary)).all()
        if len(rows) >= m or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return [(sent - ends[summary]).total_seconds() for summary, sent in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--mails", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--latency", type=int, default=200)
    ap.add_argument("--listeners", type=int, default=1, help="vigil mail processes sharing the port")
    ap.add_argument("--no-engine", action="store_true",
                    help="the listener alone (no engine paging meanwhile): what intake costs by itself")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        port, sink_port = free_port(), free_port()
        # The engine sends its e-mail (the acknowledgement each client gets) to a real SMTP server
        # on loopback that accepts and drops it (aiosmtpd's Sink), as a deployment has a relay.
        env = dict(env, VIGIL_MAIL_DOMAIN=DOMAIN, VIGIL_MAIL_PORT=str(port), VIGIL_MAIL_HOST="127.0.0.1",
                   VIGIL_MAIL_SHARED_PORT="1" if args.listeners > 1 else "0",
                   VIGIL_SMTP_HOST="127.0.0.1", VIGIL_SMTP_PORT=str(sink_port), VIGIL_SMTP_STARTTLS="0",
                   VIGIL_SMTP_FROM=f"vigil@{DOMAIN}")
        sink = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{sink_port}",
                                 "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "app.cli", "demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        db = Database(env["VIGIL_DATABASE_URL"])
        with db.transaction() as s:  # the bench's senders are many: the whole domain, no rate limit
            acme = s.execute(select(Client).where(Client.slug == "acme")).scalar_one()
            row = s.get(ClientMail, acme.id)
            row.allowed_senders, row.rate_per_hour = ["@acme.example"], 0
        procs = [subprocess.Popen([sys.executable, "-m", "app.cli", name], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name in ["mail"] * args.listeners + ([] if args.no_engine else ["engine"])]
        try:
            wait_port(port, procs[0])
            backend = "PostgreSQL" if env["VIGIL_DATABASE_URL"].startswith("postgres") else "SQLite"
            print(f"client e-mail on {backend}, {args.listeners} vigil mail process(es), {os.cpu_count()} cores, load average before: "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            rate, t0 = throughput(db, port, args.mails, args.clients)
            print(f"e-mails/s accepted end to end into incidents: {rate:.0f}/s")
            if not args.no_engine:
                caught_up(db, t0)
            lat = [] if args.no_engine else sorted(latency(db, port, args.latency))
            if lat:
                q = statistics.quantiles(lat, n=100, method="inclusive")
                print(f"end of DATA -> first notification dispatched ({len(lat)} of {args.latency} mails, one at a time): "
                      f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")
            print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  "(beside: the SMTP clients, vigil mail, vigil engine, and other sessions' work on this shared machine)")
        finally:
            for p in [*procs, sink]:
                p.terminate()
            for p in [*procs, sink]:
                p.wait(timeout=30)
            db.dispose()


if __name__ == "__main__":
    main()
