"""The checks' must-show figures on real public data (../shared/data), with the default recipe:

1. IMDB (5,000 test reviews, cleanlab's label-error study) as text_label: label_error precision,
   recall and F1 against the human-verified errors (`is_label_error_paper`).
2. LIMA (1,029 hand-curated examples): the share rejected, and what and why.
3. self-instruct `davinci-t0-ft` predictions: every empty response flagged.
4. LLaMA-Factory identity.json: every `{{name}}` / `{{author}}` flagged.
5. LLaMA-Factory KTO demo: ROC AUC of `quality` against the desirable/undesirable labels (no LLM).
6. MT-bench questions planted into the LLaMA-Factory alpaca demo, verbatim and lightly edited:
   the share flagged `contamination`, and false positives among the original records.

    .venv/bin/python benchmarks/checks_must_show.py [--data-dir ../shared/data] [--out bench-out/checks]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from curata.progress import make_reporter
from curata.runner import RunOptions, run


def curate(inputs: list[Path], out: Path) -> Path:
    with make_reporter(True) as reporter:
        run(RunOptions([str(p) for p in inputs], out), reporter)
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def findings_by_check(out: Path, check: str) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in read_jsonl(out / "findings.jsonl") if f["check"] == check}


def imdb_label_errors(data: Path, work: Path) -> dict[str, float]:
    rows = read_jsonl(data / "cleanlab_label_errors" / "imdb_test_subset_with_label_errors.jsonl")
    source = write_jsonl(
        work / "imdb.jsonl", [{"id": str(r["index"]), "text": r["text"], "label": r["label"]} for r in rows]
    )
    out = curate([source], work / "imdb")
    flagged = set(findings_by_check(out, "label_error"))
    errors = {str(r["index"]) for r in rows if r["is_label_error_paper"]}
    hits = len(flagged & errors)
    precision = hits / max(len(flagged), 1)
    recall = hits / len(errors)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    print(f"[1] IMDB label_error: {len(flagged)} flagged, {len(errors)} human-verified errors in {len(rows)}")
    print(f"    precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  (target F1 >= 0.5)")
    return {"precision": precision, "recall": recall, "f1": f1}


def lima_rejections(data: Path, work: Path) -> float:
    out = curate([data / "lima" / "lima.json"], work / "lima")
    summary = json.loads((out / "summary.json").read_text())
    totals = summary["totals"]
    share = totals["rejected"] / totals["records"]
    print(f"[2] LIMA: {totals['rejected']} of {totals['records']} rejected ({share:.2%}; target < 3%)")
    messages = {(f["id"], f["check"]): f["message"] for f in read_jsonl(out / "findings.jsonl")}
    for entry in read_jsonl(out / "rejected.jsonl"):
        for reason in entry["reasons"]:
            print(f"    id {entry['id']}: {reason}: {messages.get((entry['id'], reason), '')[:110]}")
    return share


def self_instruct_empty(data: Path, work: Path) -> tuple[int, int]:
    rows = read_jsonl(data / "self_instruct" / "human_eval_predictions" / "davinci-t0-ft_predictions.jsonl")
    records = [
        {"id": str(i), "instruction": r["instruction"], "input": r.get("input", ""), "output": r["response"]}
        for i, r in enumerate(rows)
    ]
    out = curate([write_jsonl(work / "davinci-t0-ft.jsonl", records)], work / "self_instruct")
    empty = {r["id"] for r in records if not r["output"].strip()}
    flagged = set(findings_by_check(out, "empty_response"))
    print(f"[3] self-instruct davinci-t0-ft: {len(empty & flagged)} of {len(empty)} empty responses flagged")
    return len(empty & flagged), len(empty)


def identity_placeholders(data: Path, work: Path) -> tuple[int, int]:
    path = data / "llamafactory_demo" / "identity.json"
    rows = json.loads(path.read_text())
    out = curate([path], work / "identity")
    pattern = re.compile(r"\{\{(?:name|author)\}\}")
    with_vars = {str(i) for i, r in enumerate(rows) if any(pattern.search(str(v)) for v in r.values())}
    flagged = set(findings_by_check(out, "placeholder"))
    print(f"[4] identity.json: {len(with_vars & flagged)} of {len(with_vars)} records with {{{{name}}}}/"
          f"{{{{author}}}} flagged placeholder ({len(flagged - with_vars)} others flagged)")  # fmt: skip
    return len(with_vars & flagged), len(with_vars)


def kto_quality_auc(data: Path, work: Path) -> float:
    from sklearn.metrics import roc_auc_score

    path = data / "llamafactory_demo" / "kto_en_demo.json"
    rows = json.loads(path.read_text())
    out = curate([path], work / "kto")
    signals = pq.read_table(out / "signals.parquet", columns=["id", "quality"]).to_pydict()
    labels = np.array([bool(rows[int(i)]["label"]) for i in signals["id"]])
    auc = float(roc_auc_score(labels, np.asarray(signals["quality"], dtype=np.float64)))
    print(f"[5] KTO demo: ROC AUC of quality vs desirable/undesirable = {auc:.3f} (target >= 0.65, no LLM)")
    return auc


FILLERS = ("really", "please", "also", "quite", "some", "very", "then", "now")


def light_edit(text: str, rng: random.Random) -> str:
    """What a paraphrasing contributor does lightly: case and punctuation, a word changed, dropped or
    added for about one word in ten, and a polite prefix."""
    words = text.replace(",", "").rstrip(".?!").split()
    for _ in range(max(1, len(words) // 10)):
        i = rng.randrange(len(words))
        action = rng.choice(("drop", "insert", "replace"))
        if action == "drop" and len(words) > 4:
            del words[i]
        elif action == "insert":
            words.insert(i, rng.choice(FILLERS))
        else:
            words[i] = rng.choice(FILLERS)
    return "Hey, " + " ".join(words).lower() + " thanks!"


def planted_contamination(data: Path, work: Path) -> tuple[float, float, int]:
    alpaca = json.loads((data / "llamafactory_demo" / "alpaca_en_demo.json").read_text())
    questions = [
        json.loads(line) for line in (data / "fastchat_bench" / "mt_bench" / "question.jsonl").open()
    ]
    rng = random.Random(0)
    records = [{"id": f"alpaca-{i}", **r} for i, r in enumerate(alpaca)]
    for q in questions:
        first = q["turns"][0]
        records.append(
            {"id": f"verbatim-{q['question_id']}", "instruction": first, "input": "", "output": "..."}
        )
        records.append(
            {
                "id": f"edited-{q['question_id']}",
                "instruction": light_edit(first, rng),
                "input": "",
                "output": "...",
            }
        )
    rng.shuffle(records)
    out = curate([write_jsonl(work / "planted.jsonl", records)], work / "planted")
    flagged = set(findings_by_check(out, "contamination"))
    verbatim = sum(f"verbatim-{q['question_id']}" in flagged for q in questions) / len(questions)
    edited = sum(f"edited-{q['question_id']}" in flagged for q in questions) / len(questions)
    false_pos = sum(1 for rid in flagged if rid.startswith("alpaca-"))
    print(f"[6] MT-bench planted in alpaca demo ({len(alpaca)} records): verbatim {verbatim:.0%} flagged, "
          f"lightly edited {edited:.0%} flagged (targets 100% / >= 90%); "
          f"{false_pos} of the original records flagged")  # fmt: skip
    return verbatim, edited, false_pos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/checks"))
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        print(f"data directory not found: {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = {
        "imdb": imdb_label_errors(args.data_dir, args.out),
        "lima_rejected_share": lima_rejections(args.data_dir, args.out),
        "self_instruct_empty": self_instruct_empty(args.data_dir, args.out),
        "identity": identity_placeholders(args.data_dir, args.out),
        "kto_auc": kto_quality_auc(args.data_dir, args.out),
        "contamination": planted_contamination(args.data_dir, args.out),
    }
    print(f"total {time.perf_counter() - start:.0f}s")
    ok = (
        results["imdb"]["f1"] >= 0.5
        and results["lima_rejected_share"] < 0.03
        and results["self_instruct_empty"][0] == results["self_instruct_empty"][1]
        and results["identity"][0] == results["identity"][1]
        and results["kto_auc"] >= 0.65
        and results["contamination"][0] == 1.0
        and results["contamination"][1] >= 0.9
    )
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
