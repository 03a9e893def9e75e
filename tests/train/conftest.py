"""A tiny model built once per session: the training tests need it, and building it takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from tests.train.tiny_model import build_tiny_model

# The tiny model gains nothing from threads, and on a busy machine idle threads only spin.
pytest.importorskip("torch").set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_model_without_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-plain") / "model", chat_template=None)
