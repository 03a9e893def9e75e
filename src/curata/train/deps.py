"""The training extra's libraries, imported on demand with an actionable message when missing."""

from __future__ import annotations

import importlib.util

from curata.errors import CurataError

TRAIN_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


def require_training() -> None:
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise CurataError(
            f"fine-tuning needs {', '.join(missing)}: pip install 'curata[train]' "
            "(CPU-only: add 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cpu)"
        )


def qlora_available() -> tuple[bool, str]:
    """QLoRA needs bitsandbytes and a CUDA GPU; the reason says which is missing."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return False, "QLoRA needs the bitsandbytes package (pip install bitsandbytes)"
    import torch

    if not torch.cuda.is_available():
        return False, "QLoRA needs a CUDA GPU (bitsandbytes 4-bit kernels); none is available here"
    return True, ""
