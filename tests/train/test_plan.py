"""`curata plan`: the rules, the memory arithmetic, the command, and the report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curata.errors import CurataError
from curata.train.hardware import GIB, estimate_memory, model_shape, parse_gpu, parse_model_size
from curata.train.plan import make_plan
from curata.train.stats import DataStats
from tests.conftest import Run, cli

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def stats(
    records: int, response_tokens: float = 80, labels: dict[str, int] | None = None, **extra: Any
) -> DataStats:
    return DataStats(
        records=records,
        records_in=records,
        prompt_tokens_mean=60,
        response_tokens_mean=response_tokens,
        prompt_tokens_p99=200,
        response_tokens_p99=3 * response_tokens,
        turns_mean=2,
        labels=labels or {},
        **extra,
    )


def rule(plan: Any, name: str) -> Any:
    return next(f for f in plan.findings if f.rule == name)


def test_full_finetuning_costs_16_bytes_per_parameter_before_activations() -> None:
    shape = model_shape(7e9)
    full = estimate_memory("full", shape, rank=16, seq=1024)
    assert (full.weights + full.gradients + full.optimizer) / 7e9 == pytest.approx(16)
    qlora = estimate_memory("qlora", shape, rank=16, seq=1024)
    lora = estimate_memory("lora", shape, rank=16, seq=1024)
    assert qlora.weights < 0.3 * lora.weights
    assert qlora.total < 24 * GIB < full.total


def test_7b_on_a_24gb_gpu_gets_lora_not_full() -> None:
    plan = make_plan(stats(3000), 7e9, parse_gpu("24GB"))
    assert plan.method == "lora"
    assert plan.fits == {"full": False, "lora": True, "qlora": True}
    assert plan.forgetting_risk["full"] == "high"
    assert (
        plan.settings.target_modules == "all-linear" and plan.settings.lora_alpha == 2 * plan.settings.lora_r
    )


def test_qlora_when_only_4bit_weights_fit() -> None:
    plan = make_plan(stats(3000), 13e9, parse_gpu("16GB"))
    assert plan.method == "qlora"
    assert "4-bit" in rule(plan, "method").detail


def test_a_large_dataset_on_a_large_gpu_gets_full_finetuning() -> None:
    plan = make_plan(stats(200_000), 1e9, parse_gpu("80GB"))
    assert plan.method == "full"
    assert plan.settings.learning_rate is not None and plan.settings.learning_rate <= 2e-5
    assert plan.settings.epochs == 1


def test_no_gpu_rules_out_qlora_and_large_models() -> None:
    plan = make_plan(stats(3000), 7e9, parse_gpu("cpu"))
    assert plan.fits["qlora"] is False and plan.fits["lora"] is False
    assert "no GPU" in rule(plan, "method").detail
    small = make_plan(stats(3000), 135e6, parse_gpu("cpu"))
    assert small.fits["lora"] is True and small.method == "lora"


@pytest.mark.parametrize(
    ("records", "response_tokens", "verdict"),
    [
        (20, 80, "not enough"),
        (400, 80, "marginal"),
        (1500, 80, "enough"),
        (1500, 600, "marginal"),
        (7000, 600, "enough"),
    ],
)
def test_enough_data_depends_on_task_difficulty(records: int, response_tokens: float, verdict: str) -> None:
    plan = make_plan(stats(records, response_tokens), 7e9, parse_gpu("24GB"))
    assert plan.enough_data == verdict
    assert rule(plan, "data-size").verdict == verdict


def test_imbalanced_classes_and_low_diversity_are_named() -> None:
    data = stats(
        2000,
        labels={"a": 1900, "b": 100},
        formats={"text_label": 2000},
        diversity={"cluster_entropy_normalised": 0.3},
        topic_clusters=5,
    )
    plan = make_plan(data, 1e9, parse_gpu("24GB"))
    assert plan.task.kind == "classification"
    assert rule(plan, "class-balance").verdict == "imbalanced"
    assert rule(plan, "diversity").verdict == "low"


def test_bad_sizes_are_clear_errors() -> None:
    assert parse_model_size("1.5B") == 1.5e9 and parse_model_size("135m") == 135e6
    assert parse_gpu("2x80GB").gpus == 2
    with pytest.raises(CurataError, match="--model-size"):
        parse_model_size("big")
    with pytest.raises(CurataError, match="--gpu"):
        parse_gpu("lots")


def test_plan_command_reads_a_run_writes_plan_json_and_the_report_shows_it(run_curata: Any) -> None:
    run: Run = run_curata(REAL / "gsm_8k_train.json")
    assert "Fine-tuning advice" in (run.out / "report.html").read_text()
    result = cli(["plan", run.out, "--model-size", "7B", "--gpu", "24GB", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["recommendation"] == "lora"
    assert plan["stats"]["records"] == run.summary["totals"]["kept"]
    assert {r["rule"] for r in plan["rules"]} >= {"data-size", "method", "memory", "forgetting", "lora-rank"}
    saved = json.loads((run.out / "plan.json").read_text())
    assert saved["hardware"] == "24 GB GPU" and saved["run_fingerprint"]
    cli(["plan", run.out, "--model-size", "135M", "--gpu", "cpu", "--json"])
    # Building the run again (it resumes) puts the saved plan in the report.
    again = cli(["run", REAL / "gsm_8k_train.json", "-o", run.out, "--quiet"])
    assert again.exit_code == 0
    page = (run.out / "report.html").read_text()
    assert "made by curata plan for this run" in page and "CPU (no GPU)" in page


def test_plan_on_a_missing_run_is_one_line(tmp_path: Path) -> None:
    result = cli(["plan", tmp_path / "nope"])
    assert result.exit_code == 1
    assert "summary.json is missing" in result.output
