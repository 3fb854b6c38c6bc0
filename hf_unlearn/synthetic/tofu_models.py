# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The mini-TOFU world's tokenizer and tiny Llama presets, built offline.

The tokenizer is a byte-level BPE trained with `tokenizers` on the world's own text and wrapped in a
[`~transformers.PreTrainedTokenizerFast`] with a chat template in TOFU's Phi format: a user turn renders
`"Question: {q}\\nAnswer:"` and an assistant turn renders `" {a}<eos>"`, so `tokenize_qa(tok, q, a, template="chat")`
and `template="phi"` give the same tokens.

Example:
    >>> from hf_unlearn.synthetic import build_tokenizer, tiny_llama_config
    >>> tok = build_tokenizer(["Question: Who? Answer: Ann."], vocab_size=300)
    >>> tok.apply_chat_template([{"role": "user", "content": "Who?"}], tokenize=False, add_generation_prompt=True)
    'Question: Who?\\nAnswer:'
    >>> tiny_llama_config("tiny", vocab_size=len(tok)).hidden_size
    128
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from transformers import LlamaConfig, PreTrainedTokenizerFast

PAD_TOKEN = "<pad>"
EOS_TOKEN = "<eos>"
UNK_TOKEN = "<unk>"
SPECIAL_TOKENS = (PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)

#: A user turn renders TOFU's Phi prompt; an assistant turn renders `" " + answer + eos`. A system message, if any,
#: is put before the first question. The generation prompt adds nothing: the user turn already ends in "Answer:".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}Question: {{ message['content'] }}\nAnswer:"
    "{% elif message['role'] == 'assistant' %} {{ message['content'] }}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

#: Tiny Llama sizes. `tiny` is the measured pilot model (1.2 M parameters with a 1,000-token vocabulary).
TINY_LLAMA_PRESETS: dict[str, dict[str, int]] = {
    "micro": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256},
    "tiny": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
}


def build_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1000,
    chat_template: bool = True,
    model_max_length: int = 256,
) -> PreTrainedTokenizerFast:
    """Trains a byte-level BPE tokenizer on `texts` (offline, well under a second on a few thousand strings).

    Special tokens are `<pad>` (id 0), `<eos>` (id 1) and `<unk>` (id 2); `pad_token` and `eos_token` are set, and
    no BOS is added. Every byte is in the vocabulary, so any text can be encoded.

    Args:
        texts (`Iterable[str]`): The training text (e.g. every question and answer of the world).
        vocab_size (`int`, *optional*, defaults to `1000`): The vocabulary size, at least 259 (256 bytes + 3
            specials); a small corpus may yield fewer merges than asked.
        chat_template (`bool`, *optional*, defaults to `True`): Set the Phi-style [`CHAT_TEMPLATE`].
        model_max_length (`int`, *optional*, defaults to `256`): Stored on the tokenizer.

    Returns:
        [`~transformers.PreTrainedTokenizerFast`]: The tokenizer (save it with `save_pretrained`).

    Example:
        >>> tok = build_tokenizer(["Question: Who? Answer: Ann."], vocab_size=300)
        >>> tok.decode(tok(" Ann.")["input_ids"]), tok.pad_token_id, tok.eos_token
        (' Ann.', 0, '<eos>')
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty iterable of strings to train the tokenizer on.")
    min_size = 256 + len(SPECIAL_TOKENS)
    if vocab_size < min_size:
        raise ValueError(f"vocab_size must be at least {min_size} (256 bytes + specials), got {vocab_size}.")
    backend = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_llama_config(
    preset: str = "tiny",
    vocab_size: int = 1000,
    pad_token_id: int | None = 0,
    eos_token_id: int | None = 1,
    max_position_embeddings: int = 256,
    **overrides: Any,
) -> LlamaConfig:
    """A [`~transformers.LlamaConfig`] for a tiny Llama (tied embeddings, no dropout).

    Args:
        preset (`str`, *optional*, defaults to `"tiny"`): One of [`TINY_LLAMA_PRESETS`]: `"micro"` (64 hidden,
            2 layers), `"tiny"` (128 hidden, 4 layers; the pilot's model) or `"small"` (256 hidden, 4 layers).
        vocab_size (`int`, *optional*, defaults to `1000`): Use `len(tokenizer)`.
        pad_token_id (`int`, *optional*, defaults to `0`): The tokenizer's pad id.
        eos_token_id (`int`, *optional*, defaults to `1`): The tokenizer's eos id.
        max_position_embeddings (`int`, *optional*, defaults to `256`): The context length.
        **overrides: Any other `LlamaConfig` field (e.g. `hidden_size=96`).

    Returns:
        [`~transformers.LlamaConfig`]: Build the model with `LlamaForCausalLM(config)`.

    Example:
        >>> tiny_llama_config("micro", vocab_size=300).num_hidden_layers
        2
    """
    from transformers import LlamaConfig

    if preset not in TINY_LLAMA_PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(TINY_LLAMA_PRESETS)}.")
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}.")
    kwargs: dict[str, Any] = {
        **TINY_LLAMA_PRESETS[preset],
        "vocab_size": vocab_size,
        "max_position_embeddings": max_position_embeddings,
        "tie_word_embeddings": True,
        "pad_token_id": pad_token_id,
        "eos_token_id": eos_token_id,
        "bos_token_id": None,
        "attention_dropout": 0.0,
        "rms_norm_eps": 1e-6,
    }
    kwargs.setdefault("num_key_value_heads", kwargs["num_attention_heads"])
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)
