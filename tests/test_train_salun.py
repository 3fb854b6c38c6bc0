"""examples/diffusion/train_salun.py: the pipeline folder, the mask guarantee after every step and on disk, the card,
the evaluation and the options' help."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch


pytest.importorskip("diffusers")

from diffusers import DiffusionPipeline, StableDiffusionPipeline, UNet2DConditionModel
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_pre_hook

from hf_unlearn.diffusion import load_diffusion_components
from hf_unlearn.saliency import load_saliency_mask, mask_density


SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "diffusion" / "train_salun.py"
FAST = [
    "--world_preset", "test", "--num_forget_images", "2", "--num_retain_images", "1", "--generation_steps", "4",
    "--train_batch_size", "2", "--retain_batch_size", "2", "--learning_rate", "1e-3", "--validation_steps", "0",
    "--eval_attack_steps", "2",
]  # fmt: skip
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


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_salun", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StepRecorder:
    """A global optimizer pre-step hook: before every step of the UNet's optimizer (i.e. after the previous step has
    fully finished), the frozen entries' weights equal the original, and their gradients and optimizer state are 0."""

    def __init__(self, original_unet, mask_file):
        self.names = [n for n, _ in original_unet.named_parameters()]
        self.shapes = [p.shape for _, p in original_unet.named_parameters()]
        self.original = {n: p.detach().clone() for n, p in original_unet.named_parameters()}
        self.mask_file, self.mask = mask_file, None
        self.steps = 0

    def __call__(self, optimizer, args, kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if [p.shape for p in params] != self.shapes:
            return  # another optimizer (an evaluation attack's)
        if self.mask is None:
            self.mask = load_saliency_mask(self.mask_file)  # written before training starts
        for name, p in zip(self.names, params):
            frozen = ~self.mask[name]
            assert torch.equal(p.detach()[frozen], self.original[name][frozen]), (self.steps, name)
            assert p.grad is not None and not p.grad[frozen].any(), (self.steps, name)
            for value in optimizer.state.get(p, {}).values():
                if value.shape == p.shape:
                    assert not value[frozen].any(), (self.steps, name)
        self.steps += 1


def test_trains_saves_pipeline_and_keeps_frozen_weights_after_every_step(script, shapes_world, tmp_path):
    out = tmp_path / "run"
    original = load_diffusion_components(shapes_world.pipeline_path).unet
    recorder = StepRecorder(original, out / "saliency_mask.safetensors")
    handle = register_optimizer_step_pre_hook(recorder)
    try:
        args = [*FAST, "--output_dir", str(out), "--max_train_steps", "3", "--checkpointing_steps", "2"]
        results = script.main(script.parse_args([*args, "--adam_weight_decay", "0.1", "--eval_num_images", "2"]))
    finally:
        handle.remove()
    assert recorder.steps == 3

    # the mask: SalUn's 50%, with the fingerprint of the UNet it was computed for
    mask = load_saliency_mask(out / "saliency_mask.safetensors", original)
    assert mask_density(mask) == pytest.approx(0.5, abs=1e-4)
    # the saved UNet (and the mid-run checkpoint, as a resumed run sees it): frozen entries bit-identical
    unet = UNet2DConditionModel.from_pretrained(out, subfolder="unet")
    checkpoint = load_file(out / "checkpoint-2" / "model.safetensors")
    moved = 0
    for name, p in unet.named_parameters():
        frozen = ~mask[name]
        assert torch.equal(p.detach()[frozen], original.state_dict()[name][frozen]), name
        assert torch.equal(checkpoint[name][frozen], original.state_dict()[name][frozen]), name
        moved += int((p.detach()[~frozen] != original.state_dict()[name][~frozen]).sum())
    assert moved > 0
    # a Stable Diffusion pipeline folder with the unlearned UNet and the original text encoder, as SD ids load
    for cls in (StableDiffusionPipeline, DiffusionPipeline):
        pipe = cls.from_pretrained(out)
        assert type(pipe) is StableDiffusionPipeline and torch.equal(pipe.unet.conv_in.weight, unet.conv_in.weight)
    assert torch.equal(pipe.vae.decoder.conv_out.weight, shapes_world.load_pipeline().vae.decoder.conv_out.weight)
    info = json.loads((out / "salun_config.json").read_text())
    assert info["frozen_weights_bit_identical"] is True and info["config"]["alpha"] == 0.5
    # the same evaluation as AdvUnlearn's, original vs SalUn, in the card as model-index results
    data = json.loads((out / "eval_results.json").read_text())
    assert set(data["pipeline"]) == {"original", "salun"} and (out / "samples.png").is_file()
    card = ModelCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert set(meta) <= STANDARD_KEYS, set(meta) - STANDARD_KEYS
    assert meta["library_name"] == "diffusers" and meta["pipeline_tag"] == "text-to-image"
    assert {"salun", "unlearning", "concept-erasure"} <= set(meta["tags"])
    assert meta["base_model"] == shapes_world.world_id and meta["datasets"] == [shapes_world.world_id]
    assert shapes_world.config_hash in card.text and "a green circle" in card.text
    assert info["world"] == {"world_id": shapes_world.world_id, "config_hash": shapes_world.config_hash}
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert metrics["concept_rate"] == pytest.approx(results["pipeline"]["salun"]["concept_rate"])


def test_mask_path_reuses_a_mask_and_an_existing_output_is_refused(script, shapes_world, tmp_path):
    first = tmp_path / "first"
    script.main(
        script.parse_args([*FAST, "--output_dir", str(first), "--max_train_steps", "1", "--eval_num_images", "0"])
    )
    second = tmp_path / "second"
    mask_file = first / "saliency_mask.safetensors"
    args = [*FAST, "--output_dir", str(second), "--max_train_steps", "1", "--eval_num_images", "0"]
    script.main(script.parse_args([*args, "--mask_path", str(mask_file), "--alpha", "0.2"]))
    reused = load_saliency_mask(second / "saliency_mask.safetensors")
    assert all(torch.equal(reused[n], m) for n, m in load_saliency_mask(mask_file).items())
    with pytest.raises(ValueError, match=r"unet already exists: choose a new --output_dir"):
        script.main(script.parse_args(args))


def test_every_option_has_help(script):
    parser_actions = []
    original = script.argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        parser_actions.extend(self._actions)
        return original(self, args, namespace)

    script.argparse.ArgumentParser.parse_args = capture
    try:
        script.parse_args([])
    finally:
        script.argparse.ArgumentParser.parse_args = original
    options = [a for a in parser_actions if a.option_strings and a.dest != "help"]
    assert len(options) > 40
    assert all(a.help and len(a.help) > 10 for a in options), [a.dest for a in options if not a.help]
