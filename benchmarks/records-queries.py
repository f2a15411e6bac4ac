#!/usr/bin/env python3
"""Times the call-record queries on a large store, before and after the identity index.

    benchmarks/records-queries.py --calls 1000000 [--appel PATH] [--keep DIR]

1. The schema comes from the server itself: `appel serve` starts once on an empty data folder
   (which runs every migration) and is stopped.
2. The store is filled with SQL: N calls of two legs each (a caller and one target), over 30 days,
   among 10,000 identities, with a spread of end reasons (mostly 0/0, some 603/0, 487/10004,
   480/10076, a few 500/900301). The triggers of the schema fill the identity index as the
   server's own writes do.
3. "before": the list query as it was before the identity index, on the same rows, with the
   indexes this change added dropped (they are rebuilt afterwards).
4. "after": the server started on the filled store, timed over REST (`GET /calls?...`,
   `GET /calls/summary`), each query several times, the median kept. The query plans are printed.

Loopback only; the data folder is removed at the end unless --keep is given.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ACCESS_KEY = "bench-access-key"
IDENTITIES = 10_000
DAY_MS = 24 * 3600 * 1000
# (code, subcode, category, weight) of the target's leg; the caller's leg mirrors it as the
# caller's own end (0/0 after a conversation, the target's reason otherwise).
REASONS = [
    (0, 0, "Success", 70),
    (603, 0, "Success", 12),
    (487, 10004, "ExpectedError", 10),
    (480, 10076, "ExpectedError", 6),
    (500, 900301, "UnexpectedServerError", 2),
]

# The list query as the store ran it before the identity index (for the "before" column).
OLD_LIST = """
SELECT seq, id, caller, targets, created_ms, ended_ms, end_code, end_subcode FROM calls c
 WHERE (?1 IS NULL OR c.seq < ?1)
   AND (?2 IS NULL OR c.created_ms >= ?2)
   AND (?3 IS NULL OR c.created_ms < ?3)
   AND (?4 IS NULL OR c.caller = ?4
        OR EXISTS (SELECT 1 FROM json_each(c.targets) t WHERE t.value = ?4)
        OR EXISTS (SELECT 1 FROM legs l WHERE l.call_id = c.id AND l.identity = ?4))
   AND ((?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL)
        OR EXISTS (SELECT 1 FROM legs l WHERE l.call_id = c.id
                   AND (?5 IS NULL OR l.code = ?5)
                   AND (?6 IS NULL OR l.subcode = ?6)
                   AND (?7 IS NULL OR l.result_category = ?7)))
 ORDER BY c.seq DESC LIMIT ?8
"""
# The list query as the store runs it now (see `call_records` in crates/appel-server/src/store/calls.rs),
# to compare SQL with SQL; the REST column times the server itself.
NEW_LIST = """
SELECT c.seq, c.id FROM {source}
   AND (?2 IS NULL OR c.created_ms >= ?2)
   AND (?3 IS NULL OR c.created_ms < ?3)
   AND ((?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL)
        OR EXISTS (SELECT 1 FROM legs l WHERE l.call_id = c.id
                   AND (?4 IS NULL OR l.identity = ?4)
                   AND (?5 IS NULL OR l.code = ?5)
                   AND (?6 IS NULL OR l.subcode = ?6)
                   AND (?7 IS NULL OR l.result_category = ?7)))
 ORDER BY {order} DESC LIMIT ?8
