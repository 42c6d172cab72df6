"""Attacks: the memory attacks of issue 8 (finding 2) replayed at full size against real
``smartlic authority serve`` and ``smartlic collector serve`` processes on 127.0.0.1; prints
each server's peak memory (VmHWM) against its idle memory. Not a test: tests/test_attacks.py
asserts the refusals; this measures what they cost.

    python bench/attack.py              # the sizes of the report
    python bench/attack.py --quick      # small payloads: a smoke run
    python bench/attack.py --write-docs # also replace the table in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_facts, update_docs_section, warn_if_busy, write_results
from bench._tables import console_table, markdown_table
from tests.attacks import MiB, gzip_bomb, peak_mb, rss_mb, send_chunked
from tests.collector.procs import DOMAIN, VA, CollectorProc, Stack

REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
PI_REPORTUSAGE = "/cslu/v1/pi/v2/devices/reportusage"
USAGE_FILES = f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}/usage-files"
FLOOD = b"{}," * 21_846  # 64 KiB per chunk
HEADERS = ["Attack", "Server", "Answer", "Sent", "Idle RSS", "Peak RSS (VmHWM)", "Target"]


def _attacks(stack: Stack, collector: CollectorProc, quick: bool) -> list[dict[str, Any]]:
    import httpx

    scale = 1 / 20 if quick else 1
    flood, big_flood = int(60 * MiB * scale), int(300 * MiB * scale)
    bomb = gzip_bomb(int(1600 * MiB * scale))
    key = {"Authorization": f"Bearer {stack.api_key}"}
    token = {"Authorization": f"Bearer {collector.rest_token}"}
    pi = collector.pi.removesuffix("/cslu/v1/pi")

    def chunked(url: str, path: str, total: int) -> tuple[str, int]:
        sent, status, body = send_chunked(url, path, FLOOD, total)
        return _answer(status, body), sent

    def upload() -> tuple[str, int]:
        files = {"file": ("UD_SA_bomb.tar.gz", bomb, "application/gzip")}
        answer = httpx.post(stack.authority_url + USAGE_FILES, files=files, headers=key, timeout=60)
        return _answer(answer.status_code, answer.json()), len(bomb)

    def import_bomb() -> tuple[str, int]:
        answer = httpx.post(
            f"{collector.api}/api/v1/import", content=bomb, headers=token, timeout=60
        )
        return _answer(answer.status_code, answer.json()), len(bomb)

    plan: list[tuple[str, str, Callable[[], tuple[str, int]]]] = [
        (f"{flood // MiB} MiB of `{{}},` to reportusage, chunked, no key", "authority",
         lambda: chunked(stack.authority_url, REPORTUSAGE, flood)),
        (f"{len(bomb) / 1e6:.2f} MB gzip bomb usage archive (VA writer)", "authority", upload),
        (f"{big_flood // MiB} MiB chunked to reportusage on 8182", "collector",
         lambda: chunked(pi, PI_REPORTUSAGE, big_flood)),
        (f"{len(bomb) / 1e6:.2f} MB gzip bomb to `/api/v1/import` on 8180", "collector",
         import_bomb),
    ]  # fmt: skip
    pids = {"authority": _pid(stack, 0), "collector": _pid(stack, -1)}
    idle = {name: rss_mb(pid) for name, pid in pids.items()}
    out = []
    for label, server, attack in plan:
        answer, sent = attack()
        time.sleep(0.5)
        out.append({"attack": label, "server": server, "answer": answer, "sent_bytes": sent,
                    "idle_rss_mb": idle[server], "peak_rss_mb": peak_mb(pids[server])})  # fmt: skip
    return out


def _answer(status: int, body: Any) -> str:
    """``413 payload-too-large``: the status and the refusal's code (either error shape)."""
    code = body.get("code") if isinstance(body, dict) else None
    return f"{status} {code}" if code else str(status)


def _pid(stack: Stack, index: int) -> int:
    proc = stack.procs[index].proc
    assert proc is not None
    return proc.pid


def run(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-attack-") as tmp:
        stack = Stack(Path(tmp))
        try:
            stack.start_authority()
            env = stack.collector_env(LOG_LEVEL="warning")
            stack.init_collector(env, offline=True)
            return _attacks(stack, stack.start_collector(env), quick)
        finally:
            stack.stop()


def rows(results: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [r["attack"], r["server"], r["answer"], f"{r['sent_bytes'] / MiB:.1f} MiB",
         f"{r['idle_rss_mb']:.0f} MB", f"{r['peak_rss_mb']:.0f} MB", "< 300 MB"]
        for r in results
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/20 of the sizes: a smoke run")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    warn_if_busy()
    facts = machine_facts()
    results = run(args.quick)
    facts["loadavg_after"] = machine_facts()["loadavg_before"]
    title = "Attacks: peak memory of each server (VmHWM) against its idle memory"
    console_table(title, HEADERS, rows(results), facts)
    path = write_results("attack", {"machine": facts, "quick": args.quick, "results": results})
    print(f"wrote {path}")
    markdown = markdown_table([], HEADERS, rows(results), facts)
    if args.write_docs and not update_docs_section("attack", markdown):
        print("docs/benchmarks.md has no attack markers; add the Attacks section first")
    refused = all(r["answer"].startswith("413") for r in results)
    return 0 if refused and all(r["peak_rss_mb"] < 300 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
