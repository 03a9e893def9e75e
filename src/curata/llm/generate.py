"""Synthetic data: self-instruct from seed tasks, evol-instruct (deepen, broaden), and gap filling
for the labels, topics and task types a run reported as thin.

Every candidate goes through the same gate: not a duplicate of the existing data or of what was
already generated (normalised exact + near check), answered, judged, and accepted only at or above
`min_score`. Prompts are deterministic for a given seed, so a rerun is answered from the cache.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from curata.llm.budget import BudgetExhaustedError
from curata.llm.client import LLMClient
from curata.llm.dedup import NearDuplicateIndex
from curata.llm.judge import Judge, JudgeResult
from curata.llm.parsing import parse_json_list
from curata.llm.request import ChatRequest
from curata.llm.retry import RequestFailedError
from curata.records import Record, Role, Turn

Method = Literal["self-instruct", "evol", "gaps"]
ANSWER_PROMPT_ID = "answer-v1"
MAX_TASK_CHARS = 2000


@dataclass(frozen=True)
class Target:
    """A thin spot to fill: a label, topic or task type (or a topic cluster's examples)."""

    kind: str
    name: str
    count: int

    def guidance(self) -> str:
        if self.kind == "label":
            return f"Every task must be an example whose correct label is '{self.name}'."
        if self.kind == "topic_cluster":
            return "Every task must be on the same subject as the example tasks above."
        if self.kind == "topic":
            return f"Every task must be about: {self.name}."
        return f"Every task must be a {self.name} task."


@dataclass
class Candidate:
    instruction: str
    method: str
    prompt_id: str
    seed_ids: tuple[str, ...]
    label: str | None = None
    answer: str = ""
    verdict: JudgeResult | None = None
    error: str | None = None


@dataclass
class GenerationResult:
    accepted: list[Candidate]
    rejected: Counter[str] = field(default_factory=Counter)
    proposed: int = 0
    stopped_by_budget: bool = False


def numbered_lines(text: str) -> list[str]:
    """`1. task` / `- task` lines, for replies that are a list but not JSON."""
    items = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:\d+[.)]|[-*•])\s+(.+)$", line)
        if match:
            items.append(match.group(1).strip())
    return items


def tasks_from(text: str) -> list[str]:
    values = parse_json_list(text)
    if values is None:
        values = numbered_lines(text)
    if not values:
        # A JSON list cut off by the length limit: its complete strings are still tasks.
        values = re.findall(r'"((?:[^"\\]|\\.){10,})"', text)
    out = []
    for value in values:
        item = value
        if isinstance(value, dict):
            item = value.get("instruction") or value.get("task") or next(iter(value.values()), "")
        task = str(item).strip().strip('"').strip()
        if 10 <= len(task) <= MAX_TASK_CHARS:
            out.append(task)
    return out


def single_task(text: str) -> str | None:
    """The one new task an evolve prompt returns, without chatter around it."""
    task = text.strip()
    task = re.sub(
        r"^(?:#+\s*)?(?:new|rewritten|evolved)?\s*(?:task|prompt|instruction)\s*:\s*", "", task, flags=re.I
    )
    task = task.strip().strip('"').strip()
    return task if 10 <= len(task) <= MAX_TASK_CHARS else None


def example_block(seeds: Sequence[Record]) -> str:
    return "\n".join(f"{i + 1}. {s.last_prompt.strip()[:500]}" for i, s in enumerate(seeds))


def self_instruct_messages(
    seeds: Sequence[Record], batch: int, round_no: int, target: Target | None
) -> list[dict[str, str]]:
    guidance = f"\n{target.guidance()}" if target else ""
    return [
        {
            "role": "user",
            "content": f"Here are example tasks for an AI assistant:\n{example_block(seeds)}\n\n"
            f"Write {batch} new tasks of the same kind. Make them diverse: different topics, "
            f"phrasings and difficulty; do not copy the examples.{guidance}\n"
            f"Reply with only a JSON list of {batch} strings. (batch {round_no})",
        }
    ]


EVOLVE = {
    "deepen": (
        "evol-deepen-v1",
        "Rewrite the task below into a harder version: add a constraint, require more reasoning "
        "steps, or ask for more depth. It must stay answerable and self-contained.",
    ),
    "broaden": (
        "evol-broaden-v1",
        "Write a brand-new task inspired by the task below: same domain, but a rarer topic or a "
        "different skill. It must be answerable and self-contained.",
    ),
}


def evolve_messages(seed: Record, how: str) -> list[dict[str, str]]:
    _, instruction = EVOLVE[how]
    return [
        {
            "role": "user",
            "content": f"{instruction}\n\nTask:\n{seed.last_prompt.strip()[:MAX_TASK_CHARS]}\n\n"
            "Reply with only the new task.",
        }
    ]


