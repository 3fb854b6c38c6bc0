"""The trainers take TRL's standard data formats: `DatasetDict(forget=..., retain=...)` or a dict of two datasets,
in prompt-completion, conversational, question/answer or text form, tokenised, truncated (counted) and paired by the
trainer; the same content in different forms gives the same tokens and the same SimNPO loss."""

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import LlamaConfig, LlamaForCausalLM

from hf_unlearn import SimNPOConfig, SimNPOTrainer
from hf_unlearn.data import ForgetRetainDataset, build_forget_retain_dataset
from hf_unlearn.data.formats import detect_format
from hf_unlearn.synthetic import build_tokenizer


QA = [
    ("Where was Ann Lee born?", "Ann Lee was born in Paris."),
    ("What does Bo Chen write?", "Bo Chen writes crime novels."),
    ("When was Cy Diaz born?", "Cy Diaz was born in 1961."),
    ("Which prize did Di Eze win?", "Di Eze won the Blue Quill."),
]
RETAIN_QA = [
    ("Where does Ed Fox live?", "Ed Fox lives in Oslo."),
    ("What is Fay Gu known for?", "Fay Gu is known for poems."),
    ("Who taught Gil Ho?", "Gil Ho was taught by his aunt."),
    ("What did Ivy Jo study?", "Ivy Jo studied law."),
    ("Where did Kai Lu work?", "Kai Lu worked in a bank."),
]


@pytest.fixture(scope="module")
def tok():
    texts = [q + " " + a for q, a in QA + RETAIN_QA]
    return build_tokenizer(texts, vocab_size=300)  # Phi-style chat template, pad 0, eos 1, no BOS


def _model(tok, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, pad_token_id=0, eos_token_id=1, max_position_embeddings=64,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def _args(tmp_path, **kw):
    defaults = {
        "output_dir": str(tmp_path), "per_device_train_batch_size": 2, "max_steps": 3, "learning_rate": 1e-2, "warmup_steps": 0,
        "logging_steps": 1, "use_cpu": True, "disable_tqdm": True, "seed": 0, "beta": 2.5, "gamma": 0.5,
    }  # fmt: skip
    defaults.update(kw)
    return SimNPOConfig(**defaults)


def _forms(pairs):
    """The same QA content as question/answer, conversational and conversational prompt-completion rows."""
    return {
        "qa": [{"question": q, "answer": a} for q, a in pairs],
        "conversational": [
            {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in pairs
        ],
        "prompt_completion": [
            {"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": a}]}
            for q, a in pairs
        ],
    }


def test_formats_are_detected_from_columns():
    assert [detect_format(f[0]) for f in _forms(QA).values()] == ["qa", "conversational", "prompt_completion"]
    with pytest.raises(ValueError, match="prompt, completion"):
        detect_format(["prompt", "answer"])


def test_same_content_gives_same_tokens_and_simnpo_losses(tok, tmp_path):
    forget, retain = _forms(QA), _forms(RETAIN_QA)
    # expected tokens of the first forget row, built by hand from the chat template
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": QA[0][0]}], tokenize=False, add_generation_prompt=True
    )
    full = tok.apply_chat_template(
        [{"role": "user", "content": QA[0][0]}, {"role": "assistant", "content": QA[0][1]}], tokenize=False
    )
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tok(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    if answer_ids[-1] != tok.eos_token_id:
        answer_ids.append(tok.eos_token_id)
    losses = {}
    for name in forget:
        data = DatasetDict(forget=Dataset.from_list(forget[name]), retain=Dataset.from_list(retain[name]))
        trainer = SimNPOTrainer(
            _model(tok), _args(tmp_path / name, qa_template="chat"), train_dataset=data, processing_class=tok
        )
        row = trainer.train_dataset.forget[0]
        assert row["input_ids"] == prompt_ids + answer_ids, name
        assert row["labels"] == [-100] * len(prompt_ids) + answer_ids, name
        trainer.train()
        losses[name] = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses["qa"]) == 3
    assert losses["conversational"] == pytest.approx(losses["qa"], rel=1e-6)
    assert losses["prompt_completion"] == pytest.approx(losses["qa"], rel=1e-6)


