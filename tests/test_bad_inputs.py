"""A catalogue of bad inputs and faults, across the LLM trainers, the evaluator, SalUn, AdvUnlearn, the Hub helpers and
the worlds. Every case asserts (1) the error type, (2) a message that names the field and the fix, and (3) that no
file that existed before the call was lost or changed. The README's troubleshooting table lists the same cases
(`python -m tests.test_bad_inputs` prints it from the docstrings).

Kills during saving, with real processes, are in `tests/test_fault_injection.py`.
"""

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback

from hf_unlearn import SimNPOConfig, SimNPOTrainer
from hf_unlearn.data import ForgetRetainDataset
from tests.launch import REPO


VOCAB = 64
CASES: dict[str, Callable] = {}


def case(area: str, bad_input: str, fix: str) -> Callable:
    """Registers a catalogue case: `area`, `bad_input` and the `fix` the message gives are its README table row."""

    def register(fn: Callable) -> Callable:
        fn.area, fn.bad_input, fn.fix = area, bad_input, fix
        CASES[fn.__name__] = fn
        return fn

    return register


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@contextmanager
def untouched(root: Path) -> Iterator[None]:
    """Asserts that every file under `root` before the block is still there, byte for byte, after it."""
    before = _snapshot(root)
    yield
    after = _snapshot(root)
    lost = [p for p in before if p not in after]
    changed = [p for p in before if p in after and after[p] != before[p]]
    assert not lost and not changed, f"lost {lost}, changed {changed}"


def _rows(n: int, seed: int) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        ids = torch.randint(3, VOCAB, (8 + i % 3,), generator=g).tolist()
        out.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
    return out


FORGET, RETAIN = _rows(8, 1), _rows(16, 2)


