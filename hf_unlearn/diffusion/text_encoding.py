# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Text-encoder plumbing for concept erasure: soft-prompt encoding, prompt checks and the trainable layers.

transformers 5's `CLIPTextModel` is flat (`embeddings`, `encoder`, `final_layer_norm`; no `.text_model`) and its
`forward` takes no `inputs_embeds`, so AdvUnlearn's reference `CustomTextEncoder` (which reaches into
`text_encoder.text_model`) no longer runs. [`encode_embeddings`] runs the same three stages itself with CLIP's causal
mask, so a continuous ("soft") adversarial token can be inserted in token-embedding space and gradients flow to it
and to the encoder's weights.

Example:
    >>> import torch
    >>> from transformers import CLIPTextConfig, CLIPTextModel
    >>> from hf_unlearn.diffusion import encode_embeddings
    >>> te = CLIPTextModel(CLIPTextConfig(vocab_size=50, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
    ...                                   num_attention_heads=2, max_position_embeddings=8)).eval()
    >>> ids = torch.tensor([[0, 5, 7, 1, 1, 1, 1, 1]])
    >>> out = encode_embeddings(te, te.embeddings.token_embedding(ids))
    >>> torch.allclose(out, te(ids).last_hidden_state, atol=1e-6)
    True
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn


ATTACK_TYPES = ("prefix", "suffix")


def check_clip_text_encoder(text_encoder: nn.Module, name: str = "text_encoder") -> None:
    """Raises a `TypeError` unless `text_encoder` is a (flat, transformers 5) CLIP text encoder.

    AdvUnlearn's plug-and-play encoders are `CLIPTextModel`s for Stable Diffusion 1.x-family pipelines; SD 2.x
    (OpenCLIP, 1024-d) and SDXL (two encoders) are not drop-in.
    """
    from transformers import CLIPTextModel

    if not isinstance(text_encoder, CLIPTextModel):
        raise TypeError(
            f"`{name}` must be a transformers `CLIPTextModel` (a Stable Diffusion 1.x-family pipeline), got "
            f"{type(text_encoder).__name__}. AdvUnlearn erases concepts from CLIP text encoders; pass a pipeline whose "
            "`text_encoder/config.json` has `model_type: clip_text_model`."
        )


#: Key of the `CLIPTextConfig` attribute in which an offline world records itself (`{"world_id", "config_hash"}`):
#: the world's own text encoder carries it, and so does every encoder trained from it (`save_pretrained` keeps it).
WORLD_CONFIG_KEY = "hf_unlearn_world"


def text_encoder_world(text_encoder_config: Any) -> dict[str, str] | None:
    """The offline world a text encoder (or its config) comes from (`{"world_id", "config_hash"}`), or `None`.

    Example:
        >>> from transformers import CLIPTextConfig
        >>> from hf_unlearn.diffusion.text_encoding import text_encoder_world
        >>> text_encoder_world(CLIPTextConfig(hf_unlearn_world={"world_id": "shapes-0a1b", "config_hash": "0a1b"}))
        {'world_id': 'shapes-0a1b', 'config_hash': '0a1b'}
        >>> text_encoder_world(CLIPTextConfig()) is None
        True
    """
    config = getattr(text_encoder_config, "config", text_encoder_config)
    world = getattr(config, WORLD_CONFIG_KEY, None)
    return dict(world) if isinstance(world, dict) else None


def _world_name(world: dict[str, str] | None) -> str:
    if world is None:
        return "no hf_unlearn world (e.g. a Hub model)"
    return f"world {world.get('world_id')} (config hash {world.get('config_hash')})"