"""
BY_IDENTITY = ("call_parties p JOIN calls c ON c.seq = p.call_seq WHERE p.identity = ?4 AND (?1 IS NULL OR p.call_seq < ?1)", "p.call_seq")
BY_CALL = ("calls c WHERE (?1 IS NULL OR c.seq < ?1)", "c.seq")


def after_sql(db_path, queries, times):
    db = sqlite3.connect(db_path)
    results = {}
    for label, params in queries:
        source, order = BY_IDENTITY if params.get("identity") else BY_CALL
        sql = NEW_LIST.format(source=source, order=order)
        args = (None, params.get("since"), None, params.get("identity"), params.get("code"), params.get("subCode"), params.get("category"), 51)
        results[label] = median_ms(lambda: db.execute(sql, args).fetchall(), times)
    db.close()
    return results


ADDED_INDEXES = {
    "legs_identity_reason": "CREATE INDEX legs_identity_reason ON legs(identity, code, subcode, call_id)",
    "calls_ended": "CREATE INDEX calls_ended ON calls(ended_ms)",
}


def wait_listening(proc, deadline_s=60):
    start = time.time()
    lines = []
    while time.time() - start < deadline_s:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"listening on (http://127\.[0-9.]+:[0-9]+)", line)
        if found:
            return found.group(1)
    raise SystemExit("the server did not start:\n" + "".join(lines))


def start_server(appel, data):
    env = dict(os.environ, APPEL_ACCESS_KEY=ACCESS_KEY, RUST_LOG="warn,appel=info,appel_server=info")
    proc = subprocess.Popen(
        [appel, "serve", "--listen", "127.0.0.1:0", "--data", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return proc, wait_listening(proc)


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def fill(db_path, calls, seed):
    rng = random.Random(seed)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    weights = [r[3] for r in REASONS]
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - 30 * DAY_MS
    step = (30 * DAY_MS) // calls
    batch_calls, batch_legs = [], []
    started = time.time()
    for n in range(calls):
        call_id = f"bench{n:09d}"
        caller = f"id{rng.randrange(IDENTITIES):05d}"
        target = f"id{rng.randrange(IDENTITIES):05d}"
        created = start_ms + n * step
        code, sub, cat, _ = rng.choices(REASONS, weights)[0]
        answered = code == 0
        ended = created + (rng.randrange(5_000, 600_000) if answered else rng.randrange(1_000, 30_000))
        caller_reason = (0, 0, "Success") if answered or code == 603 else (code, sub, cat)
        batch_calls.append((call_id, caller, json.dumps([target]), created, ended, caller_reason[0], caller_reason[1]))
        batch_legs.append((call_id, f"{call_id}-1", caller, created, ended, ended - created, *caller_reason, 1))
        joined = created + 2_000 if answered else created
        batch_legs.append((call_id, f"{call_id}-2", target, joined, ended, ended - joined, code, sub, cat, 1 if answered else 0))
        if len(batch_calls) >= 20_000 or n == calls - 1:
            db.executemany(
                "INSERT INTO calls (id, caller, targets, created_ms, ended_ms, end_code, end_subcode) VALUES (?,?,?,?,?,?,?)",
                batch_calls,
            )
            db.executemany(
                "INSERT INTO legs (call_id, participant_id, identity, joined_ms, left_ms, duration_ms, code, subcode, result_category, answered) VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch_legs,
            )
            db.commit()
            batch_calls, batch_legs = [], []
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return time.time() - started


def median_ms(run, times):
    samples = []
    for _ in range(times):
        t = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def before(db_path, queries, times):
    db = sqlite3.connect(db_path)
    for name in ADDED_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.commit()
    results = {}
    for label, params in queries:
        if params is None:
            continue
        args = (None, params.get("since"), None, params.get("identity"), params.get("code"), params.get("subCode"), params.get("category"), 51)
        results[label] = median_ms(lambda: db.execute(OLD_LIST, args).fetchall(), times)
    for sql in ADDED_INDEXES.values():
        db.execute(sql)
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return results


def get(base, path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {ACCESS_KEY}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def plans(db_path, identity):
    db = sqlite3.connect(db_path)
    shown = {
        "identity": f"""EXPLAIN QUERY PLAN SELECT c.seq FROM call_parties p JOIN calls c ON c.seq = p.call_seq
            WHERE p.identity = '{identity}' AND EXISTS (SELECT 1 FROM legs l WHERE l.call_id = c.id
            AND l.identity = '{identity}' AND l.code = 603) ORDER BY p.call_seq DESC LIMIT 51""",
        "summary": """EXPLAIN QUERY PLAN SELECT MAX(0, (minute * 60000 - 0) / 3600000), code, subcode, SUM(count)
            FROM leg_end_minutes WHERE minute >= 0 AND minute <= 1 GROUP BY 1, 2, 3""",
    }
    for name, sql in shown.items():
        print(f"plan ({name}):")
        for row in db.execute(sql):
            print("   ", row[-1])
    db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--appel", default=None, help="the appel binary (default: $CARGO_TARGET_DIR or target, release then debug)")
    parser.add_argument("--times", type=int, default=5, help="runs per query; the median is kept")
    parser.add_argument("--keep", default=None, help="keep the filled data folder here")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()

    appel = args.appel
    if appel is None:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
        for profile in ("release", "debug"):
            candidate = os.path.join(target, profile, "appel")
            if os.path.exists(candidate):
                appel = candidate
                break
    if appel is None:
        raise SystemExit("no appel binary: build one (cargo build -p appel) or pass --appel")

    data = args.keep or tempfile.mkdtemp(prefix="appel-records-bench-")
    os.makedirs(data, exist_ok=True)
    try:
        proc, _ = start_server(appel, data)
        stop_server(proc)
        db_path = os.path.join(data, "appel.db")
        took = fill(db_path, args.calls, args.seed)
        db = sqlite3.connect(db_path)
        calls, legs = db.execute("SELECT (SELECT COUNT(*) FROM calls), (SELECT COUNT(*) FROM legs)").fetchone()
        # An identity with a typical number of calls (about 2 × calls / identities).
        identity = db.execute("SELECT caller FROM calls WHERE seq = 1").fetchone()[0]
        db.close()
        print(f"store: {calls} calls, {legs} legs, filled in {took:.0f} s ({appel})")
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 24 * 3600))
        queries = [
            ("identity", {"identity": identity}),
            ("identity+code 603", {"identity": identity, "code": 603}),
            ("code 487 + subCode 10004", {"code": 487, "subCode": 10004}),
            ("category UnexpectedServerError", {"category": "UnexpectedServerError"}),
            ("identity+category", {"identity": identity, "category": "UnexpectedServerError"}),
            ("since 24h", {"since": int((time.time() - 24 * 3600) * 1000)}),
        ]
        old = before(db_path, queries, args.times)
        new = after_sql(db_path, queries, args.times)
        plans(db_path, identity)
        proc, base = start_server(appel, data)
        try:
            print(f"{'query':34} {'before (SQL)':>14} {'after (SQL)':>14} {'after (REST)':>14}")
            for label, params in queries:
                rest = {k: (since if k == "since" else v) for k, v in params.items()}
                path = "/calls?" + "&".join(f"{k}={v}" for k, v in rest.items())
                found = len(get(base, path)["calls"])
                after = median_ms(lambda: get(base, path), args.times)
                print(f"{label:34} {old[label]:>11.1f} ms {new[label]:>11.1f} ms {after:>11.1f} ms   ({found} calls on the page)")
            summary_path = "/calls/summary?since=" + since
            legs_24h = get(base, summary_path)["legs"]
            after = median_ms(lambda: get(base, summary_path), args.times)
            print(f"{'summary over 24 h':34} {'(new)':>14} {'':>14} {after:>11.1f} ms   ({legs_24h} legs)")
        finally:
            stop_server(proc)
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
