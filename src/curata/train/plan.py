"""`curata plan`: LoRA, QLoRA or full fine-tuning, with which settings, and is there enough data.

Each rule is a small function of the dataset statistics and the hardware that returns a finding;
the rules, their thresholds and their sources are listed in docs/plan.md. Every finding names the
rule that produced it, so the advice can be checked against its source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from curata.train.hardware import GIB, Hardware, ModelShape, estimate_memory, model_shape
from curata.train.settings import DEFAULT_LR, FinetuneSettings, Method
from curata.train.stats import DataStats

PLAN_FILE = "plan.json"
# The report shows the plan for this hardware when `curata plan` has not been run on the run.
DEFAULT_MODEL_SIZE = 7e9
DEFAULT_HARDWARE = Hardware(1, 24.0)
EFFECTIVE_BATCH = 16


@dataclass
class Finding:
    rule: str
    title: str
    verdict: str
    detail: str
    source: str


@dataclass
class TaskProfile:
    kind: str
    needed: int
    why: str


@dataclass
class Plan:
    model_params: float
    hardware: Hardware
    stats: DataStats
    task: TaskProfile
    enough_data: str
    method: Method
    settings: FinetuneSettings
    memory: dict[str, dict[str, float]]
    fits: dict[str, bool]
    forgetting_risk: dict[str, str]
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model_size": f"{self.model_params / 1e9:.3g}B",
            "model_params": self.model_params,
            "hardware": self.hardware.label,
            "gpus": self.hardware.gpus,
            "gpu_memory_gb": self.hardware.gpu_memory_gb,
            "recommendation": self.method,
            "enough_data": self.enough_data,
            "task": self.task.__dict__,
            "settings": self.settings.to_json(),
            "memory_gb": self.memory,
            "fits": self.fits,
            "forgetting_risk": self.forgetting_risk,
            "stats": self.stats.to_json(),
            "rules": [f.__dict__ for f in self.findings],
            "references": REFERENCES,
        }


# Short names shown beside each rule; the full references are in docs/plan.md and the plan's JSON.
SOURCES = {
    "lima": "LIMA",
    "alpagasus": "AlpaGasus",
    "deita": "DEITA",
    "lora": "LoRA",
    "qlora": "QLoRA",
    "forgets": "LoRA Learns Less and Forgets Less",
    "zero": "ZeRO",
    "activations": "Korthikanti et al.",
}
REFERENCES = {
    "LIMA": "Zhou et al. 2023, LIMA: Less Is More for Alignment",
    "AlpaGasus": "Chen et al. 2024, AlpaGasus: Training a Better Alpaca with Fewer Data",
    "DEITA": "Liu et al. 2024, What Makes Good Data for Alignment? (DEITA)",
    "LoRA": "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models",
    "QLoRA": "Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs",
    "LoRA Learns Less and Forgets Less": "Biderman et al. 2024, LoRA Learns Less and Forgets Less",
    "ZeRO": "Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
    "Korthikanti et al.": (
        "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models"
    ),
}


def task_profile(stats: DataStats) -> TaskProfile:
    """A difficulty proxy from what the statistics show: labels, answer length, turns."""
    if stats.labels and stats.formats.get("text_label", 0) >= stats.records_in / 2:
        classes = max(len(stats.labels), 2)
        return TaskProfile("classification", 100 * classes, f"{classes} classes x ~100 examples each")
    if stats.turns_mean > 3:
        return TaskProfile(
            "multi-turn chat", 3000, f"{stats.turns_mean:.1f} turns per conversation on average"
        )
    if stats.response_tokens_mean > 300:
        return TaskProfile(
            "long-form / reasoning", 6000, f"answers average {stats.response_tokens_mean:.0f} tokens"
        )
    return TaskProfile("instruction following", 1000, "short single-turn instructions")


def enough_data(stats: DataStats, task: TaskProfile) -> tuple[str, Finding]:
    n = stats.records
    if n < max(50, task.needed // 20):
        verdict = "not enough"
        detail = (
            f"{n:,} examples for {task.kind}: too few to fine-tune reliably; use few-shot prompting "
            f"or collect toward ~{task.needed:,}"
        )
    elif n < task.needed:
        verdict = "marginal"
        detail = (
            f"{n:,} examples for {task.kind} ({task.why}); ~{task.needed:,} well-chosen examples is the "
            "point the curated-set papers reached (LIMA 1k, DEITA 6k, AlpaGasus 9k): enough to set "
            "style and format, thin for a new skill"
        )
    else:
        verdict = "enough"
        detail = (
            f"{n:,} examples for {task.kind}: at or above ~{task.needed:,}, where small curated sets "
            "matched or beat much larger raw ones"
        )
    source = ", ".join(SOURCES[k] for k in ("lima", "deita", "alpagasus"))
    return verdict, Finding("data-size", "Is there enough data", verdict, detail, source)


def lora_rank(stats: DataStats, task: TaskProfile) -> tuple[int, Finding]:
    n = stats.records
    rank = 8 if n < 1000 else 16 if n < 10_000 else 32 if n < 100_000 else 64
    if task.kind in ("long-form / reasoning", "multi-turn chat") and rank < 64:
        rank *= 2
    detail = (
        f"rank {rank}, alpha {2 * rank}, on every linear layer: low ranks suffice for adaptation "
        "(LoRA), and adapting all linear layers, not only attention, is what matched full fine-tuning "
        "(QLoRA); more data and harder tasks get more rank"
    )
    return rank, Finding(
        "lora-rank", "LoRA rank and targets", f"r={rank}", detail, SOURCES["lora"] + "; " + SOURCES["qlora"]
    )


def planned_epochs(records: int) -> float:
    return 5.0 if records < 1000 else 3.0 if records < 10_000 else 2.0 if records < 100_000 else 1.0


def epochs_for(stats: DataStats) -> tuple[float, Finding]:
    n = stats.records
    epochs = planned_epochs(n)
    detail = (
        f"{epochs:g} epochs for {n:,} examples: small curated sets are trained for several passes "
        "(LIMA: 15 on 1k; AlpaGasus/Alpaca: 3 on 9k-52k); large sets need one or two; watch eval loss"
    )
    return epochs, Finding(
        "epochs", "Epochs", f"{epochs:g}", detail, SOURCES["lima"] + "; " + SOURCES["alpagasus"]
    )


def sequence_length(stats: DataStats) -> tuple[int, Finding]:
    longest = stats.prompt_tokens_p99 + stats.response_tokens_p99
    length = int(min(8192, max(256, math.ceil(longest / 256) * 256)))
    detail = (
        f"max length {length} tokens covers ~99% of examples (p99 prompt {stats.prompt_tokens_p99:.0f} + "
        f"p99 answer {stats.response_tokens_p99:.0f}); longer ones are cut"
    )
    return length, Finding("sequence-length", "Sequence length", str(length), detail, "curata statistics")


def choose_method(
    stats: DataStats, hardware: Hardware, fits: dict[str, bool], params: float
) -> tuple[Method, Finding]:
    large = stats.records >= 100_000 or stats.total_tokens >= 50e6
    if large and fits["full"]:
        method: Method = "full"
        why = "a large dataset (≥100k examples or ≥50M tokens) can move every weight, and it fits in memory"
    elif fits["lora"]:
        method = "lora"
        why = (
            "the data is small against the model, so a low-rank update suffices and keeps the base "
            "model's knowledge"
            if not large
            else "full fine-tuning does not fit; LoRA does"
        )
    elif hardware.has_gpu and fits["qlora"]:
        method = "qlora"
        why = "bf16 LoRA does not fit in GPU memory; 4-bit NF4 weights (QLoRA) do"
    else:
        method = "lora"
        why = (
            "nothing fits this hardware at micro-batch 1: pick a smaller model or more GPU memory"
            if hardware.has_gpu
            else "no GPU: LoRA on CPU is practical only for small models (≤1.5B); "
            f"this one has {params / 1e9:.3g}B: pick a smaller model or a GPU"
        )
    return method, Finding(
        "method",
        "LoRA, QLoRA or full",
        method,
        why,
        SOURCES["lora"] + "; " + SOURCES["qlora"] + "; " + SOURCES["forgets"],
    )


def forgetting(stats: DataStats) -> tuple[dict[str, str], Finding]:
    small = stats.records < 10_000
    risk = {"full": "high" if small else "medium", "lora": "low" if small else "low-medium", "qlora": "low"}
    detail = (
        "full fine-tuning on a small, narrow set overwrites general abilities; LoRA learns less of the new "
        f"task but forgets less of the base model. Here: {stats.records:,} examples, so full = {risk['full']}"
    )
    return risk, Finding(
        "forgetting", "Catastrophic forgetting risk", f"full: {risk['full']}", detail, SOURCES["forgets"]
    )


def quality_finding(stats: DataStats) -> Finding | None:
    if not stats.records_in:
        return None
    share = stats.records / stats.records_in
    verdict = "ok" if share >= 0.5 else "much rejected"
    detail = (
        f"{share:.0%} of input records kept; a smaller clean set trains better than the raw one "
        "(AlpaGasus: 9k filtered beat 52k)"
    )
    if stats.quality_mean is not None:
        detail += f"; mean quality of kept records {stats.quality_mean:.2f}"
    return Finding("quality", "Quality over quantity", verdict, detail, SOURCES["alpagasus"])


def diversity_finding(stats: DataStats) -> Finding:
    if not stats.diversity:
        return Finding(
            "diversity",
            "Diversity",
            "not measured",
            "add the topics stage to the recipe to measure topic coverage and diversity",
            SOURCES["deita"],
        )
    entropy = stats.diversity.get("cluster_entropy_normalised")
    clusters = stats.topic_clusters
    parts = [f"{k} {v}" for k, v in stats.diversity.items()]
    verdict = "low" if entropy is not None and entropy < 0.6 else "ok"
    detail = (
        (f"{clusters} topic clusters; " if clusters else "")
        + ", ".join(parts)
        + (
            "; a few topics dominate: select for diversity (`curata select --method deita`)"
            if verdict == "low"
            else ""
        )
    )
    return Finding("diversity", "Diversity", verdict, detail, SOURCES["deita"] + "; " + SOURCES["lima"])


def balance_finding(stats: DataStats) -> Finding | None:
    if len(stats.labels) < 2:
        return None
    counts = sorted(stats.labels.values())
    ratio = counts[-1] / max(counts[0], 1)
    verdict = "imbalanced" if ratio > 10 else "ok"
    detail = f"largest / smallest class = {ratio:.1f} over {len(counts)} classes" + (
        "; balance with `curata select --by label --balance` or weight the loss"
        if verdict == "imbalanced"
        else ""
    )
    return Finding("class-balance", "Class balance", verdict, detail, "curata statistics")


def memory_finding(
    memory: dict[str, dict[str, float]],
    fits: dict[str, bool],
    hardware: Hardware,
    seq: int,
    shape: ModelShape,
) -> Finding:
    parts = ", ".join(f"{m} {memory[m]['total']:.1f} GB" for m in ("full", "lora", "qlora"))
    where = (
        f"{hardware.gpus * hardware.gpu_memory_gb:g} GB of GPU memory"
        if hardware.has_gpu
        else "CPU RAM (no GPU; QLoRA needs CUDA)"
    )
    detail = (
        f"at micro-batch 1 x {seq} tokens, gradient checkpointing, assumed shape {shape.layers} layers x "
        f"{shape.hidden} hidden: {parts}; against {where}"
    )
    verdict = ", ".join(m for m, ok in fits.items() if ok) or "nothing fits"
    return Finding(
        "memory",
        "Memory per option",
        f"fits: {verdict}",
        detail,
        SOURCES["zero"] + "; " + SOURCES["qlora"] + "; " + SOURCES["activations"],
    )


def make_plan(stats: DataStats, params: float, hardware: Hardware) -> Plan:
    shape = model_shape(params)
    task = task_profile(stats)
    verdict, size_finding = enough_data(stats, task)
    rank, rank_finding = lora_rank(stats, task)
    epochs, epochs_finding = epochs_for(stats)
    seq, seq_finding = sequence_length(stats)
    estimates = {m: estimate_memory(m, shape, rank, seq) for m in ("full", "lora", "qlora")}
    memory = {m: e.to_json() for m, e in estimates.items()}
    budget = hardware.gpus * hardware.gpu_memory_gb * GIB if hardware.has_gpu else math.inf
    fits = {m: e.total <= budget for m, e in estimates.items()}
    if not hardware.has_gpu:
        fits["qlora"] = False
        fits["lora"] = fits["lora"] and params <= 1.5e9
        fits["full"] = fits["full"] and params <= 0.5e9
    method, method_finding = choose_method(stats, hardware, fits, params)
    risk, risk_finding = forgetting(stats)
    lr = DEFAULT_LR[method] if params < 30e9 or method == "full" else 1e-4
    settings = FinetuneSettings(
        method=method,
        epochs=epochs,
        learning_rate=lr,
        batch_size=4 if hardware.has_gpu else 2,
        grad_accum=EFFECTIVE_BATCH // (4 if hardware.has_gpu else 2),
        max_length=seq,
        lora_r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.1 if params <= 13e9 else 0.05,
    )
    lr_finding = Finding(
        "learning-rate",
        "Learning rate",
        f"{lr:g}",
        "LoRA/QLoRA 2e-4 up to 13B, 1e-4 above (QLoRA); full fine-tuning 1e-5 to 2e-5 (LIMA 1e-5); "
        f"effective batch {EFFECTIVE_BATCH}, cosine schedule with 3% warm-up",
        SOURCES["qlora"] + "; " + SOURCES["lima"],
    )
    findings = [
        size_finding,
        *(f for f in (quality_finding(stats), balance_finding(stats)) if f is not None),
        diversity_finding(stats),
        method_finding,
        risk_finding,
        memory_finding(memory, fits, hardware, seq, shape),
        rank_finding,
        lr_finding,
        epochs_finding,
        seq_finding,
    ]
    return Plan(params, hardware, stats, task, verdict, method, settings, memory, fits, risk, findings)


PlanBuilder = Callable[[DataStats, float, Hardware], Plan]
