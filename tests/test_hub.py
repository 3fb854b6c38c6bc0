"""Model cards render with their metadata; pushes reach the (fake) Hub; a missing token fails before anything."""

import pytest
from huggingface_hub import ModelCard

from hf_unlearn.hub import push_to_hub, render_model_card, save_model_card


CARD_DATA = {
    "license": "apache-2.0",
    "tags": ["hf_unlearn", "unlearning", "simnpo"],
    "base_model": "my-org/target",
    "model-index": [
        {
            "name": "unlearned",
            "results": [
                {
                    "task": {"type": "text-generation"},
                    "dataset": {"name": "TOFU forget10", "type": "locuslab/TOFU"},
                    "metrics": [{"type": "forget_quality", "value": 0.42}],
                }
            ],
        }
    ],
}


def test_card_metadata_round_trips(tmp_path):
    path = save_model_card(tmp_path, "unlearned_llm", CARD_DATA, method="SimNPO", forget_split="forget10")
    card = ModelCard.load(path)
    assert card.data.base_model == "my-org/target"
    assert card.data.tags == ["hf_unlearn", "unlearning", "simnpo"]
    assert card.data.eval_results[0].metric_value == 0.42
    assert "SimNPO" in card.text


def test_unknown_template_names_the_choices():
    with pytest.raises(ValueError, match="unknown model card template 'nope'.*unlearned_llm"):
        render_model_card("nope", {})


def test_push_uploads_every_file(tmp_path, fake_hub):
    (tmp_path / "config.json").write_text('{"a": 1}')
    save_model_card(tmp_path, "unlearned_llm", CARD_DATA, method="NPO")
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "optimizer.pt").write_bytes(b"x")
    url = push_to_hub(tmp_path, "me/unlearned", token="hf_fake", endpoint=fake_hub.url)
    assert url.startswith(f"{fake_hub.url}/me/unlearned/commit/")
    files = fake_hub.files("me/unlearned")
    assert sorted(files) == ["README.md", "config.json"]  # checkpoints are not published
    assert files["config.json"] == b'{"a": 1}'
    assert ModelCard(files["README.md"].decode()).data.base_model == "my-org/target"
    assert fake_hub.unknown == []


def test_push_without_token_fails_before_creating_anything(tmp_path, fake_hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no stored login
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    (tmp_path / "model").mkdir()
    with pytest.raises(ValueError, match="hf auth login"):
        push_to_hub(tmp_path / "model", "me/x", endpoint=fake_hub.url)
    assert fake_hub.repos == {} and fake_hub.commits == []
