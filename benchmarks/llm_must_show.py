"""The LLM must-show figures against a real local HTTP server speaking the OpenAI protocol.

1. `curata judge score` over 1,000 records while the server answers 10% of first asks with
   nonsense, every 9th request with a 429 (Retry-After) and every 13th with a 500: share scored,
   requests sent, time; a rerun's requests; `--max-requests 100` and the requests it sent.
2. `curata run` with a judge stage over the same 1,000 records: `--dry-run` (requests at the
   server, the estimate), `--max-requests 100` (requests at the server, the run's summary), the
   same command again.
3. `curata judge calibrate` on the real KTO file (human desirable/undesirable labels) with a
   heuristic judge served by the same fake server (it scores role-play giggling and emoji-style
   answers low), printing the agreement figures.

    .venv/bin/python benchmarks/llm_must_show.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.llm.fake_server import Reply, fake_openai, last_user  # noqa: E402
from tests.llm.scripts import instruction_records, judge_script  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from curata.cli import app  # noqa: E402

SILLY = ("giggle", "ooh", "*", "hey there", "yay", "lol", "!!")


def cli(args: list[Any]) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def heuristic_judge(body: dict[str, Any], n: int) -> Reply:
    answer = last_user(body).split("### ASSISTANT\n")[-1].lower()
    score = 2 if any(w in answer for w in SILLY) else 4
    names = ("helpfulness", "correctness", "instruction_following", "clarity")
    return Reply(json.dumps(dict.fromkeys(names, score)))


def judge_run(work: Path) -> None:
    data = instruction_records(work / "data.jsonl", 1000)
    fast = ["--backoff-base", "0.001", "--concurrency", "16", "-q"]
    with fake_openai(judge_script()) as server:
        started = time.perf_counter()
        first = cli(["judge", "score", data, "-o", work / "v.jsonl", "--base-url", server.url, *fast])
        seconds = time.perf_counter() - started
        statuses = [s.status for s in server.seen]
        verdicts = [json.loads(line) for line in (work / "v.jsonl").read_text().splitlines()]
        scored = sum(v["status"] == "scored" for v in verdicts)
        kept_raw = sum(bool(v.get("judge_raw")) for v in verdicts if v["status"] != "scored")
        print(f"judge 1,000 records: {scored / 10:.1f}% scored, {1000 - scored} unscored with raw text kept "
              f"({kept_raw}); {len(statuses):,} requests ({statuses.count(429)} x 429, "
              f"{statuses.count(500)} x 500 retried); {seconds:.1f}s")  # fmt: skip
        print(first.output.strip())
        server.reset()
        cli(["judge", "score", data, "-o", work / "v2.jsonl", "--base-url", server.url, *fast])
        print(f"rerun: {server.count} requests sent")
        server.reset()
        capped = ["--max-requests", "100", "--cache", work / "fresh.sqlite"]
        cli(["judge", "score", data, "-o", work / "v3.jsonl", "--base-url", server.url, *capped, *fast])
        print(f"--max-requests 100: {server.count} requests sent")


def run_budget(work: Path) -> None:
    data = instruction_records(work / "data.jsonl", 1000)
    with fake_openai(judge_script()) as server:
        llm = {"base_url": server.url, "model": "gpt-4o-mini", "backoff_base": 0.001, "concurrency": 16}
        stages = ["normalize", "stats", "checks", {"judge": {"llm": llm}}, "quality", "decide"]
        recipe = work / "judge.yaml"
        recipe.write_text(json.dumps({"stages": stages}))
        out = work / "run-out"
        base = ["run", data, "-o", out, "--recipe", recipe, "-q"]
        dry = cli([*base, "--dry-run", "--max-requests", "100"])
        print(f"curata run --dry-run: {server.count} requests sent, {out.exists()=}")
        print(dry.output.strip())
        capped = cli([*base, "--max-requests", "100"])
        assert capped.exit_code == 0, capped.output
        judge = json.loads((out / "summary.json").read_text())["stage_summaries"]["judge"]
        llm = judge["llm"]
        print(f"curata run --max-requests 100: {server.count} requests at the server; judge stage: "
              f"{judge['scored']} scored, {judge['not_judged']} not judged, requests_sent "
              f"{llm['requests_sent']}, budget_exhausted {llm['budget_exhausted']}")  # fmt: skip
        server.reset()
        cli([*base, "--max-requests", "100"])
        print(f"the same command again: {server.count} requests sent")


def calibrate_run(kto: Path, work: Path) -> None:
    with fake_openai(heuristic_judge) as server:
        result = cli(["judge", "calibrate", kto, "--base-url", server.url, "-o", work / "cal.json", "-q"])
        print(f"calibrate {kto} ({server.count} requests):")
        print(result.output.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-local-fake-server")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        judge_run(work)
        run_budget(work)
        calibrate_run(args.data_dir / "llamafactory_demo" / "kto_en_demo.json", work)


if __name__ == "__main__":
    main()
