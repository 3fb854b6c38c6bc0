"""Every option of the TOFU job (`hf_unlearn.scripts.unlearn_tofu`, behind `examples/simnpo_tofu.py` and
`hf-unlearn train`) reaches the method's config at a non-default value, and the offline-world recipe fills in only
the options that were not given. (That a config value reaches the loss is checked in `test_values_trainers.py`.)"""

import pytest

from hf_unlearn.scripts.methods import WORLD_COMMON, WORLD_RECIPES
from hf_unlearn.scripts.unlearn_tofu import parse_args


LOSS_OPTIONS = {
    "simnpo": {"beta": 2.5, "gamma": 0.7, "gamma_scaled_by_beta": True, "forget_weight": 0.3, "retain_weight": 2.0},
    "npo": {"beta": 0.35, "forget_weight": 0.3, "retain_weight": 2.0, "retain_loss_type": "kl"},
    "graddiff": {"forget_weight": 0.3, "retain_weight": 2.0, "retain_loss_type": "kl"},
    "ga": {"forget_weight": 0.3, "retain_weight": 2.0, "retain_loss_type": "nll"},
}
TRAINING_OPTIONS = {
    "learning_rate": 7e-5,
    "num_train_epochs": 3.0,
    "per_device_train_batch_size": 5,
    "weight_decay": 0.05,
    "warmup_steps": 0.2,
    "max_grad_norm": 0.5,
    "seed": 11,
    "max_length": 48,
    "qa_template": "chat",
}


def _argv(options):
    argv = []
    for key, value in options.items():
        argv += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return argv


@pytest.mark.parametrize("method", sorted(LOSS_OPTIONS))
def test_given_options_reach_the_config_and_beat_the_world_recipe(method, tmp_path):
    options = {**LOSS_OPTIONS[method], **TRAINING_OPTIONS}
    script_args, config = parse_args([*_argv(options), "--output_dir", str(tmp_path)], method=method)
    for key, value in options.items():
        assert getattr(config, key) == value, key
    assert config.pairing_seed == 11  # follows --seed when not given
    assert script_args.dataset is None  # the offline world: the recipe applied to what was not given


@pytest.mark.parametrize("method", sorted(LOSS_OPTIONS))
def test_options_not_given_take_the_world_recipe_on_a_world_and_the_paper_default_on_real_data(method, tmp_path):
    _, world = parse_args(["--output_dir", str(tmp_path)], method=method)
    for key, value in {**WORLD_COMMON, **WORLD_RECIPES[method]}.items():
        assert getattr(world, key) == value, key
    _, real = parse_args(["--dataset", "locuslab/TOFU", "--output_dir", str(tmp_path)], method=method)
    defaults = type(real)(output_dir=str(tmp_path), use_cpu=real.use_cpu)
    for key in WORLD_RECIPES[method]:
        assert getattr(real, key) == getattr(defaults, key), key


def test_script_options_reach_the_script_arguments(tmp_path):
    options = {
        "preset": "test",
        "world_seed": 3,
        "forget_split": "forget05",
        "eval_points": 2,
        "eval_batch_size": 7,
        "eval_max_new_tokens": 9,
        "eval_max_items": 4,
        "salun_sparsity": 0.25,
        "lora_r": 4,
        "lora_alpha": 8,
    }
    script_args, _ = parse_args([*_argv(options), "--use_peft", "true", "--output_dir", str(tmp_path)])
    for key, value in options.items():
        assert getattr(script_args, key) == value, key
    assert script_args.use_peft is True
