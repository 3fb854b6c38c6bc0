"""examples/diffusion/train_advunlearn.py: outputs, model card, Hub push, checkpoints/resume and bad input."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch


pytest.importorskip("diffusers")

from huggingface_hub import ModelCard
from scipy.stats import fisher_exact
from transformers import CLIPTextModel

from tests.launch import accelerate_launch


SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "diffusion" / "train_advunlearn.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_advunlearn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAST = [
    "--world_preset", "test", "--ddim_steps", "4", "--trajectories_per_prompt", "1", "--train_batch_size", "2",
    "--retain_batch", "2", "--attack_step", "2", "--warmup_iter", "1", "--learning_rate", "1e-3",
    "--validation_steps", "0", "--eval_attack_steps", "2", "--no_eval_transfer",
]  # fmt: skip


# the keys the Hub knows for a model card; anything else would be ignored or rejected there
STANDARD_KEYS = {
    "library_name",
    "pipeline_tag",
    "tags",
    "base_model",
    "datasets",
    "license",
    "language",
    "model-index",
}


def _assert_standard_metadata(card: ModelCard, world, method: str) -> None:
    meta = card.data.to_dict()
    assert set(meta) <= STANDARD_KEYS, set(meta) - STANDARD_KEYS
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-to-image"
    # the world's recorded id as the base model and data set; its id and config hash in the text
    assert meta["base_model"] == world.world_id == world.info["world_id"] and meta["datasets"] == [world.world_id]
    assert {method, "concept-erasure", "unlearning", "stable-diffusion-diffusers"} <= set(meta["tags"])
    assert world.world_id in card.text and world.config_hash in card.text and "'red' erased" in card.text
    assert "StableDiffusionPipeline.from_pretrained(world.pipeline_path, text_encoder=text_encoder)" in card.text


def test_trains_saves_encoder_card_and_evaluation(script, shapes_world, tmp_path):
    out = tmp_path / "run"
    results = script.main(
        script.parse_args([*FAST, "--output_dir", str(out), "--max_train_steps", "2", "--eval_num_images", "2"])
    )
    # a plain CLIPTextModel folder (safetensors), loadable by path and by subfolder
    assert (out / "text_encoder" / "model.safetensors").is_file()
    erased = CLIPTextModel.from_pretrained(out / "text_encoder")
    CLIPTextModel.from_pretrained(out, subfolder="text_encoder")
    original = CLIPTextModel.from_pretrained(shapes_world.pipeline_path, subfolder="text_encoder")
    changed = [n for n, p in erased.state_dict().items() if not torch.equal(p, original.state_dict()[n])]
    assert changed and all(n.startswith(("encoder.layers", "final_layer_norm")) for n in changed)
    assert erased.config.hf_unlearn_world == original.config.hf_unlearn_world  # the world travels with the encoder
    # evaluation: original vs advunlearn, JSON + grid, in the card too
    data = json.loads((out / "eval_results.json").read_text())
    assert (
        set(data["pipeline"]) == {"original", "advunlearn"} and results["pipeline"]["advunlearn"]["concept_rate"] >= 0
    )
    assert (out / "samples.png").is_file()
    card = ModelCard.load(out / "README.md")
    _assert_standard_metadata(card, shapes_world, "advunlearn")
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}  # results in model-index form
    assert metrics["concept_rate"] == pytest.approx(results["pipeline"]["advunlearn"]["concept_rate"])
    assert set(metrics) == {"concept_rate", "asr_discrete", "asr_soft", "retain_accuracy", "retain_image_distance"}
    assert "a red circle" in card.text and "samples.png" in card.text and "| advunlearn |" in card.text
    info = json.loads((out / "advunlearn_config.json").read_text())
    assert info["config"]["attack_method"] == "pgd" and info["config"]["warmup_steps"] == 1


def _red_rate(pipe, world, detector, n: int = 8) -> float:
    """Fraction of the pipeline's images of the three red prompts that the world's detector calls red."""
    pipe.set_progress_bar_config(disable=True)
    cfg = world.config
    images = pipe(
        world.concept_prompts("red") * n,
        num_inference_steps=cfg.num_inference_steps,
        guidance_scale=cfg.guidance_scale,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images
    return float(np.mean([c == "red" for c in detector.predict(images)["color"]]))


def test_trained_encoder_swapped_into_stable_diffusion_pipelines_erases_red(script, shapes_world, tmp_path):
    """The user's path: train with the script, `CLIPTextModel.from_pretrained` the result, pass it to
    `StableDiffusionPipeline.from_pretrained` (main and transfer pipelines, their own PNDM sampler) and generate: red
    shows less often than with the original encoder, on the same seeds. How much less depends on the world's draw
    (version-3 test world: main 1.0 -> under 0.5, transfer, a UNet the encoder was never trained against, 1.0 -> 0.71;
    version 4: 1.0 -> 0.0 and 1.0 -> 0.17), so the claim is a one-sided Fisher exact test on the 24 images of each
    pipeline at p < 0.01 (with the original at 24 of 24, at most 17 of 24 erased images may show red)."""
    from diffusers import StableDiffusionPipeline

    out = tmp_path / "swap"
    args = [*FAST, "--output_dir", str(out), "--max_train_steps", "30", "--learning_rate", "3e-3",
            "--eval_num_images", "0"]  # fmt: skip
    script.main(script.parse_args(args))
    erased = CLIPTextModel.from_pretrained(out, subfolder="text_encoder")
    detector = shapes_world.load_detector()
    rates = {}
    for path in (shapes_world.pipeline_path, shapes_world.transfer_pipeline_path):
        swapped = StableDiffusionPipeline.from_pretrained(path, text_encoder=erased)
        assert swapped.text_encoder is erased
        rates[path.name] = (
            _red_rate(StableDiffusionPipeline.from_pretrained(path), shapes_world, detector),
            _red_rate(swapped, shapes_world, detector),
        )
    assert min(original for original, _ in rates.values()) >= 0.5, rates  # the world renders red before erasure
    n = 3 * 8  # _red_rate: 8 images of each of the 3 red prompts
    for name, (original, swapped) in rates.items():  # plug-and-play: the transfer pipeline too
        red = [round(original * n), round(swapped * n)]
        p = fisher_exact([[red[0], n - red[0]], [red[1], n - red[1]]], alternative="greater").pvalue
        assert p < 0.01, (name, rates, p)


def test_esd_baseline_flag_and_refuses_to_overwrite(script, shapes_world, tmp_path):
    out = tmp_path / "esd"
    args = [*FAST, "--output_dir", str(out), "--max_train_steps", "1", "--method", "esd", "--eval_num_images", "0"]
    script.main(script.parse_args(args))
    assert json.loads((out / "advunlearn_config.json").read_text())["config"]["attack_method"] == "none"
    _assert_standard_metadata(ModelCard.load(out / "README.md"), shapes_world, "esd")
    assert (out / "validation").is_dir()  # without evaluation, a validation grid is still logged
    before = (out / "text_encoder" / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        script.main(script.parse_args(args))
    assert (out / "text_encoder" / "model.safetensors").read_bytes() == before


def test_checkpoint_and_resume(script, shapes_world, tmp_path):
    out = tmp_path / "ckpt"
    common = [*FAST, "--output_dir", str(out), "--checkpointing_steps", "1", "--eval_num_images", "0"]
    script.main(script.parse_args([*common, "--max_train_steps", "2", "--checkpoints_total_limit", "1"]))
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    first = CLIPTextModel.from_pretrained(out / "text_encoder").state_dict()
    script.main(script.parse_args([*common, "--max_train_steps", "3", "--resume_from_checkpoint", "latest"]))
    assert (out / "checkpoint-3").is_dir()
    resumed = CLIPTextModel.from_pretrained(out / "text_encoder").state_dict()
    assert any(not torch.equal(first[n], resumed[n]) for n in first)


def test_push_to_fake_hub_with_card_metadata(script, shapes_world, tmp_path, fake_hub, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", fake_hub.url)
    out = tmp_path / "push"
    args = [*FAST, "--output_dir", str(out), "--max_train_steps", "1", "--eval_num_images", "0", "--push_to_hub",
            "--hub_model_id", "me/advunlearn-red", "--hub_token", "hf_fake"]  # fmt: skip
    script.main(script.parse_args(args))
    files = fake_hub.files("me/advunlearn-red")
    assert {"README.md", "text_encoder/config.json", "text_encoder/model.safetensors"} <= set(files)
    assert not any(p.startswith(("checkpoint-", "logs/", "validation/")) for p in files)
    card = ModelCard(files["README.md"].decode())
    _assert_standard_metadata(card, shapes_world, "advunlearn")
    assert 'CLIPTextModel.from_pretrained("me/advunlearn-red", subfolder="text_encoder")' in card.text


def test_no_token_fails_before_anything_is_written(script, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    out = tmp_path / "never"
    with pytest.raises(ValueError, match="HF_TOKEN"):
        script.main(script.parse_args([*FAST, "--output_dir", str(out), "--push_to_hub", "--hub_model_id", "me/x"]))
    assert not out.exists()


def test_concept_that_tokenises_to_nothing_fails_before_anything_is_written(script, shapes_world, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match="tokenises to no known token"):
        script.main(script.parse_args([*FAST, "--output_dir", str(out), "--concept_prompts", "!!! ???"]))
    assert not out.exists()


def test_pipeline_whose_text_encoder_is_not_clip(script, tmp_path):
    folder = tmp_path / "sd3"
    folder.mkdir()
    (folder / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusion3Pipeline", "text_encoder": ["transformers", "T5EncoderModel"],
                    "tokenizer": ["transformers", "T5TokenizerFast"], "unet": ["diffusers", "UNet2DConditionModel"],
                    "scheduler": ["diffusers", "DDIMScheduler"]})
    )  # fmt: skip
    out = tmp_path / "never"
    with pytest.raises(TypeError, match="not a CLIPTextModel"):
        script.main(
            script.parse_args(
                ["--pretrained_model_name_or_path", str(folder), "--concept", "x", "--output_dir", str(out)]
            )
        )
    assert not out.exists()


def test_help_documents_diffusers_flags(script, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ["--pretrained_model_name_or_path", "--output_dir", "--max_train_steps", "--learning_rate",
                 "--mixed_precision", "--push_to_hub", "--hub_model_id", "--report_to", "--resume_from_checkpoint",
                 "--method", "--attack_method"]:  # fmt: skip
        assert flag in text


def test_two_process_ddp_run_trains_one_encoder(shapes_world, tmp_path):
    """Under `accelerate launch --multi_gpu --num_processes 2` on a CPU-only machine the script must really run as
    two ranks (gloo), not as two independent rank-0 processes racing to write the same folder."""
    out = tmp_path / "ddp"
    accelerate_launch(SCRIPT, [*FAST, "--output_dir", str(out), "--max_train_steps", "2", "--eval_num_images", "0"])
    info = json.loads((out / "advunlearn_config.json").read_text())
    assert info["num_processes"] == 2
    erased = CLIPTextModel.from_pretrained(out / "text_encoder")
    original = CLIPTextModel.from_pretrained(shapes_world.pipeline_path, subfolder="text_encoder")
    changed = [n for n, p in erased.state_dict().items() if not torch.equal(p, original.state_dict()[n])]
    assert changed and all(n.startswith(("encoder.layers", "final_layer_norm")) for n in changed)


def _card_fields(**overrides):
    fields = {
        "model_name": "AdvUnlearn text encoder: 'nudity' erased", "repo_id": "me/advunlearn-nudity",
        "base_model": "CompVis/stable-diffusion-v1-4", "world": None, "world_hash": None, "world_preset": "default",
        "method": "advunlearn", "concept": "nudity", "concept_prompts": ["nudity"],
        "retain_prompts": ["a photo of a dog"], "train_method": "text_encoder_full", "max_train_steps": 1000,
        "learning_rate": 1e-5, "negative_guidance": 1.0, "start_guidance": 3.0, "retain_loss_w": 0.3,
        "attack_method": "pgd", "adv_prompt_num": 1, "attack_type": "prefix", "attack_step": 30, "attack_lr": 1e-3,
        "attack_init": "latest", "warmup_iter": 200, "seed": 0, "results_table": None, "table_warnings": [],
        "sample_grid": None,
    }  # fmt: skip
    fields.update(overrides)
    return fields


def test_card_for_a_hub_base_model_and_for_an_uninformative_table():
    from hf_unlearn.hub import render_model_card

    meta = {
        "library_name": "transformers",
        "pipeline_tag": "text-to-image",
        "base_model": "CompVis/stable-diffusion-v1-4",
    }
    card = render_model_card("advunlearn_text_encoder", meta, **_card_fields())
    assert card.data.base_model == "CompVis/stable-diffusion-v1-4"
    assert (
        'StableDiffusionPipeline.from_pretrained("CompVis/stable-diffusion-v1-4", text_encoder=text_encoder)'
        in str(card)
    )
    assert "load_shapes_world" not in str(card) and "No automatic evaluation" in str(card)
    warning = "every ASR on pipeline_transfer is 0: the attacks never succeed"
    card = render_model_card(
        "advunlearn_text_encoder",
        meta,
        **_card_fields(results_table="| text encoder | concept rate |\n|---|---|", table_warnings=[warning]),
    )
    assert f"- **Uninformative:** {warning}." in str(card)
