"""`policy-assistant bench --reliability`: run every probe and scenario against real servers, write the figures.

Writes bench/report/reliability.json and reliability.md. `--against DIR` runs the servers from another source tree
(e.g. an export of an older commit) so the same probes measure "before"; `--before FILE` adds that run's figures
as a column beside this one.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from policy_assistant.reliability import probes, scenarios
from ui import harness

RATE = 30  # requests a minute for the rate-limit probes


def _timed(log: Callable[[str], None], name: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    log(f"· {name} …")
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - one failed probe is a finding, not the end of the report
        result = {"probe_failed": f"{type(exc).__name__}: {str(exc)[:300]}"}
    log(f"  {name}: {json.dumps(result, ensure_ascii=False)[:300]} ({time.perf_counter() - started:.0f} s)")
    return result


def run(*, code_dir: Path | None = None, quick: bool = False, workdir: Path | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    work = Path(workdir or tempfile.mkdtemp(prefix="pa-reliability-"))
    # the index is built by the code under test, so `index build` in the corruption scenarios compares like with like
    shared = harness.shared_index(work / "shared", env=scenarios.code_env(code_dir) or None)
    runner = scenarios.Runner(shared, work / "runs", code_dir)
    out: dict[str, Any] = {"code_dir": str(code_dir) if code_dir else "this tree", "quick": quick,
                           "started_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    open_env = {"POLICY_RATE_LIMIT_PER_MINUTE": "0"}

    server = runner.start(runner.data_dir("garbage"), open_env)
    try:
        url = server.url
        out["bad_input"] = _timed(log, "bad-input corpus", lambda: probes.bad_input_corpus(url))
        out["calculator_fuzz"] = _timed(log, "calculator fuzz", lambda: probes.calculator_fuzz(
            url, values=probes.FUZZ_VALUES[:6] if quick else probes.FUZZ_VALUES))
        out["surrogate"] = _timed(log, "surrogate hang", lambda: probes.surrogate_hang(url, n=10 if quick else 30))
    finally:
        server.stop()

    server = runner.start(runner.data_dir("open"), open_env)
    try:
        url = server.url
        out["v1_cross_session"] = _timed(log, "v1 cross-session", lambda: probes.v1_cross_session(url, 3 if quick else 10))
        out["client_ids"] = _timed(log, "client-chosen ids", lambda: probes.client_chosen_ids(url))
        out["gradio_echo"] = _timed(log, "gradio history echo", lambda: probes.gradio_history_echo(url))
        out["upload"] = _timed(log, "gradio upload", lambda: probes.upload_probe(url))
        out["body_limit"] = _timed(log, "body limit", lambda: probes.body_limit(url))
        out["cors"] = _timed(log, "CORS", lambda: probes.cors_leaks(url))
        out["headers"] = _timed(log, "security headers", lambda: probes.security_headers(url))
        out["chinese_errors"] = _timed(log, "Chinese errors", lambda: probes.chinese_errors_everywhere(url))
        out["load"] = _timed(log, "load", lambda: probes.distinct_load(
            url, total=200 if quick else 1000, concurrency=20 if quick else 100))
        out["soak"] = _timed(log, "soak", lambda: probes.soak(url, server.proc.pid, rounds=2 if quick else 4,
                                                             per_round=100 if quick else 400))
    finally:
        server.stop()

    server = runner.start(runner.data_dir("limited"), {"POLICY_RATE_LIMIT_PER_MINUTE": str(RATE)})
    try:
        out["rate_limit"] = _timed(log, "rate limit per route", lambda: probes.rate_limit_routes(server.url, RATE))
        out["xff"] = _timed(log, "X-Forwarded-For", lambda: probes.xff_bypass(server.url, RATE))
    finally:
        server.stop()

    server = runner.start(runner.data_dir("keyed"), {"POLICY_API_KEY_ENV": "PA_RELIABILITY_KEY",
                                                     "PA_RELIABILITY_KEY": "reliability-secret", **open_env})
    try:
        out["api_key"] = _timed(log, "API key on every route", lambda: probes.unauthenticated_routes(server.url))
    finally:
        server.stop()

    server = runner.start(runner.data_dir("slow"), open_env)
    try:
        out["slow_clients"] = _timed(log, "slow clients", lambda: probes.slow_clients(
            server.url, connections=50 if quick else 300, wait_s=15 if quick else 60))
    finally:
        server.stop()

    out["key_fail_closed"] = _timed(log, "unset key variable", lambda: scenarios.key_fail_closed(runner))
    out["kill9"] = _timed(log, "kill -9", lambda: scenarios.kill9(runner, conversations=10 if quick else 40))
    out["storage"] = _timed(log, "one-off storage", lambda: scenarios.one_off_storage(runner, n=10 if quick else 30))
    out["restore"] = _timed(log, "restore storm", lambda: scenarios.restore_storm(
        runner, sessions=8 if quick else 30, turns=6 if quick else 12, probes_n=10 if quick else 30))
    out["corruption"] = {kind: _timed(log, f"corrupt {kind}", lambda kind=kind: scenarios.index_corruption(runner, kind))
                         for kind in (("chroma", "manifest") if quick else scenarios.CORRUPTIONS)}
    out["force_build"] = _timed(log, "build --force over corruption", lambda: scenarios.force_build_over_corruption(runner))
    out["sqlite"] = {kind: _timed(log, f"sqlite {kind}", lambda kind=kind: scenarios.sqlite_damage(runner, kind))
                     for kind in ("zero", "truncated")}
    out["hot_swap"] = _timed(log, "new build without restart", lambda: scenarios.new_build_without_restart(runner))
    out["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return out


# --- the figures table ----------------------------------------------------------------------------------------------
def _get(data: dict[str, Any] | None, path: str) -> Any:
    cur: Any = data
    for key in path.split("."):
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def figures(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) rows: the issue's targets first."""
    corruption = data.get("corruption") or {}
    sqlite = data.get("sqlite") or {}
    rows: list[tuple[str, Any]] = [
        ("bad-input corpus: inputs", _get(data, "bad_input.inputs")),
        ("bad-input corpus: hangs", _get(data, "bad_input.hangs")),
        ("bad-input corpus: 5xx", _get(data, "bad_input.server_errors")),
        ("bad-input corpus: refusals without a Chinese message", _get(data, "bad_input.not_chinese")),
        ("bad-input corpus: healthy afterwards", _get(data, "bad_input.healthy_after")),
        ("calculator fuzz: requests", _get(data, "calculator_fuzz.requests")),
        ("calculator fuzz: 5xx", _get(data, "calculator_fuzz.server_errors")),
        ("calculator fuzz: positive amounts from garbage", _get(data, "calculator_fuzz.garbage_amounts")),
        ("lone surrogate: requests with no response", _get(data, "surrogate.hangs")),
        ("lone surrogate in /api/chat: status", _get(data, "surrogate.chat_status")),
        ("routes answering without a key (key set)", _get(data, "api_key.unauthenticated")),
        ("route families over the rate budget", _get(data, "rate_limit.routes_over_budget")),
        ("requests over budget with rotating X-Forwarded-For", _get(data, "xff.over_budget")),
        ("POST routes accepting a 200 KB body", _get(data, "body_limit.accepted")),
        ("Gradio: ~1 MB history, bytes sent back", _get(data, "gradio_echo.returned_bytes")),
        ("Gradio upload stored", _get(data, "upload.stored")),
        ("/v1 cross-session writes", _get(data, "v1_cross_session.cross_session_writes")),
        ("client-chosen session id accepted", _get(data, "client_ids.accepted")),
        ("CORS leaks to a disallowed origin", _get(data, "cors.leaks")),
        ("missing security headers", _get(data, "headers.missing")),
        ("errors without a Chinese message (Gradio, malformed)", _get(data, "chinese_errors.not_chinese")),
        ("slow clients held after the wait", _get(data, "slow_clients.held")),
        ("slow clients: wait (s)", _get(data, "slow_clients.waited_s")),
        ("load: requests / concurrency", f"{_get(data, 'load.requests')} / {_get(data, 'load.concurrency')}"),
        ("load: errors", _get(data, "load.errors")),
        ("load: p50 / p95 ms", f"{_get(data, 'load.p50_ms')} / {_get(data, 'load.p95_ms')}"),
        ("soak: RSS growth after first round (MB)", _get(data, "soak.growth_mb_after_first_round")),
        ("kill -9: acknowledged turns / lost", f"{_get(data, 'kill9.acknowledged')} / {_get(data, 'kill9.lost')}"),
        ("one-off chats stored on disk (turns)", f"{_get(data, 'storage.stored_turns')} of "
                                                 f"{_get(data, 'storage.one_off_chats')}"),
        ("restore storm: unrelated p50 / p95 ms", f"{_get(data, 'restore.unrelated.p50_ms')} / "
                                                  f"{_get(data, 'restore.unrelated.p95_ms')}"),
        ("unset key variable: server starts open", _get(data, "key_fail_closed.open")),
    ]
    for kind, res in corruption.items():
        if not isinstance(res, dict):
            continue
        rows.append((f"corrupt {kind}: /healthz 200 while search fails", res.get("healthz_ok_while_broken")))
        rows.append((f"corrupt {kind}: search status", res.get("search")))
        rows.append((f"corrupt {kind}: chat needing the index: status", res.get("chat_search")))
        rows.append((f"corrupt {kind}: index build says up to date", res.get("build_said_up_to_date")))
        rows.append((f"corrupt {kind}: search after index build (no restart)", res.get("search_after_build")))
    for name in ("corrupt_manifest", "corrupt_vector_cache"):
        rows.append((f"build --force over {name.replace('_', ' ')}: traceback",
                     _get(data, f"force_build.{name}.traceback")))
    for kind, res in sqlite.items():
        if isinstance(res, dict):
            rows.append((f"SQLite {kind}: starts / damaged file kept aside",
                         f"{res.get('started')} / {res.get('kept_aside')}"))
    rows.append(("new index build picked up without restart", _get(data, "hot_swap.picked_up")))
    return rows


def render_markdown(after: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    lines = ["# 可靠性与安全报告（policy-assistant bench --reliability）", "",
             f"本次：{after.get('code_dir')}，{after.get('started_at')} – {after.get('finished_at')}"
             + ("（快速模式）" if after.get("quick") else ""), ""]
    if before:
        lines += [f"对照：{before.get('code_dir')}，{before.get('started_at')}", "",
                  "| figure | before | after |", "|---|---:|---:|"]
        old = dict(figures(before))
        for label, value in figures(after):
            lines.append(f"| {label} | {old.get(label)} | {value} |")
    else:
        lines += ["| figure | value |", "|---|---:|"]
        lines += [f"| {label} | {value} |" for label, value in figures(after)]
    return "\n".join(lines) + "\n"


def write(out_dir: Path, data: dict[str, Any], before: dict[str, Any] | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reliability.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    md = out_dir / "reliability.md"
    md.write_text(render_markdown(data, before), encoding="utf-8")
    return md