def _model(seed: int = 0, pad: int | None = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, pad_token_id=pad, eos_token_id=1 if pad is not None else None,
        max_position_embeddings=32,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def _args(tmp_path: Path, **kw) -> SimNPOConfig:
    defaults = {
        "output_dir": str(tmp_path / "out"), "per_device_train_batch_size": 4, "learning_rate": 1e-2,
        "warmup_steps": 0, "max_steps": 3, "logging_steps": 1, "use_cpu": True, "disable_tqdm": True, "seed": 0,
    }  # fmt: skip
    defaults.update(kw)
    return SimNPOConfig(**defaults)


def _trainer(tmp_path: Path, model=None, callbacks=None, **kw) -> SimNPOTrainer:
    return SimNPOTrainer(
        model if model is not None else _model(),
        _args(tmp_path, **kw),
        train_dataset=ForgetRetainDataset(FORGET, RETAIN),
        callbacks=callbacks,
    )


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _saved_model(folder: Path) -> Path:
    """A user's earlier model folder (must survive every failure below)."""
    _model(seed=5).save_pretrained(folder)
    return folder


def _eval(argv: list[str]):
    from hf_unlearn.cli import build_parser

    args = build_parser().parse_args(["eval", "tofu", *argv])
    return args.func(args)


def _expect_eval_error(
    tmp_path: Path, request, argv: list[str], match: str, outputs: tuple[str, ...] = ("r.json",)
) -> None:
    """`hf-unlearn eval tofu ARGV --output_file OUTPUTS` on the test world fails with `match` before any evaluation
    starts."""
    world = request.getfixturevalue("tofu_world")
    request.getfixturevalue("no_evaluation")
    argv = [a.replace("{world}", str(world.path)) for a in argv]
    with untouched(tmp_path), pytest.raises(ValueError, match=match):
        _eval([*argv, "--output_file", *(str(tmp_path / name) for name in outputs)])


@pytest.fixture
def no_evaluation(monkeypatch):
    """Fails the test if an evaluation starts (the checks must come first)."""
    from hf_unlearn.eval import tofu

    def forbidden(*args, **kwargs):
        raise AssertionError("an evaluation started before the inputs were checked")

    monkeypatch.setattr(tofu, "evaluate_tofu", forbidden)


# ---------------------------------------------------------------------------------------------------------------
# LLM trainers and their data


@case("data", "empty forget set", "pass at least one forget example")
def empty_forget_set(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"forget set is empty.*at least one forget example"):
        ForgetRetainDataset([], RETAIN)


@case(
    "data",
    "forget rows without `input_ids`/`labels` (untokenised QA)",
    "tokenise with `build_forget_retain_dataset(tokenizer, forget, retain, template=...)`",
)
def missing_token_columns(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"needs `input_ids` and `labels`.*build_forget_retain"):
        ForgetRetainDataset([{"question": "q?", "answer": "a."}])


@case("data", "TOFU data missing the `answer` column", "give the data TOFU's `question`/`answer` columns")
def missing_qa_column(tmp_path, request):
    from datasets import Dataset

    from hf_unlearn.data.tofu import validate_qa_dataset

    with untouched(tmp_path), pytest.raises(ValueError, match=r"missing column\(s\) \['answer'\].*locuslab/TOFU"):
        validate_qa_dataset(Dataset.from_list([{"question": "q?"}]), ("question", "answer"), "forget10")


@case("data", "zero-length answer (every label -100)", "drop the row, or raise `max_length`")
def zero_length_answer(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"forget\[0\] has no answer tokens.*drop the row"):
        ForgetRetainDataset([{"input_ids": [5, 6, 7], "labels": [-100, -100, -100]}])


@case(
    "trainers",
    "no pad token (tokenizer and model config have neither pad nor eos)",
    "pass `processing_class=tokenizer` with `tokenizer.pad_token` set",
)
def no_pad_token(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"cannot pad batches.*tokenizer.pad_token"):
        _trainer(tmp_path, model=_model(pad=None))


@case(
    "trainers",
    "a plain list as `train_dataset`",
    "pass `DatasetDict(forget=..., retain=...)` or a `ForgetRetainDataset`",
)
def wrong_dataset_type(tmp_path, request):
    match = r"train_dataset must be a DatasetDict\(forget=..., retain=...\).*ForgetRetainDataset; got list"
    with untouched(tmp_path), pytest.raises(TypeError, match=match):
        SimNPOTrainer(_model(), _args(tmp_path), train_dataset=FORGET)


@case(
    "trainers", "retain term on, no retain set", "pass a retain set, or `retain_weight=0` / `retain_loss_type='none'`"
)
def missing_retain_set(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"no retain examples.*retain_weight=0"):
        SimNPOTrainer(_model(), _args(tmp_path), train_dataset=ForgetRetainDataset(FORGET))


@case(
    "trainers",
    "data tokenised with another tokenizer (token ids beyond the model's vocabulary)",
    "tokenise with the model's own tokenizer",
)
def data_from_another_tokenizer(tmp_path, request):
    rows = [{"input_ids": [5, 6, VOCAB + 10, 7], "labels": [-100, 6, VOCAB + 10, 7]}]
    with untouched(tmp_path), pytest.raises(ValueError, match=r"holds token id 74.*has 64 rows.*model's tokenizer"):
        SimNPOTrainer(_model(), _args(tmp_path), train_dataset=ForgetRetainDataset(rows, RETAIN))


@case(
    "trainers",
    "a tokenised example longer than `max_length`",
    "rebuild with `build_forget_retain_dataset(..., max_length=...)`, or pass raw data so the trainer truncates",
)
def example_longer_than_max_length(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"example of 10 tokens, longer than max_length=6"):
        SimNPOTrainer(_model(), _args(tmp_path, max_length=6), train_dataset=ForgetRetainDataset(FORGET, RETAIN))


@case(
    "trainers",
    "raw QA rows whose whole answer `max_length` cuts away",
    "raise `max_length`, shorten the prompt, or drop the row",
)
def answer_truncated_away(tmp_path, request):
    from datasets import Dataset
    from transformers import AutoTokenizer

    world = request.getfixturevalue("tofu_world")
    tokenizer = AutoTokenizer.from_pretrained(world.model_path("target"))
    model = LlamaForCausalLM.from_pretrained(world.model_path("target"))
    long_question = {"question": "Who wrote the book about the river and the city? " * 4, "answer": "A writer."}
    data = {"forget": Dataset.from_list([long_question]), "retain": Dataset.from_list([long_question])}
    args = _args(tmp_path, max_length=12)
    with (
        untouched(tmp_path),
        pytest.raises(ValueError, match=r"forget row 0: max_length=12 cuts away its whole answer"),
    ):
        SimNPOTrainer(model, args, train_dataset=data, processing_class=tokenizer)


@case("trainers", "`learning_rate=inf` / `nan` / `0` in the config", "a finite `learning_rate` > 0 (papers: 1e-5)")
def non_finite_learning_rate_in_config(tmp_path, request):
    for lr in (math.inf, math.nan, 0.0):
        with untouched(tmp_path), pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0"):
            _args(tmp_path, learning_rate=lr)


@case(
    "trainers",
    "`forget_weight=0`, unknown `retain_loss_type`",
    "`forget_weight` > 0; `retain_loss_type` in nll / kl / none",
)
def bad_loss_weights(tmp_path, request):
    with untouched(tmp_path), pytest.raises(ValueError, match=r"forget_weight=0 would not unlearn.*> 0"):
        _args(tmp_path, forget_weight=0.0)
    with untouched(tmp_path), pytest.raises(ValueError, match=r"retain_loss_type must be one of"):
        _args(tmp_path, retain_loss_type="mse")


@case("trainers", "`ref_model is model`", "pass a copy, or `ref_model=None`")
def reference_is_model(tmp_path, request):
    from hf_unlearn import NPOConfig, NPOTrainer

    model = _model()
    args = NPOConfig(output_dir=str(tmp_path / "out"), use_cpu=True)
    with untouched(tmp_path), pytest.raises(ValueError, match=r"same object as `model`.*ref_model=None"):
        NPOTrainer(model, args, train_dataset=ForgetRetainDataset(FORGET, RETAIN), ref_model=model)


@case(
    "non-finite",
    "learning rate becomes inf at run time (NaN update)",
    "stopped before the update (last finite weights kept, no checkpoint written); set a finite `learning_rate`",
)
def inf_learning_rate_at_run_time(tmp_path, request):
    model = _model()
    trainer = _trainer(tmp_path, model=model, save_strategy="steps", save_steps=1)
    trainer.args.learning_rate = math.inf  # past the config check: e.g. a scheduler or a patched config
    trainer.create_optimizer_and_scheduler(num_training_steps=3)
    before = _weights(model)
    with (
        untouched(tmp_path),
        pytest.raises(FloatingPointError, match=r"learning rate inf.*not applied.*finite positive"),
    ):
        trainer.train()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # the last finite weights, as the message says
    assert not list((tmp_path / "out").glob("checkpoint-*"))


@case(
    "non-finite",
    "NaN gradients with a finite loss (step 2)",
    "stopped before the update; checkpoints so far are finite; lower `learning_rate`, keep `max_grad_norm`",
)
def nan_gradients_at_step_two(tmp_path, request):
    class NaNGradAtStep2(SimNPOTrainer):
        def forget_loss(self, model, forget, log_probs, num_tokens):
            loss, metrics = super().forget_loss(model, forget, log_probs, num_tokens)
            if self.state.global_step >= 1:  # value 0, gradient sqrt'(0) * 0 = inf * 0 = nan
                loss = loss + torch.sqrt((log_probs - log_probs.detach()) ** 2).sum()
            return loss, metrics

    model = _model()
    trainer = NaNGradAtStep2(
        model, _args(tmp_path, save_strategy="steps", save_steps=1), train_dataset=ForgetRetainDataset(FORGET, RETAIN)
    )
    snapshots = []
    trainer.add_callback(SnapshotCallback(snapshots))
    with pytest.raises(FloatingPointError, match=r"non-finite gradients before optimizer step 2.*Lower learning_rate"):
        trainer.train()
    assert [p.name for p in (tmp_path / "out").glob("checkpoint-*")] == ["checkpoint-1"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[0][k]), k
    saved = LlamaForCausalLM.from_pretrained(tmp_path / "out" / "checkpoint-1")
    assert all(torch.isfinite(p).all() for p in saved.parameters())


class SnapshotCallback(TrainerCallback):
    """Records the weights after every optimizer step."""

    def __init__(self, store: list):
        self.store = store

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.store.append(_weights(model))


@case(
    "non-finite",
    "an optimizer step that overflows (finite gradients, inf weights)",
    "stopped; no non-finite checkpoint or model is written; resume from the last checkpoint",
)
def overflowing_update(tmp_path, request):
    class Overflowing(torch.optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            with torch.no_grad():
                self.param_groups[0]["params"][0].view(-1)[0] = math.inf

    model = _model()
    user_model = _saved_model(tmp_path / "user_model")
    trainer = SimNPOTrainer(
        model,
        _args(tmp_path, save_strategy="steps", save_steps=1),
        train_dataset=ForgetRetainDataset(FORGET, RETAIN),
        optimizers=(Overflowing(model.parameters(), lr=1e-3), None),
    )
    with untouched(tmp_path):
        with pytest.raises(
            FloatingPointError, match=r"step 1 made weights non-finite.*no non-finite weights are saved"
        ):
            trainer.train()
        with pytest.raises(FloatingPointError, match=r"refusing to write non-finite weights.*nothing was written"):
            trainer.save_model(str(user_model))
    assert not list((tmp_path / "out").glob("checkpoint-*"))


@case(
    "output folders",
    "`output_dir` holds another run's checkpoints",
    "a new `output_dir`, `resume_from_checkpoint=True`, or `overwrite_output_dir=True`",
)
def output_dir_with_checkpoints(tmp_path, request):
    earlier = tmp_path / "out" / "checkpoint-5"
    earlier.mkdir(parents=True)
    (earlier / "model.safetensors").write_bytes(b"earlier run")
    trainer = _trainer(tmp_path)
    with (
        untouched(tmp_path),
        pytest.raises(FileExistsError, match=r"checkpoint-5.*resume_from_checkpoint=True.*overwrite_output_dir"),
    ):
        trainer.train()


@case(
    "output folders",
    "a second job starts in the `output_dir` of a running one",
    "a new `output_dir` (or `overwrite_output_dir=True` once that job is gone)",
)
def output_dir_claimed_by_another_job(tmp_path, request):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hf_unlearn_run.json").write_text(json.dumps({"pid": os.getpid() + 1_000_000}))
    with untouched(tmp_path), pytest.raises(FileExistsError, match=r"hf_unlearn_run.json from another run"):
        _trainer(tmp_path).train()


@case(
    "checkpoints",
    "`resume_from_checkpoint=True`, only an incomplete checkpoint (kill during its save)",
    "start anew (drop `resume_from_checkpoint`) or pass a complete checkpoint",
)
def resume_with_only_incomplete_checkpoint(tmp_path, request):
    partial = tmp_path / "out" / "checkpoint-2"
    partial.mkdir(parents=True)
    (partial / "model.safetensors").write_bytes(b"trunc")
    trainer = _trainer(tmp_path)
    with untouched(tmp_path), pytest.raises(ValueError, match=r"no complete checkpoint.*checkpoint-2.*drop resume"):
        trainer.train(resume_from_checkpoint=True)


@case(
    "checkpoints",
    "`resume_from_checkpoint=<path>` of a checkpoint whose save was killed",
    "`resume_from_checkpoint=True` (the last complete one, named in the error)",
)
def resume_from_incomplete_path(tmp_path, request):
    _trainer(tmp_path, save_strategy="steps", save_steps=2, max_steps=2).train()
    partial = tmp_path / "out" / "checkpoint-4"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"trunc")
    trainer = _trainer(tmp_path, max_steps=6)
    with untouched(tmp_path), pytest.raises(ValueError, match=r"not a complete checkpoint.*checkpoint-2.*=True"):
        trainer.train(resume_from_checkpoint=str(partial))


@case(
    "saving",
    "`save_model` on a model with NaN weights, into an existing model folder",
    "nothing written; resume from the last checkpoint with a lower `learning_rate`",
)
def save_non_finite_model(tmp_path, request):
    user_model = _saved_model(tmp_path / "model")
    trainer = _trainer(tmp_path)
    with torch.no_grad():
        next(trainer.model.parameters()).view(-1)[0] = math.nan
    with untouched(tmp_path), pytest.raises(FloatingPointError, match=r"refusing to write non-finite weights"):
        trainer.save_model(str(user_model))


@case(
    "saving",
    "`save_model` fails half-way (disk full, kill) over an existing model",
    "the earlier model stays whole; the next save removes `<dir>.saving` and publishes",
)
def save_model_interrupted(tmp_path, request):
    monkeypatch = request.getfixturevalue("monkeypatch")
    user_model = _saved_model(tmp_path / "model")
    trainer = _trainer(tmp_path)
    model_cls = type(trainer.model)
    real_save = model_cls.save_pretrained

    def half_save(self, save_directory, **kwargs):
        Path(save_directory, "model.safetensors").write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(model_cls, "save_pretrained", half_save)
    with untouched(tmp_path), pytest.raises(OSError, match="No space left"):
        trainer.save_model(str(user_model))  # the earlier model stays whole
    assert (tmp_path / "model.saving").is_dir()  # the half-written copy is aside, not in `model`
    monkeypatch.setattr(model_cls, "save_pretrained", real_save)
    trainer.save_model(str(user_model))  # the next save removes the leftover and publishes the new weights
    assert not (tmp_path / "model.saving").exists()
    reloaded = LlamaForCausalLM.from_pretrained(user_model)
    for (name, a), b in zip(trainer.model.named_parameters(), reloaded.parameters()):
        assert torch.equal(a.detach(), b.detach()), name


# ---------------------------------------------------------------------------------------------------------------
# the evaluator (`hf-unlearn eval tofu`) and the unlearning job's arguments


@case(
    "evaluator",
    "`--model` is a local path that does not exist (with `--retain_model`)",
    '"no such folder", before the retain model is evaluated',
)
def eval_missing_model_folder(tmp_path, request):
    argv = ["--model", str(tmp_path / "my-unlearned"), "--retain_model", "retain90", "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"--model '.*my-unlearned': no such folder")


@case(
    "evaluator",
    "`--data` is a world folder that does not exist",
    '"no such folder"; build it with `hf-unlearn build-world tofu --output_dir ...`',
)
def eval_missing_world(tmp_path, request):
    argv = ["--model", "target", "--data", str(tmp_path / "worlds" / "tofu")]
    _expect_eval_error(tmp_path, request, argv, r"--data .*no such folder.*build-world tofu")


@case(
    "evaluator",
    "`--model` is a folder with no `config.json`",
    "pass the folder written by `save_pretrained` / `trainer.save_model`",
)
def eval_folder_is_not_a_model(tmp_path, request):
    (tmp_path / "empty").mkdir()
    argv = ["--model", str(tmp_path / "empty"), "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"holds no config.json or adapter_config.json.*not a saved model")


@case(
    "evaluator",
    "`--model` names no model of the world",
    "one of the world's model names (listed in the error) or a folder",
)
def eval_unknown_world_model(tmp_path, request):
    argv = ["--model", "retain42", "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"'retain42' is neither a folder nor a model of the world")


@case(
    "evaluator",
    "`--retain_results` file does not exist",
    "the JSON of an earlier `--retain_model` run, or `--retain_model`",
)
def eval_missing_retain_results(tmp_path, request):
    argv = ["--model", "target", "--retain_results", str(tmp_path / "retain.json"), "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"--retain_results .*no such file.*--retain_model")


@case("evaluator", "`--output_file` exists (an earlier result)", "a new `--output_file`, or `--overwrite`")
def eval_output_exists(tmp_path, request):
    (tmp_path / "r.json").write_text('{"earlier": true}')
    _expect_eval_error(
        tmp_path, request, ["--model", "target", "--data", "{world}"], r"r.json already exists.*--overwrite"
    )


@case(
    "evaluator",
    "several `--model`s with a different number of `--output_file`s",
    "one `.json` output file per `--model`, in the same order",
)
def eval_outputs_do_not_match_models(tmp_path, request):
    argv = ["--model", "target", "base", "--retain_model", "retain90", "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"--output_file: got 1 file\(s\) for 2 model\(s\); give one .json")
    from hf_unlearn.cli import build_parser

    muse = ["eval", "muse", "--model", "target", "retain_seed1", "--data", str(tmp_path / "no-world")]
    args = build_parser().parse_args([*muse, "--output_file", str(tmp_path / "t.json")])
    with untouched(tmp_path), pytest.raises(ValueError, match=r"--output_file: got 1 file\(s\) for 2 model\(s\)"):
        args.func(args)  # `eval muse` checks the same way, before any model or data is loaded


@case("evaluator", "the same model twice in `--model`", "give each model once")
def eval_model_given_twice(tmp_path, request):
    argv = ["--model", "target", "target", "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"--model lists 'target' more than once", ("a.json", "b.json"))


@case(
    "evaluator",
    "two models' `--output_file`s are the same file (or one is the retain output)",
    "give every output its own file",
)
def eval_output_file_given_twice(tmp_path, request):
    argv = ["--model", "target", "base", "--data", "{world}"]
    _expect_eval_error(
        tmp_path, request, argv, r"--output_file: .*a.json is also another output", ("a.json", "a.json")
    )
    argv = ["--model", "target", "--retain_model", "retain90", "--retain_output_file", str(tmp_path / "a.json")]
    _expect_eval_error(
        tmp_path,
        request,
        [*argv, "--data", "{world}"],
        r"--retain_output_file: .*a.json is also another output",
        ("a.json",),
    )


@case(
    "evaluator",
    "a Hub id that is not cached, offline (`HF_HUB_OFFLINE=1`)",
    "go online once to download it, or pass a local folder",
)
def eval_hub_id_offline(tmp_path, request):
    argv = ["--model", "someone/not-cached", "--data", "{world}"]
    _expect_eval_error(tmp_path, request, argv, r"not in the local cache while HF_HUB_OFFLINE=1")


@case(
    "evaluator",
    "a sequence to score with no labelled tokens (`score_sequences`)",
    "drop the row (an empty or truncated answer), or raise `max_length`",
)
def eval_sequence_without_scored_tokens(tmp_path, request):
    from hf_unlearn.eval.scoring import score_sequences

    feats = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5, 6], "labels": [-100, -100]}]
    with (
        untouched(tmp_path),
        pytest.raises(ValueError, match=r"sequence\(s\) \[1\] have no labelled tokens.*max_length"),
    ):
        score_sequences(_model(), feats, pad_token_id=0)


@case(
    "robustness",
    "`--relearn_steps` not strictly increasing (`0,10,5`, `0,5,5`)",
    "strictly increasing steps >= 0, e.g. `0,10,25,50`",
)
def robustness_steps_not_increasing(tmp_path, request):
    from hf_unlearn.scripts.robustness import main, parse_args

    world = request.getfixturevalue("tofu_world")
    for steps in ("0,10,5", "0,5,5"):
        args = parse_args(["--data", str(world.path), "--relearn_steps", steps, "--output_dir", str(tmp_path / "r")])
        with untouched(tmp_path), pytest.raises(ValueError, match=r"strictly increasing \(e.g. 0,10,25,50\)"):
            main(args)
    assert not (tmp_path / "r").exists()


@case("robustness", "`--quant_bits` outside 2..8 (`1`, `9`)", "an integer bit-width from 2 to 8, e.g. 8 or 4")
def robustness_bits_out_of_range(tmp_path, request):
    from hf_unlearn.scripts.robustness import main, parse_args

    world = request.getfixturevalue("tofu_world")
    for bits in ("8,1", "9"):
        args = parse_args(["--data", str(world.path), "--quant_bits", bits, "--output_dir", str(tmp_path / "r")])
        with untouched(tmp_path), pytest.raises(ValueError, match=r"bits must be an integer from 2 to 8"):
            main(args)
    assert not (tmp_path / "r").exists()


@case(
    "robustness",
    "a relearning sample larger than the forget set (`--relearn_samples 21` of 20 items)",
    "a sample size of at most the forget set's size (the error names it)",
)
def robustness_sample_larger_than_forget_set(tmp_path, request):
    from hf_unlearn.scripts.robustness import main, parse_args

    world = request.getfixturevalue("tofu_world")
    args = parse_args(["--data", str(world.path), "--relearn_samples", "21", "--output_dir", str(tmp_path / "r")])
    with untouched(tmp_path), pytest.raises(ValueError, match=r"\(21 items\) is larger than .*at most 20"):
        main(args)
    assert not (tmp_path / "r").exists()


@case(
    "robustness",
    "`benchmarks/robustness_curves.py --benchmark muse` with a TOFU-only option (`--forget_split`, "
    "`--eval_max_new_tokens`)",
    "drop the option: MUSE has one forget set and fixed generation lengths",
)
def robustness_curves_muse_with_tofu_options(tmp_path, request):
    bench = _module_from_file("robustness_curves", REPO / "benchmarks" / "robustness_curves.py")
    out = ["--output_dir", str(tmp_path / "r"), "--results", str(tmp_path / "r.json")]
    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"--forget_split applies to --benchmark tofu only .* drop it"):
            bench.parse_args(["--benchmark", "muse", "--forget_split", "forget05", *out])
        with pytest.raises(ValueError, match=r"--forget_split, --eval_max_new_tokens applies to --benchmark tofu"):
            bench.parse_args(["--benchmark", "muse", "--forget_split", "forget10", "--eval_max_new_tokens", "8", *out])
    # the TOFU options keep their defaults on TOFU; MUSE gets its own sample, batch and output files
    tofu, muse = bench.parse_args([]), bench.parse_args(["--benchmark", "muse"])
    assert (tofu.forget_split, tofu.eval_max_new_tokens) == ("forget10", 64)
    assert (tofu.relearn_samples, tofu.relearn_batch_size) == (8, 4)
    assert (muse.forget_split, muse.relearn_samples, muse.relearn_batch_size) == (None, 4, 2)
    assert muse.results.endswith("robustness_curves_muse.json") and tofu.results.endswith("robustness_curves.json")
    assert not (tmp_path / "r").exists()


@case(
    "evaluator",
    "in-training evaluation: `eval_steps=0`, no trainer, a prefix starting with `eval`",
    "`eval_steps` >= 1 or None; pass the trainer; a prefix such as `tofu`",
)
def eval_callback_bad_options(tmp_path, request):
    from hf_unlearn.eval.callbacks import EvalMetricsCallback

    class Trainer:
        def log(self, logs):
            raise AssertionError("nothing may be logged")

    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"eval_steps must be a positive integer or None, got 0"):
            EvalMetricsCallback(Trainer(), lambda m: {}, eval_steps=0)
        with pytest.raises(TypeError, match=r"trainer must be the transformers.Trainer"):
            EvalMetricsCallback(None, lambda m: {})
        with pytest.raises(ValueError, match=r"prefix must be .* \(without 'eval_'\)"):
            EvalMetricsCallback(Trainer(), lambda m: {}, prefix="eval_tofu")


@case(
    "unlearning job",
    "`--dataset worlds/tofu` that was never built",
    '"no such folder"; build the world, or leave `--dataset` out (not "--model is required")',
)
def job_missing_world(tmp_path, request):
    from hf_unlearn.scripts.unlearn_tofu import main, parse_args  # what examples/simnpo_tofu.py runs

    request.getfixturevalue("monkeypatch").chdir(tmp_path)
    args = parse_args(["--dataset", "worlds/tofu", "--output_dir", str(tmp_path / "job")])
    with untouched(tmp_path), pytest.raises(ValueError, match=r"--dataset 'worlds/tofu': no such folder") as err:
        main(*args)
    assert "build-world tofu" in str(err.value) and "--model is required" not in str(err.value)


@case("unlearning job", "a Hub `--dataset` without `--model`", "pass `--model`")
def job_hub_dataset_without_model(tmp_path, request):
    monkeypatch = request.getfixturevalue("monkeypatch")
    from hf_unlearn.sources import check_unlearning_sources

    monkeypatch.setattr("hf_unlearn.sources._in_hub_cache", lambda repo_id, repo_type: True)  # as if cached
    with untouched(tmp_path), pytest.raises(ValueError, match=r"--model is required with --dataset 'locuslab/TOFU'"):
        check_unlearning_sources("locuslab/TOFU", None, None)


@case(
    "unlearning job",
    "LoRA job: `--forget_file` that does not exist; a `--model` folder that is not a model",
    '"no such file" / "not a saved model", before any model is loaded',
)
def lora_job_missing_files(tmp_path, request):
    from hf_unlearn.scripts.lora_unlearn import main, parse_args

    base = _saved_model(tmp_path / "base")
    (tmp_path / "not_a_model").mkdir()
    argv = ["--forget_file", str(tmp_path / "forget.jsonl"), "--output_dir", str(tmp_path / "job")]
    with untouched(tmp_path), pytest.raises(ValueError, match=r"--forget_file '.*forget.jsonl': no such file"):
        main(*parse_args(["--model", str(base), *argv]))
    with (
        untouched(tmp_path),
        pytest.raises(ValueError, match=r"--model '.*not_a_model' is a folder but holds no config"),
    ):
        main(*parse_args(["--model", str(tmp_path / "not_a_model"), *argv]))


@case(
    "Hub", "`--push_to_hub` with no token (no login, no `HF_TOKEN`)", "`hf auth login`, `HF_TOKEN`, or `--hub_token`"
)
def push_without_token(tmp_path, request):
    monkeypatch = request.getfixturevalue("monkeypatch")
    from hf_unlearn.hub import resolve_token

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with untouched(tmp_path), pytest.raises(ValueError, match=r"no Hugging Face Hub token.*hf auth login.*HF_TOKEN"):
        resolve_token(None)


# ---------------------------------------------------------------------------------------------------------------
# SalUn


def _salun_trainer(tmp_path, callback):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(tmp_path / "salun"), max_steps=2, per_device_train_batch_size=4, use_cpu=True,
        report_to="none", disable_tqdm=True,
    )  # fmt: skip
    data = [
        {"input_ids": torch.tensor(r["input_ids"][:8]), "labels": torch.tensor(r["input_ids"][:8])} for r in RETAIN
    ]
    return Trainer(model=_model(), args=args, train_dataset=data, callbacks=[callback])


@case(
    "SalUn",
    "forget set without `labels` (was `KeyError: 'loss'`)",
    "give forget examples `labels` (`tokenize_qa`) or pass `loss_fn=`",
)
def salun_forget_without_labels(tmp_path, request):
    from hf_unlearn import SalUnMask

    rows = [{"input_ids": torch.tensor(r["input_ids"][:8])} for r in FORGET]
    with untouched(tmp_path), pytest.raises(ValueError, match=r"no `labels`.*tokenize_qa.*loss_fn="):
        SalUnMask(forget_dataset=rows)


@case("SalUn", "a mask entry of the wrong shape", "recompute the mask on the model you train")
def salun_mask_wrong_shape(tmp_path, request):
    from hf_unlearn import SalUnMask

    model = _model()
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters()}
    name = next(iter(mask))
    mask[name] = torch.ones(3, dtype=torch.bool)
    with untouched(tmp_path), pytest.raises(ValueError, match=rf"entry '{name}' has shape \(3,\).*different model"):
        _salun_trainer(tmp_path, SalUnMask(mask)).train()


