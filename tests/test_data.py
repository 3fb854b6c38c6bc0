"""The data room: templates put labels on the answer only, TOFU-format loading validates, batches pad correctly."""

import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from hf_unlearn.data import (
    IGNORE_INDEX,
    eval_split_for,
    get_template,
    holdout_split_for,
    load_tofu,
    load_tokenizer_padded_with_eos,
    pad_batch,
    require_pad_token,
    retain_split_for,
    tokenize_prompt,
    tokenize_qa,
    tokenize_qa_pairs,
)


CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}Question: {{ m['content'] }}\nAnswer:"
    "{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = ["Question: Where was Ann born?\nAnswer: Ann was born in Paris.", "[INST] Who? [/INST] Bob"] * 5
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<eos>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


@pytest.mark.parametrize("template", ["chat", "phi", "llama2"])
def test_labels_cover_exactly_the_answer_and_eos(tokenizer, template):
    out = tokenize_qa(tokenizer, "Where was Ann born?", "Ann was born in Paris.", template=template)
    prompt = tokenize_prompt(tokenizer, "Where was Ann born?", template=template)
    n_prompt = len(prompt)
    assert out["input_ids"][:n_prompt] == prompt
    assert out["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    answer_ids = out["labels"][n_prompt:]
    assert answer_ids == out["input_ids"][n_prompt:]
    assert answer_ids[-1] == tokenizer.eos_token_id and answer_ids.count(tokenizer.eos_token_id) == 1
    assert tokenizer.decode(answer_ids[:-1]).strip() == "Ann was born in Paris."


def test_chat_template_concatenation_equals_full_rendering(tokenizer):
    out = tokenize_qa(tokenizer, "Who?", "Bob", template="chat")
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "Bob"}], tokenize=False
    )
    assert tokenizer.decode(out["input_ids"]) == full


def test_tofu_formats_match_the_papers_code():
    assert get_template("llama2").format_prompt("Q?") == "[INST] Q? [/INST]"
    assert get_template("phi").format_prompt("Q?") == "Question: Q?\nAnswer:"


def test_auto_template_without_chat_template_is_a_clear_error(tokenizer):
    plain = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, eos_token="<eos>")
    with pytest.raises(ValueError, match="no chat template.*llama2.*phi"):
        tokenize_qa(plain, "Who?", "Bob", template="auto")
    assert get_template("auto", tokenizer).name == "chat"


def test_bad_pairs_are_clear_errors(tokenizer):
    with pytest.raises(ValueError, match="answer must be a non-empty string"):
        tokenize_qa(tokenizer, "Who?", "  ", template="phi")
    with pytest.raises(ValueError, match=r"longer than the model's context \(max_length=4\)"):
        tokenize_qa(tokenizer, "Where was Ann born?", "Paris.", template="phi", max_length=4)
    with pytest.raises(ValueError, match="unknown template 'alpaca'"):
        get_template("alpaca")


