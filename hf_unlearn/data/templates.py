# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Question-answer prompt templates and tokenisation with answer-only labels.

A QA pair becomes `prompt_ids + answer_ids` where `labels` are `-100` on the prompt, so every loss and metric in
hf_unlearn scores the answer only (as TOFU does). The prompt and the answer are tokenised separately and
concatenated, which keeps the label boundary exact for byte-level BPE and sentencepiece tokenizers alike.

Templates:

- `"chat"`: the tokenizer's own chat template (modern instruct models; the mini-TOFU tokenizer has one).
- `"llama2"`: TOFU's Llama-2-chat format, `"[INST] {question} [/INST]"` then the answer, no system prompt.
- `"phi"`: TOFU's Phi-1.5 format, `"Question: {question}\\nAnswer:"` then `" {answer}"`.
- `"auto"`: `"chat"` if the tokenizer has a chat template, else a clear error asking for one of the above.

Example:
    >>> from hf_unlearn.data import get_template
    >>> get_template("phi").format_prompt("Who wrote it?")
    'Question: Who wrote it?\\nAnswer:'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100


@dataclass(frozen=True)
class QATemplate:
    """How a question and an answer are laid out as text.

    Args:
        name (`str`): The template's name.
        prompt_format (`str`, *optional*): A format string with `{question}`; ignored when `use_chat_template`.
        answer_prefix (`str`, *optional*, defaults to `""`): Text put before the answer (e.g. a space).
        use_chat_template (`bool`, *optional*, defaults to `False`): Build the prompt with
            `tokenizer.apply_chat_template` (a user turn plus the generation prompt); the answer is then what the
            template renders after that prompt for an assistant turn (end-of-turn tokens included).
    """

    name: str
    prompt_format: str = "{question}"
    answer_prefix: str = ""
    use_chat_template: bool = False

    def format_prompt(self, question: str, tokenizer: PreTrainedTokenizerBase | None = None) -> str:
        """Returns the prompt text for `question` (what the model sees before it answers)."""
        if not self.use_chat_template:
            return self.prompt_format.format(question=question)
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "template 'chat' needs a tokenizer with a chat template; this tokenizer has none. "
                "Pass `template='llama2'` or `template='phi'` (TOFU's formats), or set `tokenizer.chat_template`."
            )
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )

    def format_answer(
        self,
        question: str,
        answer: str,
        tokenizer: PreTrainedTokenizerBase | None = None,
        prompt: str | None = None,
    ) -> str:
        """Returns the text that follows the prompt: the answer, with the chat template's end-of-turn if any.

        `prompt`, when given, is `format_prompt(question, tokenizer)` already rendered (saves rendering it again).
        """
        if not self.use_chat_template:
            return self.answer_prefix + answer
        if prompt is None:
            prompt = self.format_prompt(question, tokenizer)
        full = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], tokenize=False
        )
        if not full.startswith(prompt):
            raise ValueError(
                "the tokenizer's chat template renders the user turn differently with and without the assistant "
                "turn, so the answer cannot be located; use template='phi' or 'llama2', or fix the chat template."
            )
        return full[len(prompt) :]


TEMPLATES: dict[str, QATemplate] = {
    "chat": QATemplate(name="chat", use_chat_template=True),
    "llama2": QATemplate(name="llama2", prompt_format="[INST] {question} [/INST]"),
    "phi": QATemplate(name="phi", prompt_format="Question: {question}\nAnswer:", answer_prefix=" "),
}


def get_template(name: str | QATemplate, tokenizer: PreTrainedTokenizerBase | None = None) -> QATemplate:
    """Looks a template up by name (`"chat"`, `"llama2"`, `"phi"` or `"auto"`).

    Args:
        name (`str` or `QATemplate`): The template, or its name.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): Needed to resolve `"auto"`.

    Returns:
        `QATemplate`: The template.
    """
    if isinstance(name, QATemplate):
        return name
    if name == "auto":
        if tokenizer is not None and getattr(tokenizer, "chat_template", None):
            return TEMPLATES["chat"]
        raise ValueError(
            "template='auto' found no chat template on the tokenizer. Choose one explicitly: "
            "`template='llama2'` (TOFU Llama-2), `template='phi'` (TOFU Phi-1.5 / base models), "
            "or set `tokenizer.chat_template` first."
        )
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; choose one of {sorted(TEMPLATES)} or 'auto'.")
    return TEMPLATES[name]


