#!/usr/bin/env python3
"""Soak benchmark: the shipped pipelines at 10x the demo rates, maintenance on, sampled every
10 s; then a restart and its time to the first commit, and an exactly-once check of every
bronze table (Kafka coordinates, read with the independent `deltalake` Python package).

Usage: soak.py MINUTES OUT_DIR   (run by xtask/soak.sh, which builds and sets FINLAKE_BIN/ROOT)
Writes OUT_DIR/samples.csv, OUT_DIR/soak.md (the table) and OUT_DIR/soak.svg (the plot).
"""
import json, os, re, shutil, signal, subprocess, sys, time, urllib.request
from pathlib import Path

MINUTES = float(sys.argv[1])
OUT = Path(sys.argv[2]).resolve()
BIN = os.environ["FINLAKE_BIN"]
ROOT = Path(os.environ["ROOT"])
PORT = int(os.environ.get("SOAK_PORT", "18091"))
API = f"http://127.0.0.1:{PORT}"
SMALL = 16 << 20

work = OUT / "run"
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
lake = work / "lake"


def config_text():
    text = (ROOT / "pipelines.toml").read_text()
    subs = [
        ('rate = 200.0', 'rate = 2000.0'), ('rate = 20.0', 'rate = 200.0'), ('rate = 100.0', 'rate = 1000.0'),
        ('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{PORT}"'),
        ('dir = "plugins/dist"', f'dir = "{ROOT}/plugins/dist"'),
        ('cache_dir = ".finlake/cache"', f'cache_dir = "{Path.home()}/.cache/finlake/test-plugin-cache"'),
        ('root = "lake"', f'root = "{lake}"'),
        # Shorter than shipped so vacuum and log cleanup happen within a run.
        ('interval = "2m"', 'interval = "1m"'), ('time_travel = "24h"', 'time_travel = "5m"'),
    ]
    for old, new in subs:
        assert old in text, f"pipelines.toml no longer has {old!r}; update xtask/soak.py"
        text = text.replace(old, new, 1)
    return text


def get(path, timeout=5):
    with urllib.request.urlopen(API + path, timeout=timeout) as r:
        return r.read().decode()


def start(log_name):
    log = open(work / log_name, "w")
    env = dict(os.environ, FINLAKE_LOG="warn,finlake=info,deltalake_core::writer::stats=error")
    p = subprocess.Popen([BIN, "run", "--config", str(work / "pipelines.toml"), "--brokers", addr],
                         stdout=subprocess.DEVNULL, stderr=log, env=env)
    return p, log


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=90)
    except subprocess.TimeoutExpired:
        p.kill()
        raise SystemExit("finlake did not stop within 90 s of SIGINT")


def log_since_checkpoint():
    """Most _delta_log commits after the last checkpoint, over every table."""
    worst = 0
    for log in lake.rglob("_delta_log"):
        last = -1
        lc = log / "_last_checkpoint"
        if lc.exists():
            try:
                last = json.loads(lc.read_text())["version"]
            except (ValueError, KeyError):
                pass
        n = sum(1 for f in log.glob("*.json") if f.stem.isdigit() and int(f.stem) > last)
        worst = max(worst, n)
    return worst


def rss_parts(pid):
    """Resident MiB by kind of mapping, from /proc/PID/smaps: `wasm` (plugin linear memories:
    wasmtime reserves gigabytes per memory and makes only the used part accessible, so a
    memory is an anonymous read-write mapping followed at once by a large inaccessible one),
    `anon` (jemalloc's arenas, glibc's thread arenas, thread stacks), `brk` (glibc's main arena,
    used by the C libraries) and `file` (the binary's code and other mapped files). Locates
    RSS growth the heap gauges do not explain."""
    maps = []  # (lo, hi, perms, name, rss_kib)
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if not head:
            continue
        if not head[0].endswith(":"):  # a mapping's header: range perms offset dev inode [path]
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            maps.append([lo, hi, head[1], head[5] if len(head) > 5 else "", 0])
        elif head[0] == "Rss:" and maps:
            maps[-1][4] = int(head[1])
    parts = {"wasm": 0, "anon": 0, "brk": 0, "file": 0}
    for k, (lo, hi, perms, name, rss) in enumerate(maps):
        nxt = maps[k + 1] if k + 1 < len(maps) else None
        reserved = (hi - lo) >= 1 << 30 or (nxt is not None and nxt[0] == hi and nxt[2].startswith("---")
                                             and not nxt[3] and nxt[1] - nxt[0] >= 1 << 30)
        kind = ("brk" if name == "[heap]" else "file" if name.startswith("/") else
                "wasm" if not name and reserved else "anon")
        parts[kind] += rss / 1024
    return {f"rss_{k}_mib": round(v, 1) for k, v in parts.items()}


