# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Quantisation probe: does the forgotten knowledge come back when the weights are quantised?

Quantising an unlearned model can undo the unlearning: the small weight changes that hid the knowledge fall below the
quantisation step, and the quantised weights are close to those of the quantised original model. This module gives
two ways to get a quantised copy of a causal LM, to re-run an evaluation on:

- [`quantize_model`]: round-to-nearest (RTN) **symmetric per-group** weight quantisation of the `nn.Linear` layers,
  simulated in the model's own dtype ("fake quantisation"), so it runs anywhere, CPU included. For a row `w` of a
  weight matrix split into groups of `group_size` consecutive input features, with `q_max = 2**(bits-1) - 1`:

      scale = max(|w_group|) / q_max            (scale = 1 for an all-zero group)
      w_q   = clamp(round(w / scale), -q_max, q_max) * scale

  `round` is round-half-to-even (`torch.round`). The output embedding (`lm_head`, often tied to the input
  embedding) is left in full precision, as GPTQ, AWQ and bitsandbytes do.
- [`load_bnb_quantized`]: the same model loaded through bitsandbytes (`load_in_8bit`, or 4-bit NF4), which needs a
  CUDA GPU and the `bitsandbytes` package.

Example:
    >>> import torch
    >>> from hf_unlearn.eval.quantize import quantize_tensor
    >>> quantize_tensor(torch.tensor([[0.7, -0.2, 0.1, 0.35]]), bits=4, group_size=4)  # scale = 0.7 / 7 = 0.1
    tensor([[ 0.7000, -0.2000,  0.1000,  0.4000]])
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


__all__ = ["QUANT_BITS", "load_bnb_quantized", "quantize_model", "quantize_tensor"]

#: The bit-widths [`quantize_model`] accepts.
QUANT_BITS = tuple(range(2, 9))


def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in QUANT_BITS:
        raise ValueError(f"bits must be an integer from 2 to 8 (e.g. 8 or 4), got {bits!r}.")
    return bits


def _check_group_size(group_size: Any) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive integer (e.g. 64), got {group_size!r}.")
    return group_size


def quantize_tensor(weight: torch.Tensor, bits: int, group_size: int = 64) -> torch.Tensor:
    """Round-to-nearest symmetric per-group quantisation of a 2-D weight, returned de-quantised (same shape, dtype).

    Args:
        weight (`torch.Tensor` of shape `(out_features, in_features)`): The weight; groups run along `in_features`.
        bits (`int`): Bits per weight, 2 to 8; the integer levels are `-q_max..q_max` with `q_max = 2**(bits-1) - 1`.
        group_size (`int`, *optional*, defaults to `64`): Consecutive input features sharing one scale; must divide
            `in_features`.

    Returns:
        `torch.Tensor`: The de-quantised weight (a new tensor; `weight` is not modified).

    Example:
        >>> import torch
        >>> w = torch.tensor([[1.0, -0.8, 0.25, 0.0, 2.0, 1.2, 0.4, -1.5]])
        >>> quantize_tensor(w, bits=2, group_size=4)  # q_max = 1: each value becomes -scale, 0 or +scale
        tensor([[ 1., -1.,  0.,  0.,  2.,  2.,  0., -2.]])
    """
    import torch

    bits = _check_bits(bits)
    group_size = _check_group_size(group_size)
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}.")
    out_features, in_features = weight.shape
    if in_features % group_size:
        raise ValueError(
            f"group_size={group_size} does not divide in_features={in_features}; choose a divisor of every "
            f"quantised layer's input size (e.g. {_largest_divisor(in_features, group_size)})."
        )
    q_max = 2 ** (bits - 1) - 1
    w = weight.detach().to(torch.float32).reshape(out_features, in_features // group_size, group_size)
    scale = w.abs().amax(dim=-1, keepdim=True) / q_max
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(w / scale), -q_max, q_max)
    return (q * scale).reshape(out_features, in_features).to(weight.dtype)


def _largest_divisor(n: int, at_most: int) -> int:
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


def _linear_layers(model: Any, skip_modules: Sequence[str]) -> list[tuple[str, Any]]:
    import torch

    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not any(name.split(".")[-1] == s for s in skip_modules)
    ]


def quantize_model(
    model: PreTrainedModel,
    bits: int,
    group_size: int = 64,
    skip_modules: Sequence[str] = ("lm_head",),
) -> PreTrainedModel:
    """A copy of `model` with the weights of its `nn.Linear` layers RTN-quantised (see [`quantize_tensor`]).

    Biases, norms and embeddings stay in full precision; so do the layers named in `skip_modules`. The user's model
    is never modified. Every layer is checked before any is quantised.

    Args:
        model (`PreTrainedModel`): The model (any `torch.nn.Module`).
        bits (`int`): Bits per weight, 2 to 8.
        group_size (`int`, *optional*, defaults to `64`): Input features per scale; must divide the input size of
            every quantised layer.
        skip_modules (`Sequence[str]`, *optional*, defaults to `("lm_head",)`): Last name components of linear
            layers to leave alone.

    Returns:
        `PreTrainedModel`: The quantised copy (same class, dtype and device).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.copy_(torch.tensor([[0.7, -0.2, 0.1, 0.33], [1.0, 0.0, 0.0, 0.0]]))
        >>> quantize_model(net, bits=4, group_size=4)[0].weight.data
        tensor([[ 0.7000, -0.2000,  0.1000,  0.3000],
                [ 1.0000,  0.0000,  0.0000,  0.0000]])
    """
    import torch

    bits = _check_bits(bits)
    group_size = _check_group_size(group_size)
    layers = _linear_layers(model, skip_modules)
    if not layers:
        raise ValueError("the model has no nn.Linear layers to quantise (outside skip_modules).")
    bad = [(n, m.in_features) for n, m in layers if m.in_features % group_size]
    if bad:
        name, size = bad[0]
        raise ValueError(
            f"group_size={group_size} does not divide the input size of {len(bad)} layer(s), e.g. {name} "
            f"(in_features={size}); choose a divisor such as {_largest_divisor(size, group_size)}."
        )
    quantized = copy.deepcopy(model)
    with torch.no_grad():
        for _, module in _linear_layers(quantized, skip_modules):
            module.weight.copy_(quantize_tensor(module.weight, bits, group_size))
    return quantized


def load_bnb_quantized(model_name_or_path: str | os.PathLike, bits: int, **kwargs: Any) -> PreTrainedModel:
    """Loads a causal LM through bitsandbytes: `load_in_8bit`, or 4-bit NF4 (bf16 compute). Needs a CUDA GPU.

    Args:
        model_name_or_path (`str` or `os.PathLike`): Hub id or folder.
        bits (`int`): 8 or 4.
        **kwargs: Passed to `AutoModelForCausalLM.from_pretrained`.

    Returns:
        `PreTrainedModel`: The quantised model, on the GPU.

    Example:
        >>> model = load_bnb_quantized("path/to/model", bits=4)  # doctest: +SKIP
    """
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if bits not in (4, 8):
        raise ValueError(f"bitsandbytes loads 8- or 4-bit weights; got bits={bits!r} (use quantize_model for others).")
    if not torch.cuda.is_available():
        raise ValueError("bitsandbytes quantisation needs a CUDA GPU; on CPU use --quant_backend rtn.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError("bitsandbytes is not installed: pip install bitsandbytes.")
    if bits == 8:
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    return AutoModelForCausalLM.from_pretrained(
        model_name_or_path, quantization_config=config, device_map={"": 0}, **kwargs
    )