@pytest.mark.parametrize("template", ["chat", "phi"])
def test_pairs_are_tokenised_as_prompt_then_answer_and_eos(tokenizer, template):
    # expected ids built from the rendered texts, one tokenizer call per text (the batched path renders each
    # question's prompt once and tokenises everything in two calls)
    pairs = [("Where was Ann born?", "Ann was born in Paris."), ("Who?", "Bob"), ("Where was Ann born?", "Paris.")]
    out = tokenize_qa_pairs(tokenizer, pairs, template)
    for (question, answer), row in zip(pairs, out):
        if template == "chat":
            prompt = f"Question: {question}\nAnswer:"
            full = tokenizer.apply_chat_template(
                [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], tokenize=False
            )
            assert full == f"{prompt} {answer}<eos>"
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            answer_ids = tokenizer(f" {answer}<eos>", add_special_tokens=False)["input_ids"]
        else:
            prompt_ids = tokenizer(f"Question: {question}\nAnswer:")["input_ids"]
            answer_ids = [*tokenizer(f" {answer}", add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        assert row["input_ids"] == prompt_ids + answer_ids
        assert row["labels"] == [IGNORE_INDEX] * len(prompt_ids) + answer_ids
        assert row["attention_mask"] == [1] * len(row["input_ids"])
    assert out[0]["input_ids"][: len(prompt_ids)] == out[2]["input_ids"][: len(prompt_ids)]  # one prompt, twice


def test_bad_pair_errors_name_the_pair(tokenizer):
    pairs = [("Who?", "Bob"), ("Who?", "Ann"), ("Who?", " ")]
    names = ["forget row 0 (answer)", "forget row 0 (perturbed_answer)", "forget row 1 (answer)"]
    with pytest.raises(ValueError, match=r"^forget row 1 \(answer\): answer must be a non-empty string"):
        tokenize_qa_pairs(tokenizer, pairs, "phi", names=names)
    long = [("Who?", "Bob"), ("Where was Ann born?", "Ann was born in Paris.")]
    with pytest.raises(ValueError, match=r"^b: question\+answer is \d+ tokens, longer .*max_length=9"):
        tokenize_qa_pairs(tokenizer, long, "phi", max_length=9, names=["a", "b"])
    with pytest.raises(ValueError, match="got 1 names for 2 pairs"):
        tokenize_qa_pairs(tokenizer, long, "phi", names=["a"])


def test_pad_batch_left_and_right():
    feats = [{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7]}, {"input_ids": [8]}]
    feats[1].update(attention_mask=[1], labels=[8])
    right = pad_batch(feats, pad_token_id=0)
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert right["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    left = pad_batch(feats, pad_token_id=0, padding_side="left")
    assert left["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]


def test_missing_pad_token_is_a_clear_error(tokenizer):
    plain = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, eos_token="<eos>")
    with pytest.raises(ValueError, match="no pad token.*tokenizer.pad_token = tokenizer.eos_token"):
        require_pad_token(plain)


def test_tokenizer_without_pad_is_padded_with_eos_or_refused(tokenizer, tmp_path):
    padded_dir, eos_only_dir, bare_dir = tmp_path / "padded", tmp_path / "eos_only", tmp_path / "bare"
    tokenizer.save_pretrained(padded_dir)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, eos_token="<eos>").save_pretrained(
        eos_only_dir
    )
    PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer).save_pretrained(bare_dir)

    tok, padded = load_tokenizer_padded_with_eos(str(padded_dir))
    assert (tok.pad_token, padded) == ("<pad>", False)  # an existing pad token is kept
    tok, padded = load_tokenizer_padded_with_eos(str(eos_only_dir))
    assert (tok.pad_token, tok.pad_token_id, padded) == ("<eos>", tok.eos_token_id, True)
    with pytest.raises(ValueError, match="neither a pad nor an EOS token.*tokenizer.pad_token"):
        load_tokenizer_padded_with_eos(str(bare_dir))


def test_split_names_follow_tofu():
    assert retain_split_for("forget05") == "retain95"
    assert eval_split_for("forget01") == "forget01_perturbed"
    assert holdout_split_for("forget10") == "holdout10"
    with pytest.raises(ValueError, match="forget_split must be one of"):
        retain_split_for("forget20")


def _write_tofu_like(folder, rows_by_config):
    """A local dataset laid out like locuslab/TOFU: one config per split, each with a `train` split."""
    lines = ["---", "configs:"]
    for name, rows in rows_by_config.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train", f"    path: {name}.jsonl"]
    (folder / "README.md").write_text("\n".join([*lines, "---", ""]))


def test_load_tofu_reads_configs_like_the_hub_dataset(tmp_path):
    rows = [{"question": "Who?", "answer": "Bob", "paraphrased_answer": "It is Bob", "perturbed_answer": ["Al"]}]
    _write_tofu_like(tmp_path, {"forget10_perturbed": rows, "full": rows * 3})
    ds = load_tofu(tmp_path, "forget10_perturbed", required_columns=("question", "answer", "perturbed_answer"))
    assert ds[0]["perturbed_answer"] == ["Al"]
    assert len(load_tofu(tmp_path, "full")) == 3


def test_load_tofu_missing_column_and_empty_split(tmp_path):
    _write_tofu_like(tmp_path, {"full": [{"question": "Who?", "answer": "Bob"}]})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['paraphrased_answer'\]"):
        load_tofu(tmp_path, "full", required_columns=("question", "answer", "paraphrased_answer"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "forget10.jsonl").write_text("")
    (empty / "README.md").write_text(
        "---\nconfigs:\n- config_name: forget10\n  data_files:\n  - split: train\n    path: forget10.jsonl\n---\n"
    )
    with pytest.raises(ValueError, match="is empty"):
        load_tofu(empty, "forget10")


def test_two_local_datasets_with_the_same_folder_name_do_not_share_a_cache(tmp_path):
    for n, parent in [(2, "world_a"), (5, "world_b")]:
        folder = tmp_path / parent / "data"
        folder.mkdir(parents=True)
        _write_tofu_like(folder, {"forget10": [{"question": f"Q{i}?", "answer": "A"} for i in range(n)]})
    assert len(load_tofu(tmp_path / "world_a" / "data", "forget10")) == 2
    assert len(load_tofu(tmp_path / "world_b" / "data", "forget10")) == 5


def test_unknown_local_split_names_the_available_ones(tmp_path):
    _write_tofu_like(tmp_path, {"full": [{"question": "Who?", "answer": "Bob"}]})
    with pytest.raises(ValueError, match=r"no split \(config\) named 'forget10'; it has \['full'\]"):
        load_tofu(tmp_path, "forget10")
