"""Evaluation during training (`hf_unlearn.eval.callbacks`): metrics logged through the Trainer, the best checkpoint
picked from them by `load_best_model_at_end`, and the same numbers with 1 and 2 processes."""

import json
import textwrap

import pytest
import torch

from hf_unlearn import GradAscentConfig, GradAscentTrainer
from hf_unlearn.data import build_forget_retain_dataset
from hf_unlearn.eval import TofuEvaluator
from hf_unlearn.eval.callbacks import EvalMetricsCallback, TofuEvalCallback
from tests.launch import TWO_PROCESSES, accelerate_launch


KEY = "eval_tofu_forget_Q_A_Prob"


def _trainer(world, out, eval_dataset=True, **config):
    tokenizer = world.load_tokenizer()
    data = build_forget_retain_dataset(
        tokenizer, world.load_split("forget10"), world.load_split("retain90"), template=world.template, seed=0
    )
    args = GradAscentConfig(
        output_dir=str(out), per_device_train_batch_size=4, learning_rate=2e-3, warmup_steps=0, logging_steps=1,
        use_cpu=True, disable_tqdm=True, seed=0, report_to="none", **config,
    )  # fmt: skip
    trainer = GradAscentTrainer(
        world.load_model("target"),
        args,
        train_dataset=data,
        eval_dataset=data if eval_dataset else None,
        processing_class=tokenizer,
    )
    return trainer, tokenizer


def test_load_best_model_at_end_picks_the_checkpoint_with_the_best_logged_metric(tofu_world, tmp_path):
    trainer, tokenizer = _trainer(
        tofu_world, tmp_path / "run", max_steps=6, eval_strategy="steps", eval_steps=2, save_strategy="steps",
        save_steps=2, load_best_model_at_end=True, metric_for_best_model="tofu_forget_Q_A_Prob",
        greater_is_better=True,
    )  # fmt: skip
    evaluator = TofuEvaluator(tokenizer, tofu_world, eval_sets=("forget",), max_new_tokens=4, privacy=False)
    trainer.add_callback(TofuEvalCallback(trainer, evaluator, metrics=("forget_Q_A_Prob", "forget_truth_ratio")))
    trainer.train()
    logged = [h for h in trainer.state.log_history if KEY in h]
    assert [h["step"] for h in logged] == [2, 4, 6]  # once per evaluation, not twice
    values = {h["step"]: h[KEY] for h in logged}
    # gradient ascent on the forget set lowers its answer probability: the first evaluation is the best one
    assert values[2] > values[4] > values[6], values
    best = max(values, key=values.get)
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best}")
    assert trainer.state.best_metric == pytest.approx(values[best])
    # the model left in the trainer is the best checkpoint, not the last state
    reloaded = evaluator(trainer.model)["summary"]["forget_Q_A_Prob"]
    assert reloaded == pytest.approx(values[best], rel=1e-5) and reloaded != pytest.approx(values[6], rel=1e-3)


def test_eval_steps_logs_without_an_eval_dataset_and_the_metric_matches_a_direct_evaluation(tofu_world, tmp_path):
    trainer, tokenizer = _trainer(tofu_world, tmp_path / "run", eval_dataset=False, max_steps=3, save_strategy="no")
    evaluator = TofuEvaluator(tokenizer, tofu_world, eval_sets=("forget",), max_new_tokens=4, privacy=False)
    seen = {}

    def evaluate(model):
        seen["summary"] = evaluator(model)["summary"]
        seen["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return seen["summary"]

    trainer.add_callback(EvalMetricsCallback(trainer, evaluate, prefix="tofu", eval_steps=3))
    trainer.train()
    logged = [h for h in trainer.state.log_history if KEY in h]
    assert [h["step"] for h in logged] == [3]
    assert logged[0][KEY] == seen["summary"]["forget_Q_A_Prob"]
    assert "eval_tofu_forget_quality" not in logged[0]  # None (no retain results) is not logged
    for k, v in trainer.model.state_dict().items():  # evaluated at the end of step 3: the final weights
        assert torch.equal(v, seen["state"][k])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"trainer": None}, TypeError, "trainer must be the transformers.Trainer"),
        ({"evaluate": "forget"}, TypeError, "evaluate must be a callable"),
        ({"eval_steps": 0}, ValueError, "eval_steps must be a positive integer"),
        ({"prefix": "eval_tofu"}, ValueError, "without 'eval_'"),
    ],
)
def test_callback_bad_input(kwargs, error, message):
    class FakeTrainer:
        def log(self, logs):
            pass

    arguments = {"trainer": FakeTrainer(), "evaluate": lambda m: {}, **kwargs}
    with pytest.raises(error, match=message):
        EvalMetricsCallback(**arguments)