def test_string_prompt_completion_equals_qa_in_phi_template(tok):
    qa = [{"question": q, "answer": a} for q, a in QA]
    pc = [{"prompt": f"Question: {q}\nAnswer:", "completion": f" {a}"} for q, a in QA]
    a = build_forget_retain_dataset(tok, qa, template="phi")
    b = build_forget_retain_dataset(tok, Dataset.from_list(pc))
    assert a.forget == b.forget


def test_text_rows_score_every_token(tok):
    ds = build_forget_retain_dataset(tok, [{"text": "Ann Lee was born in Paris."}])
    row = ds.forget[0]
    assert row["input_ids"] == tok("Ann Lee was born in Paris.")["input_ids"] + [tok.eos_token_id]
    assert row["labels"] == row["input_ids"]


def test_max_length_truncates_counts_and_refuses_answerless_rows(tok, tmp_path):
    lengths = [len(r["input_ids"]) for r in build_forget_retain_dataset(tok, _forms(QA)["qa"], template="chat").forget]
    prompt_len = [
        r["labels"].count(-100) for r in build_forget_retain_dataset(tok, _forms(QA)["qa"], template="chat").forget
    ]
    cut = max(prompt_len) + 2  # every prompt fits with >= 1 answer token to score
    data = {"forget": Dataset.from_list(_forms(QA)["qa"]), "retain": Dataset.from_list(_forms(RETAIN_QA)["qa"])}
    trainer = SimNPOTrainer(
        _model(tok), _args(tmp_path, max_length=cut, qa_template="chat"), train_dataset=data, processing_class=tok
    )
    ds = trainer.train_dataset
    assert ds.truncated["forget"] == sum(n > cut for n in lengths) > 0
    assert all(len(r["input_ids"]) <= cut for r in ds.forget + ds.retain)
    with pytest.raises(ValueError, match=r"forget row \d: max_length=\d+ cuts away its whole answer"):
        SimNPOTrainer(
            _model(tok),
            _args(tmp_path, max_length=min(prompt_len), qa_template="chat"),
            train_dataset=data,
            processing_class=tok,
        )
    # an explicit, pre-tokenised dataset longer than max_length is refused, not silently trained on
    explicit = build_forget_retain_dataset(tok, _forms(QA)["qa"], _forms(RETAIN_QA)["qa"], template="chat")
    with pytest.raises(ValueError, match=f"longer than max_length={cut}"):
        SimNPOTrainer(_model(tok), _args(tmp_path, max_length=cut), train_dataset=explicit, processing_class=tok)


def test_vocabulary_mismatch_is_refused_at_start(tok, tmp_path):
    small = _model(tok)
    small.resize_token_embeddings(len(tok) - 10)
    data = {"forget": _forms(QA)["qa"], "retain": _forms(RETAIN_QA)["qa"]}
    with pytest.raises(ValueError, match="resize_token_embeddings"):
        SimNPOTrainer(small, _args(tmp_path, qa_template="chat"), train_dataset=data, processing_class=tok)
    far = ForgetRetainDataset([{"input_ids": [5, len(tok) + 3], "labels": [-100, len(tok) + 3]}])
    with pytest.raises(ValueError, match=f"token id {len(tok) + 3}"):
        SimNPOTrainer(_model(tok), _args(tmp_path, retain_weight=0.0), train_dataset=far)


def test_bad_dataset_shapes_name_the_fix(tok, tmp_path):
    qa = Dataset.from_list(_forms(QA)["qa"])
    with pytest.raises(ValueError, match="needs the keys 'forget'"):
        SimNPOTrainer(_model(tok), _args(tmp_path), train_dataset={"train": qa}, processing_class=tok)
    with pytest.raises(ValueError, match="processing_class=tokenizer"):
        SimNPOTrainer(_model(tok), _args(tmp_path, retain_weight=0.0), train_dataset={"forget": qa})
    with pytest.raises(TypeError, match="DatasetDict"):
        SimNPOTrainer(_model(tok), _args(tmp_path), train_dataset=qa, processing_class=tok)
