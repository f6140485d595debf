"""Which accelerator a run asked for, and whether this machine has it."""

from __future__ import annotations

from selector.errors import ParameterError


def check_accelerator(accelerator: str) -> None:
    """Refuse an accelerator this machine lacks, before any study is touched: Lightning would
    fail inside the first trial, leaving it failed in the study. ``auto`` always passes."""
    import torch

    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        found = ("this torch build has no CUDA support" if torch.version.cuda is None else
                 f"torch {torch.__version__} finds no CUDA device")
        raise ParameterError("accelerator", f"is not available on this machine ({found}; "
                             "auto or cpu train here)", accelerator)
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ParameterError("accelerator", "is not available on this machine (no Apple MPS "
                             "device; auto or cpu train here)", accelerator)