_DDP_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    from hf_unlearn import GradAscentConfig, GradAscentTrainer
    from hf_unlearn.data import build_forget_retain_dataset
    from hf_unlearn.eval import TofuEvaluator
    from hf_unlearn.eval.callbacks import TofuEvalCallback
    from hf_unlearn.synthetic import TofuWorld

    world_path, out, per_device = sys.argv[1], sys.argv[2], int(sys.argv[3])
    world = TofuWorld.from_path(world_path)
    tok = world.load_tokenizer()
    data = build_forget_retain_dataset(tok, world.load_split("forget10"), world.load_split("retain90"),
                                       template=world.template, seed=0)
    args = GradAscentConfig(output_dir=out, per_device_train_batch_size=per_device, max_steps=4, learning_rate=2e-3,
                            warmup_steps=0, logging_steps=1, use_cpu=True, disable_tqdm=True, seed=0,
                            report_to="none", save_strategy="no")
    trainer = GradAscentTrainer(world.load_model("target"), args, train_dataset=data, processing_class=tok)
    evaluator = TofuEvaluator(tok, world, eval_sets=("forget",), max_new_tokens=8, privacy=False)
    retain = evaluator(world.load_model("retain90"))
    trainer.add_callback(TofuEvalCallback(trainer, evaluator, retain_results=retain, eval_steps=2))
    trainer.train()
    rank = int(os.environ.get("RANK", 0))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump([h for h in trainer.state.log_history if "eval_tofu_forget_Q_A_Prob" in h], f)
    trainer.end_distributed()  # a bare exit can abort a gloo rank
    """
)


def test_one_and_two_processes_log_the_same_in_training_metrics(tofu_world, tmp_path):
    """Same global batch (4) as 1 x 4 and as 2 ranks x 2: the metrics logged at steps 2 and 4 agree, and both ranks
    log the main process's numbers."""
    script = tmp_path / "ddp_eval.py"
    script.write_text(_DDP_SCRIPT)
    runs = {}
    for name, launch, per_device in (("one", ["--cpu", "--num_processes", "1"], 4), ("two", TWO_PROCESSES, 2)):
        out = tmp_path / name
        out.mkdir()
        accelerate_launch(script, [str(tofu_world.path), str(out), str(per_device)], launch, timeout=300)
        runs[name] = out
    single = json.loads((runs["one"] / "rank0.json").read_text())
    rank0 = json.loads((runs["two"] / "rank0.json").read_text())
    rank1 = json.loads((runs["two"] / "rank1.json").read_text())
    assert [h["step"] for h in single] == [h["step"] for h in rank0] == [2, 4]
    assert rank0 == rank1
    keys = [k for k in single[0] if k.startswith("eval_tofu_")]
    assert {"eval_tofu_forget_quality", "eval_tofu_forget_truth_ratio", KEY} <= set(keys)
    for a, b in zip(single, rank0):
        for key in keys:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (key, a, b)
    assert single[0][KEY] > single[1][KEY]  # the metric moved with training: the comparison is not trivial