def check_text_encoder_fits(
    text_encoder_config: Any,
    unet_config: Any,
    tokenizer: Any,
    name: str = "text_encoder",
    pipeline_text_encoder: Any = None,
):
    """Raises a `ValueError` unless a CLIP text encoder fits a pipeline's UNet and tokenizer (and its world).

    An encoder trained for another pipeline (e.g. another shapes world, or SD 2.x) otherwise fails deep inside the
    UNet's cross-attention with a bare shape mismatch, indexes past its embedding table, or, worse, runs silently with
    a UNet that never saw its embeddings. With `pipeline_text_encoder` (the pipeline's own encoder or its config), an
    encoder whose recorded world ([`text_encoder_world`]) differs from the pipeline's is refused too, and every
    message names both worlds.

    Args:
        text_encoder_config (`CLIPTextConfig` or `CLIPTextModel`): The encoder (or its config).
        unet_config (`UNet2DConditionModel` or its config): The pipeline's UNet.
        tokenizer (`CLIPTokenizer`): The pipeline's tokenizer.
        name (`str`, *optional*, defaults to `"text_encoder"`): How to call the encoder in the error (e.g. a path).
        pipeline_text_encoder (`CLIPTextModel` or `CLIPTextConfig`, *optional*): The pipeline's own text encoder.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> check_text_encoder_fits(
        ...     NS(hidden_size=32, vocab_size=100, max_position_embeddings=16),
        ...     NS(cross_attention_dim=64),
        ...     NS(model_max_length=16, __len__=lambda: 100),
        ...     name="esd/text_encoder",
        ... )
        Traceback (most recent call last):
        ...
        ValueError: esd/text_encoder does not fit this pipeline: its hidden size is 32 but the UNet's ...
    """
    te = getattr(text_encoder_config, "config", text_encoder_config)
    unet = getattr(unet_config, "config", unet_config)
    cross = getattr(unet, "cross_attention_dim", None)
    cross = cross[0] if isinstance(cross, (list, tuple)) else cross
    own_world = text_encoder_world(te)
    pipeline_world = text_encoder_world(pipeline_text_encoder) if pipeline_text_encoder is not None else None
    worlds = ""
    if own_world is not None or pipeline_world is not None:
        worlds = f" It was trained on {_world_name(own_world)}; this pipeline is {_world_name(pipeline_world)}."
    fix = (
        "It was trained for another pipeline (another world or base model): load it with the pipeline it was "
        "trained from (its model card names it), or retrain it on this one."
    )
    if pipeline_text_encoder is not None and own_world != pipeline_world and None not in (own_world, pipeline_world):
        raise ValueError(f"{name} was trained on another world than this pipeline's.{worlds} {fix}")
    if cross is not None and te.hidden_size != cross:
        raise ValueError(
            f"{name} does not fit this pipeline: its hidden size is {te.hidden_size} but the UNet's "
            f"cross_attention_dim is {cross}.{worlds} {fix}"
        )
    vocab = len(tokenizer) if hasattr(tokenizer, "__len__") else None
    if vocab is not None and te.vocab_size < vocab:
        raise ValueError(
            f"{name} does not fit this pipeline: its vocabulary has {te.vocab_size} tokens but the tokenizer has "
            f"{vocab}.{worlds} {fix}"
        )
    length = getattr(tokenizer, "model_max_length", None)
    if length is not None and length < 10**6 and te.max_position_embeddings < length:
        raise ValueError(
            f"{name} does not fit this pipeline: it takes {te.max_position_embeddings} positions but the tokenizer "
            f"pads prompts to {length}.{worlds} {fix}"
        )


def tokenize_prompts(tokenizer, prompts: list[str], max_length: int | None = None) -> torch.Tensor:
    """`input_ids` padded to the tokenizer's `model_max_length` (as Stable Diffusion pipelines do)."""
    return tokenizer(
        list(prompts),
        padding="max_length",
        max_length=max_length or tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def content_token_ids(tokenizer, prompt: str) -> list[int]:
    """The ids of `prompt` without bos/eos/pad/unk tokens (what a concept prompt actually says)."""
    special = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id}
    return [i for i in tokenizer(prompt).input_ids if i not in special]