@case("SalUn", "a mask of another model (unknown parameter name)", "recompute the mask on the model you train")
def salun_mask_of_another_model(tmp_path, request):
    from hf_unlearn import SalUnMask

    with untouched(tmp_path), pytest.raises(ValueError, match=r"'encoder.weight' is not a parameter.*Recompute"):
        _salun_trainer(tmp_path, SalUnMask({"encoder.weight": torch.ones(2, dtype=torch.bool)})).train()


@case(
    "SalUn",
    "`sparsity=0`, empty forget set, neither / both of `mask` and `forget_dataset`",
    "`sparsity` in (0, 1]; exactly one of `mask` / `forget_dataset`",
)
def salun_bad_arguments(tmp_path, request):
    from hf_unlearn import SalUnMask

    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"`sparsity` must be in \(0, 1\].*0.5 is the SalUn default"):
            SalUnMask(forget_dataset=FORGET, sparsity=0)
        with pytest.raises(ValueError, match=r"`forget_dataset` is empty"):
            SalUnMask(forget_dataset=[])
        with pytest.raises(ValueError, match=r"exactly one of `mask`.*`forget_dataset`"):
            SalUnMask()


@case("SalUn", "`save_path` of an existing mask file (a new run)", "a new `save_path`, or reuse the file with `mask=`")
def salun_save_path_exists(tmp_path, request):
    from hf_unlearn import SalUnMask

    existing = tmp_path / "mask.safetensors"
    existing.write_bytes(b"an earlier mask")
    rows = [
        {"input_ids": torch.tensor(r["input_ids"][:8]), "labels": torch.tensor(r["input_ids"][:8])} for r in FORGET
    ]
    callback = SalUnMask(forget_dataset=rows, save_path=existing)
    with untouched(tmp_path), pytest.raises(FileExistsError, match=r"mask.safetensors already exists.*`mask=`"):
        _salun_trainer(tmp_path, callback).train()