def sample(pid, t0, prev):
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    tables = json.loads(get("/api/tables?limit=1000", timeout=20))
    files = {t["name"]: t["files"] for t in tables}
    small = {t["name"]: t.get("small_files", 0) for t in tables}
    metrics = get("/metrics")
    q = {}
    for m in re.finditer(r'^finlake_commit_seconds\{[^}]*quantile="(0\.5|0\.99)"[^}]*\} (\S+)', metrics, re.M):
        v = float(m.group(2))
        if v == v:  # not NaN
            q[m.group(1)] = max(q.get(m.group(1), 0.0), v)
    heap = {m.group(1): float(m.group(2)) / 2**20
            for m in re.finditer(r'^finlake_heap_(in_use|free)_bytes (\S+)', metrics, re.M)}
    pipes = json.loads(get("/api/pipelines"))
    records = sum(p["records_in"] for p in pipes)
    lag = sum(p.get("lag") or 0 for p in pipes)
    now = time.time()
    rate = (records - prev[1]) / (now - prev[0]) if prev else 0.0
    return {
        "t_s": round(now - t0), "rss_mib": round(rss, 1),
        "heap_in_use_mib": round(heap.get("in_use", 0), 1), "heap_free_mib": round(heap.get("free", 0), 1),
        **rss_parts(pid),
        "open_files": fds, "threads": threads,
        "files_max": max(files.values() or [0]), "files_total": sum(files.values()),
        "small_files": sum(small.values()), "log_since_ckpt": log_since_checkpoint(),
        "commit_p50_ms": round(q.get("0.5", 0) * 1000, 1), "commit_p99_ms": round(q.get("0.99", 0) * 1000, 1),
        "records_per_s": round(rate), "lag": lag, "_records": records, "_now": now, "_files": files,
    }


ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLUMNS = ["t_s", "rss_mib", "heap_in_use_mib", "heap_free_mib", "rss_wasm_mib", "rss_anon_mib", "rss_brk_mib",
           "rss_file_mib", "open_files", "threads", "files_max", "files_total", "small_files", "log_since_ckpt",
           "commit_p50_ms", "commit_p99_ms", "records_per_s", "lag"]


