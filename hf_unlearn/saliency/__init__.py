# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SalUn weight saliency: mask computation, safetensors save/load, the `SalUnMask` Trainer callback and a functional
guard for hand-written training loops.

This room is method-agnostic: it imports neither the LLM trainers nor the diffusion room (both use it).
"""

from .callback import SalUnMask
from .guard import SaliencyMaskGuard, apply_saliency_mask
from .mask import (
    check_saliency_mask,
    compute_saliency_mask,
    default_forget_loss,
    frozen_weights_fingerprint,
    load_saliency_mask,
    mask_density,
    save_saliency_mask,
)


__all__ = [
    "SalUnMask",
    "SaliencyMaskGuard",
    "apply_saliency_mask",
    "check_saliency_mask",
    "compute_saliency_mask",
    "default_forget_loss",
    "frozen_weights_fingerprint",
    "load_saliency_mask",
    "mask_density",
    "save_saliency_mask",
]