# ---------------------------------------------------------------------------------------------------------------
# AdvUnlearn (text encoders) and the worlds


def _clip_config(**kw):
    from transformers import CLIPTextConfig

    defaults = {"vocab_size": 600, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                "num_attention_heads": 4, "max_position_embeddings": 16}  # fmt: skip
    defaults.update(kw)
    return CLIPTextConfig(**defaults)


@case(
    "AdvUnlearn",
    "a text encoder of another world (hidden size differs from the UNet's cross-attention)",
    "load it with the pipeline it was trained from (both worlds are named; its model card names it too)",
)
def advunlearn_encoder_of_another_world(tmp_path, request):
    from types import SimpleNamespace

    from hf_unlearn.diffusion import check_text_encoder_fits
    from hf_unlearn.synthetic.shapes import build_tokenizer

    unet = SimpleNamespace(config=SimpleNamespace(cross_attention_dim=64))
    theirs = _clip_config(hf_unlearn_world={"world_id": "shapes-aaaaaaaaaaaa", "config_hash": "aaaaaaaaaaaa"})
    ours = _clip_config(hidden_size=64, hf_unlearn_world={"world_id": "shapes-bbbbbbbbbbbb", "config_hash": "bbbb"})
    with (
        untouched(tmp_path),
        pytest.raises(
            ValueError,
            match=r"(?s)esd/text_encoder was trained on another world.*world shapes-aaaaaaaaaaaa \(config hash "
            r"aaaaaaaaaaaa\); this pipeline is world shapes-bbbbbbbbbbbb.*trained from",
        ),
    ):
        check_text_encoder_fits(theirs, unet, build_tokenizer(), "esd/text_encoder", pipeline_text_encoder=ours)
    # a shapes-world encoder in a pipeline without a world record (e.g. a Hub model): the shapes and both sides named
    with (
        untouched(tmp_path),
        pytest.raises(
            ValueError,
            match=r"hidden size is 32 but the UNet's cross_attention_dim is 64\. It was trained on world "
            r"shapes-aaaaaaaaaaaa.*this pipeline is no hf_unlearn world",
        ),
    ):
        check_text_encoder_fits(
            theirs, unet, build_tokenizer(), "esd/text_encoder", pipeline_text_encoder=_clip_config()
        )