def svg(samples, path):
    panels = [("RSS (MiB)", "rss_mib"), ("heap in use (MiB)", "heap_in_use_mib"), ("heap free (MiB)", "heap_free_mib"),
              ("open files", "open_files"), ("files, largest table", "files_max"),
              ("small files, all tables", "small_files"), ("log entries since checkpoint", "log_since_ckpt"),
              ("commit p99 (ms)", "commit_p99_ms"), ("records/s", "records_per_s"), ("consumer lag", "lag")]
    w, h, cols = 360, 200, 4
    rows = (len(panels) + cols - 1) // cols
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * cols}" height="{h * rows}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    tmax = max(s["t_s"] for s in samples) or 1
    for i, (title, key) in enumerate(panels):
        x0, y0 = (i % cols) * w, (i // cols) * h
        vals = [s[key] for s in samples]
        top = max(vals) * 1.1 or 1
        pts = " ".join(f'{x0 + 45 + (s["t_s"] / tmax) * (w - 60):.1f},{y0 + h - 30 - (s[key] / top) * (h - 60):.1f}' for s in samples)
        out += [f'<text x="{x0 + 45}" y="{y0 + 18}" font-weight="bold">{title}</text>',
                f'<line x1="{x0 + 45}" y1="{y0 + h - 30}" x2="{x0 + w - 15}" y2="{y0 + h - 30}" stroke="#888"/>',
                f'<line x1="{x0 + 45}" y1="{y0 + 30}" x2="{x0 + 45}" y2="{y0 + h - 30}" stroke="#888"/>',
                f'<text x="{x0 + 40}" y="{y0 + 34}" text-anchor="end">{top:.0f}</text>',
                f'<text x="{x0 + 40}" y="{y0 + h - 30}" text-anchor="end">0</text>',
                f'<text x="{x0 + w - 15}" y="{y0 + h - 15}" text-anchor="end">{tmax / 60:.0f} min</text>',
                f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{pts}"/>']
    out.append("</svg>")
    path.write_text("\n".join(out))


def exactly_once():
    """(rows, duplicates, missing offsets) over every bronze table, from Kafka coordinates; a
    record dead-lettered by a bronze stage counts as present (it is in its dead-letter table)."""
    from deltalake import DeltaTable
    report = {}
    for bronze, dead in [("bronze/trades", "dead_letters"), ("bronze/crypto", "dead_letters_crypto"),
                         ("bronze/transactions", "dead_letters_transactions")]:
        t = DeltaTable(str(lake / bronze)).to_pyarrow_table(columns=["kafka_partition", "kafka_offset"]).to_pydict()
        coords = list(zip(t["kafka_partition"], t["kafka_offset"]))
        seen = set(coords)
        dups = len(coords) - len(seen)
        if (lake / dead / "_delta_log").exists():
            d = DeltaTable(str(lake / dead)).to_pyarrow_table(columns=["partition", "offset"]).to_pydict()
            seen |= set(zip(d["partition"], d["offset"]))
        missing = 0
        for part in {p for p, _ in seen}:
            offs = {o for p, o in seen if p == part}
            missing += (max(offs) - min(offs) + 1) - len(offs) + min(offs)
        report[bronze] = (len(coords), dups, missing)
    return report


# --- the run -------------------------------------------------------------------------------
(work / "pipelines.toml").write_text(config_text())
shutil.copytree(ROOT / "models", work / "models")  # the fraud scorer's model, relative to the config
broker = subprocess.Popen([BIN, "broker", "--topics", "stock-trades,crypto-prices,bank-transactions",
                           # The embedded broker keeps ~5 MB per partition: 12 partitions hold a
                           # few minutes of the 10x rates, more than a restart needs to re-read.
                           "--partitions", "12", "--address-file", str(work / "addr")],
                          stdout=subprocess.DEVNULL, stderr=open(work / "broker.log", "w"))
try:
    for _ in range(100):
        if (work / "addr").exists() and (work / "addr").read_text():
            break
        time.sleep(0.1)
    addr = (work / "addr").read_text().strip()
    run, log = start("run.log")
    t0 = time.time()
    for _ in range(300):
        try:
            get("/api/health")
            break
        except OSError:
            time.sleep(0.2)
    print(f"soak: {MINUTES:g} min at 10x the demo rates; lake {lake}; sampling every 10 s", flush=True)
    print(" ".join(f"{c:>14}" for c in COLUMNS), flush=True)
    samples, prev = [], None
    while time.time() - t0 < MINUTES * 60:
        time.sleep(10 - (time.time() - t0) % 10)
        if run.poll() is not None:
            raise SystemExit(f"finlake exited with {run.returncode}; see {work / 'run.log'}")
        try:
            s = sample(run.pid, t0, prev)
        except OSError as e:
            print(f"sample failed: {e}", flush=True)
            continue
        prev = (s["_now"], s["_records"])
        samples.append(s)
        print(" ".join(f"{s[c]:>14}" for c in COLUMNS), flush=True)
    last_files = samples[-1]["_files"]
    stop(run)
    log.close()

    # Restart: time to the first commit, whatever the run's length. The embedded broker
    # (librdkafka's mock cluster) keeps a group whose last member left rebalancing for
    # session.timeout.ms - 1 s (5 s) and makes a member joining meanwhile wait that out; a
    # Kafka broker empties the group at once. Waiting it out measures FinLake, not the mock.
    time.sleep(6)
    restart_log = work / "restart.log"
    started = time.time()
    run, log = start("restart.log")
    first_commit, ready, assigned, any_commit = None, None, None, None
    while time.time() - started < 120 and first_commit is None:
        text = restart_log.read_text(errors="replace")
        now = time.time() - started
        # Ready: every pipeline has opened its tables, read its progress, restored its state
        # and loaded its unique keys (the part that could grow with history).
        if ready is None and text.count("resuming from Delta offsets") >= 3:
            ready = now
        if assigned is None and "partition assigned" in text:
            assigned = now
        committed = set(re.findall(r"window committed pipeline=(\S+)", ANSI.sub("", text)))
        if committed and any_commit is None:
            any_commit = now
        if len(committed) >= 3:  # every shipped pipeline
            first_commit = now
        time.sleep(0.02)
    time.sleep(5)
    key_loads = re.findall(r"unique key loaded.*", restart_log.read_text(errors="replace"))
    stop(run)
    log.close()
finally:
    broker.send_signal(signal.SIGINT)
    broker.wait(timeout=30)

checks = exactly_once()

# --- the report ----------------------------------------------------------------------------
with open(OUT / "samples.csv", "w") as f:
    f.write(",".join(COLUMNS) + "\n")
    for s in samples:
        f.write(",".join(str(s[c]) for c in COLUMNS) + "\n")
svg(samples, OUT / "soak.svg")


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def window(lo, hi, key="rss_mib"):
    return [s[key] for s in samples if lo * 60 <= s["t_s"] < hi * 60]


def median(xs):
    xs = sorted(xs)
    return (xs[len(xs) // 2] + xs[(len(xs) - 1) // 2]) / 2 if xs else float("nan")


def slope(points):
    """Least-squares slope of (minute, value) points."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


lines = [f"Soak: {MINUTES:g} minutes, shipped pipelines at 10x the demo rates, maintenance every minute "
         f"(time travel 5 min), samples every 10 s.", "",
         "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
step = max(1, len(samples) // 30)
for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
    lines.append("| " + " | ".join(str(s[c]) for c in COLUMNS) + " |")
failures = []
lines.append("")
if MINUTES >= 20:
    # A single sample swings by ~100 MiB with the buffers of the compaction or flush under way
    # at that instant; the level is the median of each window (the means are printed too).
    early, late = median(window(5, 10)), median(window(MINUTES - 10, MINUTES + 1))
    drift = (late - early) / early * 100
    lines.append(f"- RSS: minutes 5-10 median {early:.0f} MiB (mean {mean(window(5, 10)):.0f}), last 10 minutes "
                 f"median {late:.0f} MiB (mean {mean(window(MINUTES - 10, MINUTES + 1)):.0f}): {drift:+.1f} % "
                 f"(target within 10 %); trend from minute 5 {slope([(s['t_s'] / 60, s['rss_mib']) for s in samples if s['t_s'] >= 300]):+.2f} MiB/min")
    lines.append(f"- heap in use (the allocator's count): minutes 5-10 median {median(window(5, 10, 'heap_in_use_mib')):.0f} MiB, "
                 f"last 10 minutes median {median(window(MINUTES - 10, MINUTES + 1, 'heap_in_use_mib')):.0f} MiB")
    lines.append("- RSS by kind of mapping, minutes 5-10 median → last 10 minutes median: " + ", ".join(
        f"{k} {median(window(5, 10, f'rss_{k}_mib')):.0f} → {median(window(MINUTES - 10, MINUTES + 1, f'rss_{k}_mib')):.0f} MiB"
        for k in ("wasm", "anon", "brk", "file")))
    if abs(drift) > 10:
        failures.append(f"RSS drifted {drift:+.1f} %")
else:
    lines.append("- RSS by kind of mapping, first sample → last: " + ", ".join(
        f"{k} {samples[0][f'rss_{k}_mib']:.0f} → {samples[-1][f'rss_{k}_mib']:.0f} MiB" for k in ("wasm", "anon", "brk", "file")))
    lines.append(f"- RSS: first half mean {mean(window(0, MINUTES / 2)):.0f} MiB, second half {mean(window(MINUTES / 2, MINUTES + 1)):.0f} MiB (the flatness target needs a run of 20 minutes or more)")
worst = max(last_files, key=last_files.get)
lines.append(f"- files per table at the end: largest {worst} = {last_files[worst]}; most over the run {max(s['files_max'] for s in samples)}")
lines.append(f"- log entries since the last checkpoint: at most {max(s['log_since_ckpt'] for s in samples)}")
p99 = sorted(s["commit_p99_ms"] for s in samples)
lines.append(f"- commit latency p99 (per 10 s sample): median {p99[len(p99) // 2]} ms, worst {p99[-1]} ms")
lines.append(f"- records/s: mean {mean([s['records_per_s'] for s in samples[1:]]):.0f}; consumer lag at the end {samples[-1]['lag']}")
if first_commit is None:
    failures.append("not every pipeline committed within 120 s of the restart")
    lines.append("- restart: not every pipeline committed within 120 s")
else:
    lines.append(f"- restart until every pipeline has committed: {first_commit:.2f} s (target <= 5 s; the first "
                 f"commit of any pipeline after {any_commit:.2f} s); every pipeline ready "
                 f"(tables, progress, state, unique keys) after {ready or float('nan'):.2f} s, first partition "
                 f"assigned by the consumer group after {assigned or float('nan'):.2f} s")
    if first_commit > 5:
        failures.append(f"restart took {first_commit:.2f} s until every pipeline committed")
for k in key_loads:
    lines.append("  - " + ANSI.sub("", k)[:200])
for table, (rows, dups, missing) in checks.items():
    lines.append(f"- {table}: {rows} rows, {dups} duplicated, {missing} missing Kafka offsets")
    if dups or missing:
        failures.append(f"{table}: {dups} duplicated, {missing} missing")
# The broker deleting records a pipeline had not read yet (retention) loses them before any
# table could; FinLake logs each skip as an ERROR.
skipped = sum((work / f).read_text(errors="replace").count("no longer holds records") for f in ["run.log", "restart.log"])
lines.append(f"- records skipped because the broker had deleted them before they were read: {skipped} skip(s)")
if skipped:
    failures.append(f"the consumer skipped deleted records {skipped} time(s)")
if samples[-1]["files_max"] > 400:
    failures.append(f"a table holds {samples[-1]['files_max']} files: compaction is not keeping up")
lines.append("")
lines.append("Result: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
(OUT / "soak.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines[len(samples[::step]) + 4:]))
print(f"table {OUT / 'soak.md'}, plot {OUT / 'soak.svg'}, samples {OUT / 'samples.csv'}")
sys.exit(1 if failures else 0)