def check_prompts(tokenizer, prompts: list[str], name: str) -> None:
    """Raises a `ValueError` if `prompts` is empty or one of them tokenises to nothing (only special/unknown tokens).

    Example:
        >>> from hf_unlearn.synthetic.shapes import build_tokenizer
        >>> from hf_unlearn.diffusion import check_prompts
        >>> check_prompts(build_tokenizer(), ["!!!"], "concept")
        Traceback (most recent call last):
        ...
        ValueError: concept prompt '!!!' tokenises to no known token with this tokenizer ...
    """
    if not prompts:
        raise ValueError(f"No {name} prompts were given; pass at least one.")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip() or not content_token_ids(tokenizer, prompt):
            raise ValueError(
                f"{name} prompt {prompt!r} tokenises to no known token with this tokenizer (only special or unknown "
                "tokens): the encoder would see an empty prompt. Use words the tokenizer knows."
            )


def causal_mask(text_encoder: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor | None:
    """CLIP's 4-D causal attention mask for `hidden_states`, built the way `CLIPTextModel.forward` builds it."""
    from transformers.masking_utils import create_causal_mask

    return create_causal_mask(config=text_encoder.config, inputs_embeds=hidden_states, attention_mask=None, cache=None)


def encode_embeddings(text_encoder: nn.Module, inputs_embeds: torch.Tensor) -> torch.Tensor:
    """Runs a flat `CLIPTextModel` on token embeddings: embeddings (+positions) -> causal encoder -> final norm.

    Args:
        text_encoder (`CLIPTextModel`): The encoder.
        inputs_embeds (`torch.Tensor`): `(batch, seq, hidden)` token embeddings (before position embeddings).

    Returns:
        `torch.Tensor`: `last_hidden_state`, equal to `text_encoder(input_ids).last_hidden_state` when
        `inputs_embeds` is `text_encoder.embeddings.token_embedding(input_ids)`.
    """
    hidden = text_encoder.embeddings(inputs_embeds=inputs_embeds)
    hidden = text_encoder.encoder(
        inputs_embeds=hidden, attention_mask=causal_mask(text_encoder, hidden), is_causal=True
    ).last_hidden_state
    return text_encoder.final_layer_norm(hidden)


def insert_adversarial_embeddings(
    token_embeds: torch.Tensor,
    adv_embeds: torch.Tensor,
    input_ids: torch.Tensor | None = None,
    eos_token_id: int | None = None,
    attack_type: str = "prefix",
) -> torch.Tensor:
    """Inserts `k` adversarial token embeddings into each prompt, keeping the sequence length.

    Args:
        token_embeds (`torch.Tensor`): `(batch, seq, hidden)` embeddings of `[bos, tokens..., eos, pad...]`.
        adv_embeds (`torch.Tensor`): `(k, hidden)` (shared) or `(batch, k, hidden)` adversarial embeddings.
        input_ids (`torch.Tensor`, *optional*): The ids (needed for `"suffix"`, to find each prompt's eos).
        eos_token_id (`int`, *optional*): The eos id (needed for `"suffix"`).
        attack_type (`str`, *optional*, defaults to `"prefix"`): `"prefix"` (after bos, AdvUnlearn's `prefix_k`)
            or `"suffix"` (before the first eos). The last `k` positions (padding) are dropped.

    Returns:
        `torch.Tensor`: `(batch, seq, hidden)` embeddings.
    """
    if attack_type not in ATTACK_TYPES:
        raise ValueError(f"attack_type must be one of {ATTACK_TYPES}, got {attack_type!r}.")
    batch, seq, _ = token_embeds.shape
    if adv_embeds.dim() == 2:
        adv_embeds = adv_embeds.unsqueeze(0).expand(batch, -1, -1)
    k = adv_embeds.shape[1]
    adv_embeds = adv_embeds.to(token_embeds.dtype)
    if attack_type == "prefix":
        return torch.cat([token_embeds[:, :1], adv_embeds, token_embeds[:, 1 : seq - k]], dim=1)
    if input_ids is None or eos_token_id is None:
        raise ValueError("attack_type='suffix' needs `input_ids` and `eos_token_id`.")
    rows = []
    for i in range(batch):
        eos = (input_ids[i] == eos_token_id).nonzero()
        pos = int(eos[0]) if len(eos) else seq - k
        rows.append(torch.cat([token_embeds[i, :pos], adv_embeds[i], token_embeds[i, pos : seq - k]], dim=0))
    return torch.stack(rows)


class SoftPromptTextEncoder(nn.Module):
    """Wraps a `CLIPTextModel` so that its forward accepts adversarial soft tokens (for `accelerator.prepare`).

    Args:
        text_encoder (`CLIPTextModel`): The encoder (its weights are shared, not copied).

    Example:
        >>> import torch
        >>> from transformers import CLIPTextConfig, CLIPTextModel
        >>> from hf_unlearn.diffusion import SoftPromptTextEncoder
        >>> te = CLIPTextModel(CLIPTextConfig(vocab_size=50, hidden_size=8, intermediate_size=16,
        ...                                   num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=8))
        >>> SoftPromptTextEncoder(te)(torch.tensor([[0, 5, 1, 1, 1, 1, 1, 1]]), torch.zeros(2, 8)).shape
        torch.Size([1, 8, 8])
    """

    def __init__(self, text_encoder: nn.Module):
        super().__init__()
        check_clip_text_encoder(text_encoder)
        self.text_encoder = text_encoder

    def forward(
        self, input_ids: torch.Tensor, adv_embeds: torch.Tensor | None = None, attack_type: str = "prefix"
    ) -> torch.Tensor:
        embeds = self.text_encoder.embeddings.token_embedding(input_ids)
        if adv_embeds is not None:
            embeds = insert_adversarial_embeddings(
                embeds, adv_embeds, input_ids, self.text_encoder.config.eos_token_id, attack_type
            )
        return encode_embeddings(self.text_encoder, embeds)


def set_trainable_layers(text_encoder: nn.Module, train_method: str = "text_encoder_full") -> list[str]:
    """Freezes `text_encoder` except the layers AdvUnlearn's `--train_method` names; returns the trainable names.

    Args:
        text_encoder (`CLIPTextModel`): The encoder (modified in place).
        train_method (`str`, *optional*, defaults to `"text_encoder_full"`): `"text_encoder_full"` (every encoder
            layer + `final_layer_norm`, AdvUnlearn's default; token and position embeddings stay frozen),
            `"text_encoder_layer{i}"` (one layer) or `"text_encoder_layer{i}-{j}"` (layers i..j inclusive).

    Returns:
        `list[str]`: Names of the parameters left trainable.

    Example:
        >>> from transformers import CLIPTextConfig, CLIPTextModel
        >>> from hf_unlearn.diffusion import set_trainable_layers
        >>> te = CLIPTextModel(CLIPTextConfig(vocab_size=50, hidden_size=8, intermediate_size=16,
        ...                                   num_hidden_layers=2, num_attention_heads=2))
        >>> names = set_trainable_layers(te, "text_encoder_layer1")
        >>> sorted({n.split(".")[2] for n in names})
        ['1']
    """
    num_layers = len(text_encoder.encoder.layers)
    if train_method == "text_encoder_full":
        layers, train_norm = list(range(num_layers)), True
    else:
        match = re.fullmatch(r"text_encoder_layer(\d+)(?:-(\d+))?", train_method)
        if match is None:
            raise ValueError(
                f"train_method {train_method!r} is not supported; use 'text_encoder_full', "
                "'text_encoder_layer{i}' or 'text_encoder_layer{i}-{j}'."
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if not 0 <= first <= last < num_layers:
            raise ValueError(f"train_method {train_method!r} names layers outside 0..{num_layers - 1}.")
        layers, train_norm = list(range(first, last + 1)), False
    text_encoder.requires_grad_(False)
    for i in layers:
        text_encoder.encoder.layers[i].requires_grad_(True)
    if train_norm:
        text_encoder.final_layer_norm.requires_grad_(True)
    return [n for n, p in text_encoder.named_parameters() if p.requires_grad]