@case(
    "AdvUnlearn",
    "a text encoder whose vocabulary is smaller than the tokenizer's",
    "load it with the pipeline it was trained from",
)
def advunlearn_encoder_vocab_too_small(tmp_path, request):
    from types import SimpleNamespace

    from hf_unlearn.diffusion import check_text_encoder_fits
    from hf_unlearn.synthetic.shapes import build_tokenizer

    tokenizer = build_tokenizer()
    unet = SimpleNamespace(config=SimpleNamespace(cross_attention_dim=32))
    with (
        untouched(tmp_path),
        pytest.raises(ValueError, match=rf"vocabulary has 10 tokens but the tokenizer has {len(tokenizer)}"),
    ):
        check_text_encoder_fits(_clip_config(vocab_size=10), unet, tokenizer)


def _module_from_file(name: str, path: Path):
    """A script of the repository (an example or a benchmark) imported as module `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _advunlearn_script():
    return _module_from_file("train_advunlearn", REPO / "examples" / "diffusion" / "train_advunlearn.py")


@case(
    "AdvUnlearn",
    "an encoder trained on another shapes world of the same sizes (another config hash), to compare against",
    "pass an encoder trained on this pipeline's world: the error names both worlds and their hashes",
)
def advunlearn_encoder_trained_on_another_world(tmp_path, request):
    from transformers import CLIPTextModel

    world = request.getfixturevalue("shapes_world")
    encoder = CLIPTextModel.from_pretrained(world.pipeline_path, subfolder="text_encoder")
    encoder.config.hf_unlearn_world = {"world_id": "shapes-0123456789ab", "config_hash": "0123456789ab"}
    encoder.save_pretrained(tmp_path / "other" / "text_encoder")
    script = _advunlearn_script()
    out = tmp_path / "never"
    args = ["--world_preset", "test", "--output_dir", str(out), "--max_train_steps", "1",
            "--compare_text_encoders", f"other={tmp_path / 'other' / 'text_encoder'}"]  # fmt: skip
    with (
        untouched(tmp_path),
        pytest.raises(
            ValueError,
            match=rf"(?s)trained on another world.*world shapes-0123456789ab \(config hash 0123456789ab\); this "
            rf"pipeline is world {world.world_id} \(config hash {world.config_hash}\)",
        ),
    ):
        script.main(script.parse_args(args))
    assert not out.exists()


@case(
    "AdvUnlearn",
    "a concept with no prompts (not a colour or shape of the shapes world; an empty `concept_prompts`)",
    "a colour or shape the error lists; at least one concept prompt",
)
def advunlearn_concept_with_no_prompts(tmp_path, request):
    from hf_unlearn.diffusion import AdvUnlearnConfig

    request.getfixturevalue("shapes_world")
    script = _advunlearn_script()
    out = tmp_path / "never"
    with (
        untouched(tmp_path),
        pytest.raises(ValueError, match=r"Unknown shapes-world concept 'purple'; choose a colour"),
    ):
        script.main(script.parse_args(["--world_preset", "test", "--concept", "purple", "--output_dir", str(out)]))
    assert not out.exists()
    with pytest.raises(ValueError, match="concept_prompts is empty: pass the prompt"):
        AdvUnlearnConfig(concept_prompts=[], retain_prompts=["a green circle"])


@case(
    "AdvUnlearn",
    "an unknown `attack_loss`, `attack_loss='denoise'` with `attack_candidates`, a negative `plain_prompt_weight`; "
    "`erase_text_encoder` with no steps, a learning rate or clipping norm <= 0",
    "`attack_loss` 'match' or 'denoise' (the token screen needs 'match'); a weight >= 0; steps >= 1, positive rates",
)
def advunlearn_bad_attack_settings(tmp_path, request):
    from hf_unlearn.diffusion import AdvUnlearnConfig, erase_text_encoder

    prompts = {"concept_prompts": ["a red circle"], "retain_prompts": ["a green circle"]}
    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"attack_loss must be one of \('match', 'denoise'\), got 'pgd'"):
            AdvUnlearnConfig(**prompts, attack_loss="pgd")
        with pytest.raises(ValueError, match="attack_candidates screens starts by the 'match' attack loss"):
            AdvUnlearnConfig(**prompts, attack_loss="denoise", attack_candidates=4)
        with pytest.raises(ValueError, match=r"plain_prompt_weight must be >= 0, got -1.0"):
            AdvUnlearnConfig(**prompts, plain_prompt_weight=-1.0)
        config = AdvUnlearnConfig(**prompts)
        for steps, lr, clip in ((0, 1e-3, 1.0), (5, 0.0, 1.0), (5, 1e-3, -1.0)):
            with pytest.raises(ValueError, match=r"steps must be >= 1 and learning_rate, max_grad_norm > 0"):
                erase_text_encoder(None, None, None, None, config, steps, lr, max_grad_norm=clip)


@case(
    "AdvUnlearn",
    "`benchmarks/advunlearn_robustness.py --reuse` with a missing file, a JSON not written by it, or a run with other "
    "settings",
    "pass that benchmark's `--output_file` JSON of a run with the same settings (the error lists the ones that differ)",
)
def advunlearn_robustness_reuse_of_another_run(tmp_path, request):
    bench = _module_from_file("advunlearn_robustness", REPO / "benchmarks" / "advunlearn_robustness.py")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"settings": {**vars(bench.parse_args([])), "learning_rate": 0.5}, "runs": []}))
    (tmp_path / "list.json").write_text("[1, 2]")
    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"--reuse '.*missing.json' is not a file: pass a JSON written by"):
            bench.main(bench.parse_args(["--reuse", str(tmp_path / "missing.json")]))
        with pytest.raises(ValueError, match=r"has no 'settings' and 'runs': not this benchmark's output JSON"):
            bench.main(bench.parse_args(["--reuse", str(tmp_path / "list.json")]))
        with pytest.raises(ValueError, match=r"other settings \(learning_rate: 0.5 there, 0.001 here\)"):
            bench.main(bench.parse_args(["--reuse", str(other)]))


@case(
    "SalUn (diffusion)",
    "a saliency mask computed for another UNet (`--mask_path`): same config but other weights, or another config",
    "recompute the mask on the UNet you train (omit `--mask_path`)",
)
def salun_diffusion_mask_of_another_unet(tmp_path, request):
    import importlib.util

    pytest.importorskip("diffusers")
    from hf_unlearn.diffusion import load_diffusion_components
    from hf_unlearn.saliency import frozen_weights_fingerprint, save_saliency_mask
    from hf_unlearn.saliency.mask import FINGERPRINT_KEY

    world = request.getfixturevalue("shapes_world")
    spec = importlib.util.spec_from_file_location("train_salun", REPO / "examples" / "diffusion" / "train_salun.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    other = load_diffusion_components(world.transfer_pipeline_path).unet  # same config, other weights
    g = torch.Generator().manual_seed(0)
    mask = {n: torch.rand(p.shape, generator=g) < 0.5 for n, p in other.named_parameters()}
    same_config = tmp_path / "transfer_mask.safetensors"
    save_saliency_mask(mask, same_config, metadata={FINGERPRINT_KEY: frozen_weights_fingerprint(mask, other)})
    mask["conv_in.weight"] = torch.ones(2, 3, 3, 3, dtype=torch.bool)
    other_config = tmp_path / "small_mask.safetensors"
    save_saliency_mask(mask, other_config)
    out = tmp_path / "run"
    with untouched(tmp_path):
        with pytest.raises(
            ValueError, match=r"transfer_mask.safetensors: .*frozen weights differ.*same architecture.*Recompute"
        ):
            script.main(
                script.parse_args(
                    ["--world_preset", "test", "--output_dir", str(out), "--mask_path", str(same_config)]
                )
            )
        with pytest.raises(ValueError, match=r"entry 'conv_in.weight' has shape \(2, 3, 3, 3\) but the parameter has"):
            script.main(
                script.parse_args(
                    ["--world_preset", "test", "--output_dir", str(out), "--mask_path", str(other_config)]
                )
            )
    assert not out.exists()


@case(
    "worlds", "a world folder that does not exist", '"no such folder"; `hf-unlearn build-world tofu --output_dir ...`'
)
def world_missing_folder(tmp_path, request):
    from hf_unlearn.synthetic import TofuWorld

    with untouched(tmp_path), pytest.raises(ValueError, match=r"no such folder.*hf-unlearn build-world tofu"):
        TofuWorld.from_path(tmp_path / "worlds" / "tofu")


@case(
    "worlds",
    "unknown preset, unknown option, `num_workers=0`",
    "a preset / option listed in the error; `num_workers` >= 1",
)
def world_bad_options(tmp_path, request):
    from hf_unlearn.synthetic import build_tofu_world

    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"unknown preset 'huge'; choose one of"):
            build_tofu_world("huge", cache_dir=tmp_path)
        with pytest.raises(ValueError, match=r"unknown world option\(s\) \['n_books'\]"):
            build_tofu_world("test", cache_dir=tmp_path, n_books=3)
        with pytest.raises(ValueError, match=r"num_workers must be a positive integer"):
            build_tofu_world("test", cache_dir=tmp_path, num_workers=0)


@case(
    "classification",
    "forget budget larger than the data (`fraction=1.5`), a class that does not exist",
    "`fraction` in (0, 1); `forget_class` in [0, 10)",
)
def forget_budget_larger_than_data(tmp_path, request):
    from hf_unlearn.vision import load_digits_data, make_forget_split

    data = load_digits_data(seed=0, train_fraction=0.2)
    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"`fraction` must be in \(0, 1\)"):
            make_forget_split(data, "random", fraction=1.5)
        with pytest.raises(ValueError, match=r"`forget_class` must be in \[0, 10\)"):
            make_forget_split(data, "class", forget_class=12)


def _run_example(name: str):
    """An example script's functions, loaded from its file as a user runs it (examples are not importable)."""
    import runpy
    from types import SimpleNamespace

    return SimpleNamespace(**runpy.run_path(str(REPO / "examples" / name)))