def tokenize_qa(
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    answer: str,
    template: str | QATemplate = "auto",
    max_length: int | None = None,
    add_eos: bool = True,
) -> dict[str, list[int]]:
    """Tokenises one QA pair; labels cover the answer (and EOS) only.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        question (`str`): The question.
        answer (`str`): The answer.
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): See [`get_template`].
        max_length (`int`, *optional*): The model's context; a longer pair raises a `ValueError`.
        add_eos (`bool`, *optional*, defaults to `True`): Append the EOS token to the answer, unless the chat
            template already put it there.

    Returns:
        `dict`: `input_ids`, `attention_mask` and `labels` lists of equal length.

    Example:
        >>> from hf_unlearn.synthetic import build_tokenizer
        >>> tok = build_tokenizer(["Question: Who? Answer: Ann."], vocab_size=300)
        >>> out = tokenize_qa(tok, "Who?", "Ann.", template="chat")
        >>> len(out["input_ids"]) == len(out["labels"])
        True
    """
    return tokenize_qa_pairs(tokenizer, [(question, answer)], template, max_length=max_length, add_eos=add_eos)[0]


def tokenize_qa_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    template: str | QATemplate = "auto",
    max_length: int | None = None,
    add_eos: bool = True,
    names: Sequence[str] | None = None,
) -> list[dict[str, list[int]]]:
    """Tokenises many QA pairs at once: the same as [`tokenize_qa`] on each pair, faster.

    Each distinct question's prompt is rendered once (a TOFU item's answer, paraphrase and perturbed answers share
    it), and all prompts and all answers go through the tokenizer in two batched calls.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        pairs (`Sequence[tuple[str, str]]`): `(question, answer)` pairs.
        template, max_length, add_eos: As in [`tokenize_qa`].
        names (`Sequence[str]`, *optional*): A name per pair (e.g. `"forget10 row 3 (answer)"`), put before the
            message of the `ValueError` that a bad pair raises.

    Returns:
        `list[dict]`: Per pair, `input_ids`, `attention_mask` and `labels` lists of equal length.

    Example:
        >>> from hf_unlearn.synthetic import build_tokenizer
        >>> tok = build_tokenizer(["Question: Who? Answer: Ann."], vocab_size=300)
        >>> pairs = [("Who?", "Ann."), ("Who?", "Bob.")]
        >>> tokenize_qa_pairs(tok, pairs, "chat") == [tokenize_qa(tok, q, a, "chat") for q, a in pairs]
        True
    """
    if names is not None and len(names) != len(pairs):
        raise ValueError(f"got {len(names)} names for {len(pairs)} pairs.")

    def fail(i: int, message: str) -> ValueError:
        return ValueError(f"{names[i]}: {message}" if names is not None else message)

    for i, (question, answer) in enumerate(pairs):
        if not isinstance(question, str) or not question.strip():
            raise fail(i, f"question must be a non-empty string, got {question!r}.")
        if not isinstance(answer, str) or not answer.strip():
            raise fail(i, f"answer must be a non-empty string, got {answer!r} (question: {question!r}).")
    tpl = get_template(template, tokenizer)
    if not pairs:
        return []
    if add_eos and tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos_token; set `tokenizer.eos_token` or pass add_eos=False.")
    prompts = {q: tpl.format_prompt(q, tokenizer) for q, _ in pairs}  # each distinct question once
    # A chat template already renders the BOS token (if any) as text.
    prompt_batch = tokenizer(list(prompts.values()), add_special_tokens=not tpl.use_chat_template)["input_ids"]
    prompt_ids = dict(zip(prompts, prompt_batch))
    answer_texts = [tpl.format_answer(q, a, tokenizer, prompt=prompts[q]) for q, a in pairs]
    answer_ids = tokenizer(answer_texts, add_special_tokens=False)["input_ids"]
    out = []
    for i, ((question, answer), ids) in enumerate(zip(pairs, answer_ids)):
        if add_eos and tokenizer.eos_token_id not in ids:
            ids = [*ids, tokenizer.eos_token_id]
        if not ids:
            raise fail(i, f"answer {answer!r} tokenises to zero tokens (question: {question!r}).")
        prompt = prompt_ids[question]
        total = len(prompt) + len(ids)
        if max_length is not None and total > max_length:
            raise fail(
                i,
                f"question+answer is {total} tokens, longer than the model's context (max_length={max_length}): "
                f"question {question[:80]!r}. Raise max_length (the model's max_position_embeddings) or drop the row.",
            )
        out.append(
            {
                "input_ids": [*prompt, *ids],
                "attention_mask": [1] * total,
                "labels": [IGNORE_INDEX] * len(prompt) + list(ids),
            }
        )
    return out


def tokenize_prompt(
    tokenizer: PreTrainedTokenizerBase, question: str, template: str | QATemplate = "auto"
) -> list[int]:
    """Tokenises the prompt alone, as used for generation."""
    tpl = get_template(template, tokenizer)
    return tokenizer(tpl.format_prompt(question, tokenizer), add_special_tokens=not tpl.use_chat_template)["input_ids"]


def model_max_length(model_or_config: Any) -> int | None:
    """The context length of a model (or its config), or `None` when the config does not say."""
    config = getattr(model_or_config, "config", model_or_config)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