class Generator:
    def __init__(
        self,
        client: LLMClient,
        judge: Judge,
        existing: Sequence[Record],
        min_score: float = 0.6,
        seed: int = 0,
        batch: int = 5,
        classification: bool = False,
        accept_unscored: bool = False,
    ) -> None:
        # For weak local judges that cannot produce a verdict: keep what they could not score.
        self.accept_unscored = accept_unscored
        # Classification data: a candidate is a text for its label; there is no answer to write.
        self.classification = classification
        self.client = client
        self.judge = judge
        self.min_score = min_score
        self.rng = random.Random(seed)
        self.batch = batch
        self.index = NearDuplicateIndex()
        for record in existing:
            self.index.add(record.last_prompt)

    async def ask(self, messages: list[dict[str, str]], tag: str, max_tokens: int | None = None) -> str:
        request = ChatRequest.of(
            messages,
            max_tokens=max_tokens or self.client.settings.max_tokens,
            temperature=self.client.settings.temperature,
            tag=tag,
        )
        return (await self.client.complete(request)).text

    async def propose(
        self, method: str, seeds: Sequence[Record], round_no: int, target: Target | None
    ) -> list[Candidate]:
        if method == "evol":
            seed = seeds[round_no % len(seeds)]
            how = "deepen" if (round_no // len(seeds)) % 2 == 0 else "broaden"
            prompt_id = EVOLVE[how][0]
            task = single_task(await self.ask(evolve_messages(seed, how), prompt_id))
            return [Candidate(task, f"evol-{how}", prompt_id, (seed.id,))] if task else []
        picked = self.rng.sample(list(seeds), min(3, len(seeds)))
        prompt_id = "gap-fill-v1" if target else "self-instruct-v1"
        reply = await self.ask(self_instruct_messages(picked, self.batch, round_no, target), prompt_id)
        label = target.name if target and target.kind == "label" else None
        name = "gaps" if target else "self-instruct"
        return [Candidate(t, name, prompt_id, tuple(s.id for s in picked), label) for t in tasks_from(reply)]

    async def finish(self, candidate: Candidate) -> Candidate:
        """Answer, then judge; a failed request or the budget marks the candidate instead of raising."""
        try:
            if self.classification and candidate.label is not None:
                candidate.answer = candidate.label
                prompt = f"Which label fits this text?\n\n{candidate.instruction}"
            else:
                messages = [{"role": "user", "content": candidate.instruction}]
                candidate.answer = (await self.ask(messages, ANSWER_PROMPT_ID)).strip()
                prompt = candidate.instruction
        except BudgetExhaustedError:
            candidate.error = "budget"
            return candidate
        except RequestFailedError:
            candidate.error = "request_failed"
            return candidate
        record = Record("candidate", (Turn(Role.USER, prompt), Turn(Role.ASSISTANT, candidate.answer)))
        candidate.verdict = await self.judge.judge(record)
        if candidate.verdict.status == "not_judged":
            candidate.error = "budget"
        return candidate

    async def run(
        self,
        method: str,
        seeds: Sequence[Record],
        n: int,
        target: Target | None = None,
        max_rounds: int | None = None,
    ) -> GenerationResult:
        if not seeds:
            raise ValueError("generation needs at least one seed record")
        result = GenerationResult([])
        per_round = 1 if method == "evol" else self.batch
        rounds = max_rounds if max_rounds is not None else max(4, 4 * n // per_round)
        for round_no in range(rounds):
            if len(result.accepted) >= n or result.stopped_by_budget:
                break
            try:
                proposals = await self.propose(method, seeds, round_no, target)
            except BudgetExhaustedError:
                result.stopped_by_budget = True
                break
            except RequestFailedError:
                result.rejected["request_failed"] += 1
                continue
            fresh = []
            for candidate in proposals:
                result.proposed += 1
                duplicate = self.index.match(candidate.instruction)
                if duplicate:
                    result.rejected[f"{duplicate}_duplicate"] += 1
                    continue
                self.index.add(candidate.instruction)
                fresh.append(candidate)
            for done in await self.client.map(self.finish(c) for c in fresh[: n - len(result.accepted)]):
                if done.error == "budget":
                    result.stopped_by_budget = True
                    result.rejected["not_finished_budget"] += 1
                elif done.error:
                    result.rejected[done.error] += 1
                else:
                    self.accept(done, result)
        return result

    def accept(self, candidate: Candidate, result: GenerationResult) -> None:
        verdict = candidate.verdict
        if not candidate.answer:
            result.rejected["empty_answer"] += 1
        elif verdict is None or verdict.score is None:
            if self.accept_unscored:
                result.accepted.append(candidate)
            else:
                result.rejected[f"judge_{verdict.status if verdict else 'missing'}"] += 1
        elif verdict.score < self.min_score:
            result.rejected["low_judge_score"] += 1
        else:
            result.accepted.append(candidate)


def gap_targets(findings: Sequence[dict[str, Any]], per_target: int) -> list[Target]:
    """Targets from a run's `coverage_gap` and `class_imbalance` findings."""
    targets: list[Target] = []
    for finding in findings:
        check = finding.get("check")
        if check == "coverage_gap" and finding.get("name") is not None:
            kind = str(finding.get("kind") or "topic").replace(" ", "_")
            have = int(finding.get("count") or 0)
            wanted = re.search(r"at least (\d+)", str(finding.get("message", "")))
            need = int(wanted.group(1)) - have if wanted else per_target
            targets.append(Target(kind, str(finding["name"]), max(1, min(need, per_target))))
        elif check == "class_imbalance" and isinstance(finding.get("classes"), dict):
            classes = {str(k): int(v) for k, v in finding["classes"].items()}
            largest = max(classes.values())
            for label, count in classes.items():
                if count < largest / 2:
                    targets.append(Target("label", label, max(1, min(largest - count, per_target))))
    return targets


def parse_target(text: str, default_count: int) -> Target:
    """`label=positive:20`, `topic=cooking`, `task_type=math:5`."""
    match = re.fullmatch(r"(label|topic|task_type)=([^:]+)(?::(\d+))?", text.strip())
    if match is None:
        raise ValueError(f"target '{text}' is not KIND=NAME[:COUNT] with KIND label, topic or task_type")
    return Target(match.group(1), match.group(2).strip(), int(match.group(3) or default_count))