@case(
    "worst-case sets",
    "a budget larger than the data or <= 0 (`--budget 2000` of 1,437 digits, `--budget 0`, 50 of 40 authors)",
    "a count in [1, N-1] or a fraction in (0, 1)",
)
def worstcase_budget_outside_the_data(tmp_path, request):
    from hf_unlearn.worstcase import WorstCaseConfig, resolve_budget

    worstcase = _run_example("worstcase_forget_set.py")
    with untouched(tmp_path):
        for budget, match in (
            ("2000", r"`budget`=2000 is not smaller than the 1437 units.*a count below 1437 or a fraction"),
            ("0", r"`budget` must be a positive count or a fraction in \(0, 1\), got 0.0"),
        ):
            args = worstcase.parse_args(["--world", "digits", "--budget", budget, "--output_dir", str(tmp_path / "o")])
            with pytest.raises(ValueError, match=match):
                worstcase.main(args)  # refused before the original model is trained
            assert not (tmp_path / "o").exists()
        with pytest.raises(ValueError, match=r"`budget`=50 is not smaller than the 40 units"):
            resolve_budget(50, 40)
        with pytest.raises(ValueError, match=r"`budget` must be a positive count"):
            WorstCaseConfig(budget=-3)


@case(
    "worst-case sets",
    "TOFU-format rows without the group (author) column",
    "pass the column naming each row's author, or `group_size=20` (real locuslab/TOFU)",
)
def worstcase_missing_group_column(tmp_path, request):
    from hf_unlearn.worstcase import WorstCaseConfig
    from hf_unlearn.worstcase.tofu import select_author_forget_set

    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    rows = [{"question": f"q{i}", "answer": f"a{i}", "writer": f"w{i // 2}"} for i in range(8)]
    with untouched(tmp_path), pytest.raises(ValueError, match=r"row 0 has no 'author' column.*group_size=20"):
        select_author_forget_set(model, None, rows, WorstCaseConfig(budget=2))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no lower-level step ran


