"""Model cards written by the trainers: `trainer.train(); trainer.push_to_hub()` against the fake Hub publishes our
card (not the generic Trainer card) for a full model, a LoRA adapter and a merged model, with standard metadata that
`huggingface_hub.ModelCard` parses."""

import copy

import huggingface_hub.constants
import pytest
import torch
from huggingface_hub import ModelCard

from hf_unlearn import NPOConfig, NPOTrainer, SalUnMask, SimNPOConfig, SimNPOTrainer
from hf_unlearn.data import ForgetRetainCollator, ForgetRetainDataset
from hf_unlearn.trainer.model_card import is_hub_id
from tests.test_trainers import FORGET, RETAIN, _args, _tiny_model


BASE = "my-org/tiny-target"


@pytest.fixture
def hub(fake_hub, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", fake_hub.url)
    # Trainer.push_to_hub uploads through transformers' shared HfApi, which keeps the endpoint it was created with
    monkeypatch.setattr("transformers.utils.hub._hf_api", None)
    return fake_hub


def _model():
    torch.set_num_threads(1)
    model = _tiny_model()
    model.config._name_or_path = BASE  # what from_pretrained("my-org/tiny-target") records
    return model


def _pushed_card(hub, repo: str) -> ModelCard:
    files = hub.files(repo)
    assert "README.md" in files, sorted(files)
    return ModelCard(files["README.md"].decode())


def _hub_args(cls, tmp_path, repo, **kw):
    return _args(cls, tmp_path, push_to_hub=True, hub_model_id=repo, hub_token="hf_fake", num_train_epochs=1, **kw)


def test_full_model_card_after_train_and_push(tmp_path, hub):
    args = _hub_args(SimNPOConfig, tmp_path, "me/simnpo-full", beta=2.5, gamma=0.5, eval_strategy="epoch")
    data = ForgetRetainDataset(FORGET, RETAIN)
    trainer = SimNPOTrainer(_model(), args, train_dataset=data, eval_dataset=data)
    trainer.train()
    trainer.create_model_card(dataset_name="locuslab/TOFU", forget_split="forget10")
    trainer.push_to_hub()

    card = _pushed_card(hub, "me/simnpo-full")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-generation"
    assert card.data.base_model == BASE and card.data.datasets == ["locuslab/TOFU"]
    assert {"unlearning", "simnpo", "hf_unlearn"} <= set(card.data.tags) and "lora" not in card.data.tags
    assert "salun" not in card.data.tags
    # results in model-index form: the last evaluation logged by the trainer
    last_eval = [log for log in trainer.state.log_history if "eval_loss" in log][-1]
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert metrics["loss"] == pytest.approx(last_eval["eval_loss"])
    assert metrics["forget/loss"] == pytest.approx(last_eval["eval_forget/loss"])
    assert card.data.eval_results[0].dataset_type == "locuslab/TOFU"
    assert card.data.eval_results[0].dataset_split == "forget10"
    # the method's hyperparameters (config fields beyond TrainingArguments) are in the body
    for line in ("`beta`: 2.5", "`gamma`: 0.5", "`retain_loss_type`: nll", "`learning_rate`: 0.005"):
        assert line in card.text, line
    assert "2410.07163" in card.text  # SimNPO's paper
    # the same card sits in output_dir, and a later save_model writes it again
    trainer.save_model(str(tmp_path / "again"))
    assert ModelCard.load(tmp_path / "again" / "README.md").data.datasets == ["locuslab/TOFU"]


def test_lora_adapter_and_merged_cards(tmp_path, hub):
    from peft import LoraConfig

    args = _hub_args(NPOConfig, tmp_path, "me/npo-lora", learning_rate=1e-2)
    trainer = NPOTrainer(
        _model(),
        args,
        train_dataset=ForgetRetainDataset(FORGET, RETAIN),
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    trainer.train()
    trainer.push_to_hub()

    files = hub.files("me/npo-lora")
    assert "adapter_config.json" in files
    adapter = _pushed_card(hub, "me/npo-lora")
    assert adapter.data.library_name == "peft" and adapter.data.base_model == BASE
    assert {"lora", "npo", "unlearning"} <= set(adapter.data.tags)
    assert "AutoPeftModelForCausalLM" in adapter.text and "reference model: adapter" in adapter.text

    merged_dir = trainer.save_merged_model(tmp_path / "merged")
    merged = ModelCard.load(merged_dir / "README.md")
    assert merged.data.library_name == "transformers" and merged.data.base_model == BASE
    assert "lora" in merged.data.tags and "AutoModelForCausalLM" in merged.text
    assert "merged into its base weights" in merged.text


def test_salun_run_card_says_salun(tmp_path, hub):
    forget = ForgetRetainDataset(FORGET)
    mask = SalUnMask(forget_dataset=forget.forget, sparsity=0.5, data_collator=_forget_collator)
    args = _hub_args(SimNPOConfig, tmp_path, "me/salun", max_steps=1)
    trainer = SimNPOTrainer(_model(), args, train_dataset=ForgetRetainDataset(FORGET, RETAIN), callbacks=[mask])
    trainer.train()
    trainer.push_to_hub()
    card = _pushed_card(hub, "me/salun")
    assert "salun" in card.data.tags and "`salun_sparsity`: 0.5" in card.text and "SalUn" in card.text


def _forget_collator(rows):
    return ForgetRetainCollator(pad_token_id=0)([{"forget": r} for r in rows])["forget"]


def test_local_paths_stay_out_of_metadata(tmp_path):
    model = _model()
    model.config._name_or_path = str(tmp_path)  # a local folder, as the offline world's models are
    trainer = SimNPOTrainer(
        model, _args(SimNPOConfig, tmp_path, max_steps=1), train_dataset=ForgetRetainDataset(FORGET, RETAIN)
    )
    path = trainer.create_model_card(dataset_name=str(tmp_path), world="tofu-abc (mini-TOFU preset test)")
    card = ModelCard.load(path)
    assert card.data.base_model is None and card.data.datasets is None
    assert f"`{tmp_path}`" in card.text and "tofu-abc (mini-TOFU preset test)" in card.text
    assert [is_hub_id(x) for x in ("org/name", "name", "a/b/c", str(tmp_path))] == [True, True, False, False]


def test_trainer_card_is_not_the_generic_one(tmp_path, hub):
    args = _hub_args(SimNPOConfig, tmp_path, "me/generic", max_steps=1)
    trainer = SimNPOTrainer(copy.deepcopy(_model()), args, train_dataset=ForgetRetainDataset(FORGET, RETAIN))
    trainer.train()
    trainer.push_to_hub()
    text = hub.files("me/generic")["README.md"].decode()
    assert "machine unlearning" in text and "This model is a fine-tuned version" not in text
