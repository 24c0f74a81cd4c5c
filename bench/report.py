"""bench/results.md from the report dictionary bench/run.py builds (the same data as results.json)."""

from __future__ import annotations

from typing import Any

from bench import cpu


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _latency_rows(label: str, latency: dict[str, Any]) -> list[str]:
    return [
        f"| {label} | {request} | {p['n']} | {fmt(p['p50'])} | {fmt(p['p95'])} | {fmt(p['p99'])} |"
        for request, p in latency.items()
    ]


def _throughput(levels: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| clients | lifecycles | failed | seconds | lifecycles/s | median lifecycle (s) | reviewer steps/s "
        "| HTTP requests/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        lines.append(
            f"| {level['clients']} | {level['lifecycles']} | {len(level['failures'])} | "
            f"{level['seconds']:.1f} | {level['lifecycles_per_second']:.3f} | "
            f"{fmt(level['lifecycle_seconds_median'])} | {level['human_steps_per_second']:.2f} | "
            f"{level['requests_per_second']:.1f} |"
        )
    return lines


def _cpu(closed: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """CPU seconds per lifecycle by process group at each closed-loop level (bench/cpu.py)."""
    measured = [(kind, level) for kind, level in closed if level.get("cpu")]
    if not measured:
        return []
    groups: list[str] = []
    for _, level in measured:
        groups += [g for g in level["cpu"]["seconds_per_lifecycle"] if g not in groups]
    lines = [
        "",
        "### Where the CPU went during those closed-loop runs (CPU seconds per lifecycle, all cores)",
        "",
        "| process group | " + " | ".join(f"{kind}, {level['clients']} clients" for kind, level in measured) + " |",
        "|---|" + "---:|" * len(measured),
    ]
    for group in groups:
        cells = [fmt(level["cpu"]["seconds_per_lifecycle"].get(group), 3) for _, level in measured]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append(
        "| other (the rest of the machine, the kernel) | "
        + " | ".join(fmt(level["cpu"]["unaccounted_seconds_per_lifecycle"], 3) for _, level in measured)
        + " |"
    )
    lines.append(
        "| **the machine busy (share of all cores)** | "
        + " | ".join(
            f"{level['cpu']['busy_seconds_per_lifecycle']:.3f} ({level['cpu']['busy_share']:.0%})"
            for _, level in measured
        )
        + " |"
    )
    return lines


def _write_locks(closed: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """SQLite's write lock per database at each closed-loop level (bench/locks.py); nothing on PostgreSQL."""
    measured = [(kind, level) for kind, level in closed if level.get("write_locks")]
    if not measured:
        return []
    lines = [
        "",
        "### SQLite's write locks during those closed-loop runs (one writer at a time per database file)",
        "",
        "| run | database | write transactions a lifecycle | held a lifecycle (ms) | mean hold (ms) "
        "| share of the run held | waited a lifecycle (ms) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind, level in measured:
        for database, f in sorted(level["write_locks"].items(), key=lambda item: -item[1]["held_share"]):
            lines.append(
                f"| {kind}, {level['clients']} clients | {database} | {f['transactions_per_lifecycle']:.1f} "
                f"| {f['held_ms_per_lifecycle']:.0f} | {f['mean_hold_ms']:.1f} | {f['held_share']:.0%} "
                f"| {f['waited_ms_per_lifecycle']:.0f} |"
            )
    return lines


def _cpu_by_kind(level: dict[str, Any]) -> list[tuple[str, float]]:
    """A lifecycle's CPU (ms) by kind of work, the process groups (bench/cpu.py) split by the threads'
    clocks (bench/work_cpu.py); the rows add up to the machine's busy time."""
    groups = {g: s * 1000 for g, s in level["cpu"]["seconds_per_lifecycle"].items()}
    rows = level["work_cpu"]

    def total(kind: str, suffix: str = "") -> float:
        return sum(r["ms_per_lifecycle"] for r in rows if r["kind"] == kind and r["name"].endswith(suffix))

    requests, deliveries = total("http"), total("message")
    http = sum(groups.pop(g, 0.0) for g in (cpu.REVIEW_HTTP, cpu.OTHER_HTTP))
    work = groups.pop(cpu.WORK, 0.0)
    loops = {
        "outbox relays": total("thread", "-relay"),
        "the review's timer scheduler": total("thread", "-scheduler"),
        "the notify dispatcher": total("thread", "-dispatcher"),
        "the consumers' own loops (the transport between deliveries)": max(
            total("thread", "-consumer") - deliveries, 0.0
        ),
    }
    found = [
        ("HTTP requests in the apps (Flask's first hook to the answer)", requests),
        (
            "the HTTP servers around the apps (gunicorn, the WSGI layers, routing)",
            max(http - requests, 0.0),
        ),
        ("deliveries (from arrival to ack)", deliveries),
        *((f"`titles work`: {name}", ms) for name, ms in loops.items()),
        ("`titles work`: the rest (its main thread)", max(work - deliveries - sum(loops.values()), 0.0)),
        *((group, ms) for group, ms in groups.items() if ms > 0),
        ("other (the rest of the machine, the kernel)", level["cpu"]["unaccounted_seconds_per_lifecycle"] * 1000),
    ]
    return found


def _work_cpu(closed: list[tuple[str, dict[str, Any]]], top: int = 20) -> list[str]:
    """CPU a lifecycle by piece of work at each closed-loop level, on the clock of the thread that did it
    (bench/work_cpu.py): the costliest requests and deliveries, then the background threads whole."""
    measured = [(kind, level) for kind, level in closed if level.get("work_cpu")]
    lines: list[str] = []
    for kind, level in measured:
        rows = level["work_cpu"]
        work = [r for r in rows if r["kind"] != "thread"]
        threads = [r for r in rows if r["kind"] == "thread"]
        if level.get("cpu"):
            busy = level["cpu"]["busy_seconds_per_lifecycle"] * 1000
            lines += [
                "",
                f"### Where a lifecycle's CPU went, by kind of work ({kind}, {level['clients']} clients)",
                "",
                "| work | CPU ms a lifecycle | share |",
                "|---|---:|---:|",
            ]
            lines += [f"| {what} | {ms:.1f} | {ms / busy:.0%} |" for what, ms in _cpu_by_kind(level) if busy > 0]
            lines.append(f"| **the machine busy** | {busy:.1f} | |")
        lines += [
            "",
            f"### What each request and delivery cost ({kind}, {level['clients']} clients; CPU of the thread that "
            "did it)",
            "",
            "| what | service | a lifecycle | CPU ms a lifecycle | ms each |",
            "|---|---|---:|---:|---:|",
        ]
        for row in work[:top]:
            what = f"`{row['name']}`" if row["kind"] == "http" else f"delivery to `{row['name']}`"
            lines.append(
                f"| {what} | {row['service']} | {fmt(row['per_lifecycle'])} | {row['ms_per_lifecycle']:.1f} "
                f"| {fmt(row['ms_each'], 2)} |"
            )
        rest = work[top:]
        if rest:
            lines.append(f"| {len(rest)} others | | | {sum(r['ms_per_lifecycle'] for r in rest):.1f} | |")
        for label, of in (
            ("all HTTP requests (Flask's first hook to the answer)", "http"),
            ("all deliveries", "message"),
        ):
            lines.append(f"| **{label}** | | | {sum(r['ms_per_lifecycle'] for r in work if r['kind'] == of):.1f} | |")
        if threads:
            lines += [
                "",
                "`titles work`'s threads whole (their deliveries, transport and idle polling):",
                "",
                "| thread | CPU ms a lifecycle |",
                "|---|---:|",
            ]
            lines += [f"| {row['name']} | {row['ms_per_lifecycle']:.1f} |" for row in threads]
    return lines


def _loop_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| returns | load (ms) | of which deserialise | save (ms) | of which serialise | state (KiB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['loops']} | {row['load_ms']:.2f} | {fmt(row.get('deserialise_ms'), 2)} | "
            f"{row['save_ms']:.2f} | {fmt(row.get('serialise_ms'), 2)} | {row['state_bytes'] / 1024:.1f} |"
        )
    return lines


def _returns(engine: dict[str, Any]) -> list[str]:
    """Instance load and save after N returns: the real social review, then the small loop diagram."""
    lines = ["", "### Instance load and save after returns for revision", ""]
    real = engine.get("returns")
    if real:
        content = (
            f"the resubmitted declaration's content is {real['content_bytes'] / 1024:.1f} KiB of JSON"
            if real.get("content_bytes")
            else "the resubmission carries no declaration content"
        )
        lines += [
            f"The real social review, {real['diagram']}, deployed, parsed, run and serialised as the "
            f"review service does, returned to the applicant at the unit check and resubmitted "
            f"(`declaration.resubmitted`) N times ({real['data']}; {content}); then its stored state, on "
            "a scratch database of the backend: median of 30 (after one untimed round) to load it "
            "(fetch + deserialise) and to save it (serialise + UPDATE + commit), and its size.",
            "",
        ]
        lines += _loop_rows(real["rows"])
        lines += [
            "",
            "For comparison with earlier reports, the small hand-written check → return → amend "
            "loop diagram (bench/review_engine.py) after N returns, the same figures:",
            "",
        ]
    else:
        lines += [
            "A check → return → amend → check loop diagram (bench/review_engine.py) after N returns: median "
            "time to load the instance (fetch + deserialise) and to save it (serialise + UPDATE + commit), "
            "and its stored state, on the backend's database.",
            "",
        ]
    return lines + _loop_rows(engine["loops"])


def _memory(memory: dict[str, Any]) -> list[str]:
    """``make run``: processes, memory, at each moment measured, and the largest processes at the end."""
    if not memory:
        return []
    lines = [
        "",
        "## `make run`: processes, memory",
        "",
        "Every process of the tree under `titles run` (bench/memory.py). RSS counts a shared page once per "
        "process that maps it (as `ps` does); PSS shares it out, so its sum is what the tree costs.",
        "",
        "| when | processes | RSS (MiB) | PSS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    for when, m in memory.items():
        lines.append(f"| {when} | {m['processes']} | {m['rss_mib']:.0f} | {m['pss_mib']:.0f} |")
    last = list(memory.values())[-1]
    lines += ["", "| process (at the end) | RSS (MiB) | PSS (MiB) |", "|---|---:|---:|"]
    lines += [f"| {p['name']} | {p['rss_mib']:.0f} | {p['pss_mib']:.0f} |" for p in last["each"]]
    return lines


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    load = " / ".join(f"{x:.2f}" for x in report["load_average_at_start"])
    load_end = " / ".join(f"{x:.2f}" for x in report.get("load_average_at_end") or ())
    lines = [
        "# Benchmark results",
        "",
        f"- date: {report['date']}",
        f"- backend: {report['backend']}",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, Python {m['python']}, "
        f"commit {m['commit']}",
        f"- command: `{report['command']}`; system ready after {fmt(report.get('ready_seconds'))} s; "
        f"scenario polling interval {report['poll_seconds']} s; whole run {fmt(report.get('minutes'))} min",
        f"- load average (1/5/15 min) at start {load}, at end {load_end}: the bench's own processes and "
        "whatever else ran on the machine; figures taken beside other work are lower than on an idle machine",
        "",
        "What each figure means: bench/README.md.",
    ]
    if report.get("social") or report.get("appointment"):
        lines += ["", "## End-to-end throughput (closed loop: each client starts its next lifecycle when one ends)"]
    if report.get("social"):
        lines += [
            "",
            "### Social review (社会化评审)",
            "",
            "A lifecycle: a fresh applicant's profile filled, declaration drafted, filled and submitted, every "
            "review step completed by the demo reviewers over HTTP (unit check, recommendation, unit publicity, "
            "recommendation upward, two department levels, committee acceptance, defence, attendance, three "
            "expert votes, result publicity, report, filing), both publicities fast-forwarded by the test "
            "clock, certificate issued, the applicant's notification stored.",
            "",
        ]
        lines += _throughput(report["social"])
    if report.get("appointment"):
        lines += [
            "",
            "### Independent appointment (自主聘任)",
            "",
            "A lifecycle: a fresh applicant's profile filled (with the 助理工程师 certificate the 工程师 rule "
            "counts from), an appointment request (工程 中级 工程师, no review activity) submitted, the unit "
            "agrees to appoint, two department levels check, the title office checks, certificate issued, "
            "the applicant's notification stored.",
            "",
        ]
        lines += _throughput(report["appointment"])
    closed = [(kind, level) for kind in ("social", "appointment") for level in report.get(kind, [])]
    if closed:
        lines += [
            "",
            "### Latency during those closed-loop runs (ms; includes the saturated levels)",
            "",
            "| run | request | n | p50 | p95 | p99 |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for kind, level in closed:
            lines += _latency_rows(f"{kind}, {level['clients']} clients", level["latency_ms"])
        lines += _cpu(closed)
        lines += _write_locks(closed)
        lines += _work_cpu(closed)
    if report.get("openloop"):
        o = report["openloop"]
        lines += [
            "",
            "## Latency at a fixed rate below saturation (open loop)",
            "",
            f"Social-review lifecycles started every {1 / o['lifecycles_per_second_offered']:.2f} s "
            f"(**{o['lifecycles_per_second_offered']:.3f} lifecycles/s**, {o['fraction']:.0%} of the "
            f"capacity {o['capacity']:.3f}/s measured above) for {o['arrival_seconds']:.0f} s, whether or "
            f"not earlier ones had finished: {o['arrivals']} started, {o['lifecycles']} completed, "
            f"{len(o['failures'])} failed, median lifecycle {fmt(o['lifecycle_seconds_median'])} s. "
            f"The clients' request rate: **{o['requests_per_second']:.1f} HTTP requests/s** in all "
            f"(including polling for asynchronous steps); of the three measured kinds "
            + ", ".join(f"{label} {rate:.2f}/s" for label, rate in o["measured_requests_per_second"].items())
            + ".",
            "",
            "| request | n | p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {request} | {p['n']} | {fmt(p['p50'])} | {fmt(p['p95'])} | {fmt(p['p99'])} |"
            for request, p in o["latency_ms"].items()
        ]
    if report.get("lag"):
        lines += [
            "",
            "## Event lag: outbox row to the consumer's commit (ms)",
            "",
            "From a message's outbox row (written in the producing transaction) to `inbox.committed_at` "
            "(stamped by the consumer just before its transaction commits), per handler that consumed it. "
            "The open-loop window is below saturation; the whole run includes the saturated closed-loop "
            "levels.",
            "",
            "| window | messages | deliveries | p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, key in (("open loop", "open_loop"), ("whole run", "whole_run")):
            lag = report["lag"][key]
            p = lag["all"]
            lines.append(
                f"| {label} | {lag['messages']} | {lag['deliveries']} | {fmt(p['p50'])} | "
                f"{fmt(p['p95'])} | {fmt(p['p99'])} |"
            )
        lines += [
            "",
            "By message type (open-loop window):",
            "",
            "| message type | deliveries | p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        for type_, p in report["lag"]["open_loop"]["by_type"].items():
            lines.append(f"| {type_} | {p['n']} | {fmt(p['p50'])} | {fmt(p['p95'])} | {fmt(p['p99'])} |")
    lines += _memory(report.get("memory") or {})
    engine = report.get("engine")
    if engine:
        c = engine["ceiling"]
        raw, ser = c["raw"], c["serialised"]
        lines += [
            "",
            "## The engine's ceiling, side by side",
            "",
            f"The same social-review lifecycle ({c['diagram']}, start data from {c['start_data']}): its "
            f"{raw['steps_per_lifecycle']:.0f} review steps (15 human steps and the certificate-issued "
            f"message) run by SpiffWorkflow in memory in the bench process, service tasks answered in memory:",
            "",
            f"- raw engine: **{raw['lifecycles_per_second']:.1f} lifecycles/s** "
            f"({raw['steps_per_second']:.0f} steps/s);",
            f"- the same with the instance state serialised and deserialised (JSON) at every step, as the "
            f"system does: {ser['lifecycles_per_second']:.1f} lifecycles/s ({ser['steps_per_second']:.0f} "
            f"steps/s);",
            f"- the review API in one process (Flask test client, token check, lock, load, run, project, "
            f"audit, save, commit; bench/review_engine.py's linear five-task diagram): "
            f"{engine['api_one_process']['task_completions_per_second']:.1f} task completions/s, "
            f"{engine['api_one_process'].get('statements_per_completion', float('nan')):.2f} SQL statements "
            f"per completion.",
            "",
        ]
        if report.get("social"):
            lines += [
                "| clients | system lifecycles/s | raw engine / system | serialising engine / system |",
                "|---:|---:|---:|---:|",
            ]
            for level in report["social"]:
                rate = level["lifecycles_per_second"]
                lines.append(
                    f"| {level['clients']} | {rate:.3f} | "
                    f"{fmt(raw['lifecycles_per_second'] / rate if rate else None, 0)}× | "
                    f"{fmt(ser['lifecycles_per_second'] / rate if rate else None, 0)}× |"
                )
        lines += _returns(engine)
    growth = report.get("growth")
    if growth:
        lines += [
            "",
            "## Growth: listings over HTTP with declarations bulk-loaded by SQL",
            "",
            growth["population"].replace("\n", " "),
            "",
            "| declarations | bulk load (s) | unit's open tasks | task-queue listing p50 / p95 / p99 (ms) | "
            "applicant's declarations | my declarations p50 / p95 / p99 (ms) |",
            "|---:|---:|---:|---|---:|---|",
        ]
        for row in growth["sizes"]:
            q, d = row["task_queue_ms"], row["my_declarations_ms"]
            lines.append(
                f"| {row['declarations']} | {row['load_seconds']:.1f} | {row['queue_open_tasks']} | "
                f"{fmt(q['p50'])} / {fmt(q['p95'])} / {fmt(q['p99'])} | {row['my_declarations']} | "
                f"{fmt(d['p50'])} / {fmt(d['p95'])} / {fmt(d['p99'])} |"
            )
        lines += ["", f"Query plans at {growth['sizes'][-1]['declarations']} declarations:", ""]
        for label, plan in growth["plans"].items():
            lines += [f"- {label}:", "", "```", plan, "```", ""]
    profile = report.get("profile")
    if profile:
        lines += [
            "",
            "## Where the review service's time goes (pyinstrument)",
            "",
            f"{profile['requests']} requests to a profiled review HTTP front during {profile['lifecycles']} "
            f"social-review lifecycles by {profile['clients']} clients; {profile['seconds']:.1f} s of "
            f"wall time sampled inside requests. Full tree: `{profile['text']}`.",
            "",
            "Endpoints, slowest in total first (mean time as profiled, one request at a time; SQL "
            "statements counted on the review database):",
            "",
            "| endpoint | requests | mean (ms) | SQL statements per request |",
            "|---|---:|---:|---:|",
        ]
        for row in profile.get("endpoints", [])[:12]:
            lines.append(
                f"| `{row['endpoint']}` | {row['requests']} | {row['mean_ms']:.1f} | {row['statements']:.1f} |"
            )
        lines += [
            "",
            "Cost centres (a centre takes everything below its function; the outermost centre on a "
            "stack wins; what none covers is split into SQL and the rest). **The three most expensive: "
            + "; ".join(
                [
                    f"{c['centre']} ({c['share']:.0%})"
                    for c in profile["centres"]
                    if not c["centre"].startswith("everything else")
                ][:3]
            )
            + ".**",
            "",
            "| cost centre | seconds | share |",
            "|---|---:|---:|",
        ]
        for row in profile["centres"]:
            lines.append(f"| {row['centre']} | {row['seconds']:.2f} | {row['share']:.0%} |")
        lines += [
            "",
            "Wall time by package (self time of its frames; C built-ins count for their caller):",
            "",
            "| package | seconds | share |",
            "|---|---:|---:|",
        ]
        for row in profile["by_package"]:
            lines.append(f"| {row['package']} | {row['seconds']:.2f} | {row['share']:.0%} |")
        lines += [
            "",
            "The project's functions by inclusive time:",
            "",
            "| function | seconds | share |",
            "|---|---:|---:|",
        ]
        for row in profile["project_functions"]:
            lines.append(f"| `{row['function']}` | {row['seconds']:.2f} | {row['share']:.0%} |")
    failures = [f for kind in ("social", "appointment") for level in report.get(kind, []) for f in level["failures"]]
    failures += report.get("openloop", {}).get("failures", []) + report.get("profile", {}).get("failures", [])
    retries = sum(
        level.get("connection_retries", 0) for kind in ("social", "appointment") for level in report.get(kind, [])
    ) + report.get("openloop", {}).get("connection_retries", 0)
    lines += [
        "",
        f"Requests sent again because the server had just closed the kept-alive connection the client "
        f"reused (they never reached a service): {retries}.",
    ]
    if failures or report.get("errors"):
        lines += ["", "## Failures", ""] + [f"- {f}" for f in (report.get("errors", []) + failures)[:20]]
    return "\n".join(lines) + "\n"