@case(
    "worst-case sets",
    "a selection file (`--forget_set`) with duplicate or out-of-range indices",
    "each row once, in [0, n_rows) of the data set loaded; select again on this data",
)
def worstcase_selection_file_bad_indices(tmp_path, request):
    salun = _run_example("salun_classification.py")
    for indices, match in (([3, 3, 7], r"duplicate indices \[3\]"), ([5, 1797], r"indices \[1797\] are outside")):
        path = tmp_path / f"sel_{indices[-1]}.json"
        path.write_text(json.dumps({"world": "digits", "unit": "example", "indices": indices, "n_rows": 1797}))
        with untouched(tmp_path), pytest.raises(ValueError, match=match):
            salun.main(salun.parse_args(["--output_dir", str(tmp_path / "run"), "--forget_set", str(path)]))
        assert not (tmp_path / "run").exists()  # refused before any training or writing


@case(
    "classification",
    "CIFAR-10 from the Hub without network, or data not in the Hub format (columns, image size)",
    "a local copy (the Hub repository's files, or a `save_to_disk` folder); `img`/`label` columns, 32x32 RGB",
)
def cifar10_unreachable_or_wrong_format(tmp_path, request):
    import datasets

    from hf_unlearn.vision import load_cifar10
    from tests.fixtures.cifar10 import write_cifar10_hub_copy

    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    small = write_cifar10_hub_copy(tmp_path / "small", n_train=10, n_test=10, size=16)
    renamed = tmp_path / "renamed"
    datasets.load_dataset(str(write_cifar10_hub_copy(tmp_path / "ok", n_train=10, n_test=10))).rename_column(
        "img", "image"
    ).save_to_disk(str(renamed))
    with untouched(tmp_path):
        with pytest.raises(ValueError, match=r"could not be loaded from 'uoft-cs/cifar10'.*pass a local copy"):
            load_cifar10("uoft-cs/cifar10")
        with pytest.raises(ValueError, match=r"could not be loaded from .*no_such_folder"):
            load_cifar10(str(tmp_path / "no_such_folder"))
        with pytest.raises(ValueError, match=r"has columns \['image', 'label'\], not \['img'\]"):
            load_cifar10(str(renamed))
        with pytest.raises(ValueError, match=r"shapes \[\(16, 16, 3\)\]; CIFAR-10 images are 32x32 RGB"):
            load_cifar10(str(small))


