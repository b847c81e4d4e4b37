#!/usr/bin/env python3
"""Renders smsauth-bench JSON files (`--json FILE`) as the Markdown tables of docs/benchmarks.md.

    python3 docs/bench/render.py docs/bench/sqlite-10k-c16.json [more.json ...]
"""

import json
import sys


def cell(v, fmt):
    return "–" if v is None else fmt.format(v)


def render(path):
    d = json.load(open(path))
    m = d["meta"]
    rss = " + ".join(f"{r:.1f}" for r in m["idle_rss_mb"])
    print(
        f"start-up to first answer {m['startup_ms']:.1f} ms (first start on an empty store "
        f"{m['first_start_ms']:.1f} ms), idle RSS {rss} MB, users {m['users']}, "
        f"old codes {m['old_codes']}, seeding {m['seed_s']:.1f} s, limits {m['limits']}"
    )
    print()
    store = any(r.get("store_cpu_ms_per_op") is not None for r in d["runs"])
    head = ["flow", "step", "c", "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "refused",
            "server CPU-ms/op"] + (["PG+Redis CPU-ms/op"] if store else []) + ["peak RSS MB"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in d["runs"]:
        row = [r["flow"], r["step"] or "(whole)", str(r["concurrency"]),
               f"{r['ops_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
               f"{r['max_ms']:.2f}", str(r["errors"]), str(r["refused"]),
               cell(r["server_cpu_ms_per_op"], "{:.3f}")]
        if store:
            row.append(cell(r.get("store_cpu_ms_per_op"), "{:.3f}"))
        row.append(cell(r["peak_rss_mb"], "{:.1f}"))
        print("| " + " | ".join(row) + " |")
    print()


for p in sys.argv[1:]:
    render(p)