@case(
    "worst-case prompts",
    "a concept with no prompts (or one), an unknown concept, a budget not smaller than the prompt set",
    "list the concept's prompts (e.g. `shapes_prompt_units`); a known concept; a budget below the number of prompts",
)
def worstcase_prompts_bad_concept_or_budget(tmp_path, request):
    from types import SimpleNamespace

    from hf_unlearn.worstcase import WorstCaseConfig
    from hf_unlearn.worstcase.diffusion import (
        PromptSelectionProblem,
        run_worstcase_prompts,
        select_prompt_set,
        shapes_prompt_units,
    )

    with untouched(tmp_path):
        for prompts in ([], ["a red circle"]):
            with pytest.raises(ValueError, match=r"`prompts` holds \d prompt\(s\): a concept needs at least 2"):
                PromptSelectionProblem(None, None, None, None, prompts, [])
        with pytest.raises(ValueError, match=r"Unknown shapes-world concept 'purple'; choose a colour"):
            shapes_prompt_units("purple")
        with pytest.raises(ValueError, match=r"budget \(prompts to select\)`=18 is not smaller than the 18 units"):
            select_prompt_set(SimpleNamespace(n_units=18), WorstCaseConfig(budget=18))
        with pytest.raises(ValueError, match=r"budget \(prompts per set\)`=40 is not smaller than the 18 units"):
            run_worstcase_prompts(None, "red", budget=40)


@case(
    "diffusion scripts",
    "`--resume_from_checkpoint` a folder not named `checkpoint-<step>`, a missing folder, or `latest` with none saved",
    "a `checkpoint-<step>` folder of this run, or `latest` after a run with `--checkpointing_steps`",
)
def diffusion_resume_from_a_folder_that_is_no_checkpoint(tmp_path, request):
    pytest.importorskip("diffusers")
    script = _advunlearn_script()
    out = tmp_path / "run"
    (out / "my_weights").mkdir(parents=True)
    (out / "my_weights" / "model.safetensors").write_bytes(b"weights a user keeps here")
    for resume, match in (
        (str(out / "my_weights"), r"'my_weights' is not a checkpoint folder: its name must be 'checkpoint-<step>'"),
        (str(out / "checkpoint-5"), r"'.*checkpoint-5': no such checkpoint\. Pass a checkpoint-<step> folder"),
        ("latest", r"'latest': no such checkpoint in .*run\. Pass a checkpoint-<step> folder"),
    ):
        args = ["--world_preset", "test", "--output_dir", str(out), "--resume_from_checkpoint", resume]
        with untouched(tmp_path), pytest.raises(ValueError, match=match):
            script.main(script.parse_args(args))  # refused before the world is loaded or anything is written
        assert sorted(p.name for p in out.iterdir()) == ["my_weights"]


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, request):
    (tmp_path / "notes.txt").write_text("a user file next to the run: must survive every case")
    CASES[name](tmp_path, request)
    assert (tmp_path / "notes.txt").read_text().startswith("a user file")


def test_the_catalogue_is_large_enough_and_in_the_readme():
    assert len(CASES) >= 25
    assert {fn.area for fn in CASES.values()} >= {"trainers", "evaluator", "SalUn", "AdvUnlearn", "worlds"}
    assert markdown_table() in (REPO / "README.md").read_text(encoding="utf-8"), "run python -m tests.test_bad_inputs"


def markdown_table() -> str:
    """The README troubleshooting table, from the catalogue."""
    rows = ["| area | bad input or fault | what the error says to do | test case |", "|---|---|---|---|"]
    rows += [f"| {fn.area} | {fn.bad_input} | {fn.fix} | `{name}` |" for name, fn in CASES.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())  # noqa: T201
