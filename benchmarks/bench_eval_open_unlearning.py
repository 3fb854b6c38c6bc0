# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""End-to-end TOFU evaluation time: `hf-unlearn eval tofu` against open-unlearning's own evaluator (`src/eval.py`),
side by side in one run, on the same mini-TOFU world, models, data, metric set, batch size and generation length,
with both evaluators' numbers printed side by side.

open-unlearning is not a dependency of hf_unlearn: clone it first and pass its folder.

    git clone https://github.com/locuslab/open-unlearning /path/to/open-unlearning
    pip install "hydra-core==1.3.*" hydra_colorlog    # its config system, into this environment
    python benchmarks/bench_eval_open_unlearning.py --open_unlearning_dir /path/to/open-unlearning \\
        --output benchmarks/results/eval_vs_open_unlearning.json

The task is open-unlearning's default TOFU evaluation (`configs/eval/tofu.yaml`: forget truth ratio, forget quality,
forget Q_A probability, forget ROUGE-L recall, model utility, PrivLeak, extraction strength), for a retain model and
then each of `--models` against it (forget quality and PrivLeak need the retain model's results). open-unlearning
evaluates one model per process (retain first, then each model with `eval.tofu.retain_logs_path`); hf_unlearn is run
two ways: one process for all models (`--model M1 M2 ... --retain_model R`, the data tokenised once), and one process
per model like open-unlearning's (`--retain_results`). With one model (`--models target`) that is the common
"retain + unlearned model" evaluation; with several (e.g. `--models target base retain90_seed1 base_seed1`), the
comparison of several unlearned models (methods, seeds, checkpoints) against one retain model. The world's models
stand in for unlearned ones: the evaluation's work does not depend on how a model was made, only on its answers'
lengths. Each pipeline runs `--repeats` times, alternated; the CPU seconds of each pipeline's processes
(`resource.getrusage(RUSAGE_CHILDREN)`) and its wall time are recorded, and the fastest repeat is kept per pipeline
(with the ratio per repeat). A process that only starts each evaluator is timed the same way, to show how much of
each pipeline is start-up: it imports every module an evaluation process imports, on both sides the modules loaded
lazily once a model is loaded or ROUGE is scored (`LAZY_IMPORTS`), then hf_unlearn's command modules, or
open-unlearning's `src/eval.py --cfg job` (its imports, and composing the config). Everything runs on CPU with one
torch thread (`OMP_NUM_THREADS=1`).

How open-unlearning is run, unpatched: its model config `Llama-3.2-1B-Instruct` with the model and tokenizer paths,
dtype (float32), device (cpu) and attention (default) overridden on the command line, its chat-template path with no
system prompt and no date (the world's tokenizer has the chat template that hf_unlearn uses, so both evaluators
tokenise the same prompts), and every `hf_args.path` (`locuslab/TOFU`) pointed at the world's `data` folder (a
`datasets` folder with one config per split). Two modules that open-unlearning imports at start-up but never calls
in a TOFU evaluation, `deepspeed` (imported by its RMU trainer) and `lm_eval` (its LM-Eval-Harness evaluator, an
optional extra), are replaced by empty import-only modules in a temporary folder on `PYTHONPATH` when they are not
installed; the JSON lists which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


# The metrics of open-unlearning's default TOFU evaluation, by its names; hf_unlearn's summary uses the same names.
METRICS = (
    "forget_Q_A_Prob",
    "forget_Q_A_ROUGE",
    "forget_truth_ratio",
    "forget_quality",
    "model_utility",
    "privleak",
    "extraction_strength",
)
# Import-only stand-ins for modules open-unlearning imports at start-up but a TOFU evaluation never calls.
IMPORT_STUBS = {
    "deepspeed": {"deepspeed/__init__.py": ""},
    "lm_eval": {
        "lm_eval/__init__.py": "simple_evaluate = None\n",
        "lm_eval/models/__init__.py": "",
        "lm_eval/models/hf_vlms.py": "HFLM = None\n",
        "lm_eval/tasks.py": "TaskManager = None\n",
    },
}
# Edits to a copy of open-unlearning's src/ for APIs that moved in the transformers installed here (its pins are
# older): (file, text, replacement, why), applied only where `needed(transformers major version)` holds.
PATCHES = (
    (
        "data/utils.py",
        "tokenize=True, add_generation_prompt=",
        "tokenize=True, return_dict=False, add_generation_prompt=",
        "transformers >= 5: apply_chat_template(tokenize=True) returns a BatchEncoding unless return_dict=False",
        lambda major: major >= 5,
    ),
)
PIPELINES = ("hf_unlearn (1 process)", "hf_unlearn (1 process per model)", "open-unlearning (1 process per model)")
# Start-up of one process (imports and, for open-unlearning, composing the config; no model, no data), measured the
# same way, to split each pipeline's time into start-up and evaluation work: (name, the pipeline it belongs to).
STARTUP = {"hf_unlearn start-up": "hf_unlearn", "open-unlearning start-up": "open-unlearning"}
# Modules both evaluators import only once they load the model or score ROUGE (lazily): imported in both start-up
# processes, so that a start-up counts every import of an evaluation process, on both sides alike.
LAZY_IMPORTS = "import transformers.models.llama.modeling_llama, rouge_score.rouge_scorer, scipy.stats"
HF_UNLEARN_IMPORTS = (
    "import torch, transformers, datasets, hf_unlearn.cli, hf_unlearn.eval.cli, hf_unlearn.eval.tofu; " + LAZY_IMPORTS
)
# open-unlearning's start-up: the lazy imports, then its src/eval.py as a script with `--cfg job` (imports, config).
OPEN_UNLEARNING_STARTUP = (
    LAZY_IMPORTS + "; import runpy, sys; sys.argv = ['src/eval.py', *sys.argv[1:]]; "
    "runpy.run_path('src/eval.py', run_name='__main__')"
)


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--open_unlearning_dir",
        required=True,
        help="A clone of https://github.com/locuslab/open-unlearning (its src/eval.py is run).",
    )
    parser.add_argument("--preset", default="default", help="Offline mini-TOFU preset ('test', 'default').")
    parser.add_argument("--world", default=None, help="A built world folder instead of the --preset cache.")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["target"],
        help="The world's models to evaluate against the retain model (one process for all of them on hf_unlearn's "
        "first pipeline; one process per model otherwise).",
    )
    parser.add_argument("--retain_model", default="retain90", help="The world's retain model.")
    parser.add_argument("--forget_split", default="forget10", help="Forget split (forget01, forget05, forget10).")
    parser.add_argument("--batch_size", type=int, default=32, help="Batch size of both evaluators.")
    parser.add_argument("--max_new_tokens", type=int, default=200, help="Greedy generation length (both).")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each pipeline, alternated; fastest kept.")
    parser.add_argument("--output", default=None, help="Write the results JSON here (e.g. benchmarks/results/...).")
    return parser.parse_args(input_args)


def check_open_unlearning(path: str) -> Path:
    """The open-unlearning clone, checked before any work; a clear error says how to get it."""
    root = Path(path)
    if not (root / "src" / "eval.py").is_file() or not (root / "configs" / "eval" / "tofu.yaml").is_file():
        raise ValueError(
            f"--open_unlearning_dir {path!r} is not an open-unlearning clone (no src/eval.py and "
            "configs/eval/tofu.yaml). Get it with `git clone https://github.com/locuslab/open-unlearning` and pass "
            "that folder."
        )
    try:
        import hydra  # noqa: F401
    except ImportError as err:
        raise ValueError(
            "open-unlearning's evaluator needs hydra: `pip install 'hydra-core==1.3.*' hydra_colorlog`."
        ) from err
    return root


def import_stubs(folder: Path) -> list[str]:
    """Writes the import-only stand-ins for the modules that are not installed; returns their names."""
    import importlib.util

    written = []
    for name, files in IMPORT_STUBS.items():
        if importlib.util.find_spec(name) is not None:
            continue
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        written.append(name)
    return written


def patched_source(root: Path, folder: Path) -> list[str]:
    """Copies open-unlearning's src/ and configs/ to `folder` and applies the `PATCHES` this transformers needs;
    returns them, one line each. The clone itself is left untouched."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    shutil.copytree(root / "src", folder / "src")
    shutil.copytree(root / "configs", folder / "configs")
    applied = []
    for rel, old, new, why, needed in PATCHES:
        if not needed(major):
            continue
        path = folder / "src" / rel
        text = path.read_text()
        if old not in text:
            raise RuntimeError(f"open-unlearning's src/{rel} no longer contains {old!r}; update PATCHES.")
        path.write_text(text.replace(old, new))
        applied.append(f"src/{rel}: {old!r} -> {new!r} ({text.count(old)}x; {why})")
    return applied


def environment(pythonpath: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(pythonpath + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    return env


def run_timed(commands: list[tuple[list[str], str, dict[str, str]]], log: Path) -> dict[str, Any]:
    """Runs the commands one after another; CPU seconds (user + system, all child processes) and wall seconds."""
    seconds = []
    with log.open("a") as out:
        for cmd, cwd, env in commands:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise RuntimeError(f"{cmd[:3]} failed (exit {proc.returncode}); see {log}.")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            seconds.append({"cpu_s": cpu, "wall_s": wall})
    return {
        "cpu_s": sum(s["cpu_s"] for s in seconds),
        "wall_s": sum(s["wall_s"] for s in seconds),
        "processes": seconds,
    }


def open_unlearning_overrides(root: Path, env: dict[str, str], data: str, max_new_tokens: int) -> list[str]:
    """Every dataset path of the default TOFU evaluation pointed at `data`, and every generation length set, found
    in open-unlearning's own composed config (`--cfg job`), so that no metric is missed."""
    import yaml

    out = subprocess.run(
        [sys.executable, "src/eval.py", "--cfg", "job", "model=Llama-3.2-1B-Instruct", "task_name=cfg"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    overrides: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = [*path, str(key)]
            if key == "hf_args" and isinstance(value, dict) and "path" in value:
                overrides.append(".".join([*here, "path"]) + f"={data}")
            if key == "generation_args" and isinstance(value, dict):
                overrides.append(".".join([*here, "max_new_tokens"]) + f"={max_new_tokens}")
            walk(value, here)

    walk(yaml.safe_load(out), [])
    return overrides


def open_unlearning_command(
    model_dir: Path, out_dir: Path, retain_logs: Path | None, args: argparse.Namespace, common: list[str]
) -> list[str]:
    return [
        sys.executable,
        "src/eval.py",
        "model=Llama-3.2-1B-Instruct",
        f"model.model_args.pretrained_model_name_or_path={model_dir}",
        f"model.tokenizer_args.pretrained_model_name_or_path={model_dir}",
        "~model.model_args.attn_implementation",
        "model.model_args.torch_dtype=float32",
        "model.model_args.device_map=cpu",
        "model.template_args.apply_chat_template=true",
        "model.template_args.system_prompt=null",
        "model.template_args.date_string=null",
        f"eval.tofu.forget_split={args.forget_split}",
        f"eval.tofu.holdout_split=holdout{args.forget_split[-2:]}",
        f"eval.tofu.batch_size={args.batch_size}",
        "eval.tofu.overwrite=true",
        f"eval.tofu.retain_logs_path={retain_logs if retain_logs else 'null'}",
        f"task_name={out_dir.name}",
        f"paths.output_dir={out_dir}",
        *common,
    ]


def hf_unlearn_command(args: argparse.Namespace, data: str, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hf_unlearn.cli",
        "eval",
        "tofu",
        "--data",
        data,
        "--forget_split",
        args.forget_split,
        "--batch_size",
        str(args.batch_size),
        "--max_new_tokens",
        str(args.max_new_tokens),
        "--device",
        "cpu",
        "--no_progress",
        "--overwrite",
        *extra,
    ]


def side_by_side(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> list[dict[str, Any]]:
    """The `METRICS` of two summaries, row by row, with their absolute difference (None where one is missing)."""
    rows = []
    for metric in METRICS:
        x, y = a.get(metric), b.get(metric)
        diff = abs(x - y) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
        rows.append({"metric": metric, names[0]: x, names[1]: y, "abs_diff": diff})
    return rows


def main(args: argparse.Namespace) -> dict:
    root = check_open_unlearning(args.open_unlearning_dir)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}.")
    from hf_unlearn.synthetic import TofuWorld, build_tofu_world

    world = TofuWorld.from_path(args.world) if args.world else build_tofu_world(args.preset)
    data = str(world.data_dir)
    if len(set(args.models)) != len(args.models) or args.retain_model in args.models:
        raise ValueError(f"--models must be distinct and differ from --retain_model, got {args.models}.")
    retain_dir = world.model_path(args.retain_model)
    work = Path(tempfile.mkdtemp(prefix="bench_eval_ou_"))
    stubs = import_stubs(work / "stubs")
    ou_root = work / "open-unlearning"
    patches = patched_source(root, ou_root)
    ou_env = environment([str(ou_root / "src"), str(work / "stubs")])
    env = environment([])
    common = open_unlearning_overrides(ou_root, ou_env, data, args.max_new_tokens)
    log = work / "log.txt"
    git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False)
    commit = git.stdout.strip() or None
    ours_dir, ou_dir = work / "hf_unlearn", work / "open_unlearning"
    cwd = os.getcwd()

    def ours(extra: list[str]) -> tuple[list[str], str, dict[str, str]]:
        return hf_unlearn_command(args, str(world.path), extra), cwd, env

    def theirs(model: str | None) -> tuple[list[str], str, dict[str, str]]:
        if model is None:  # the retain model
            return open_unlearning_command(retain_dir, ou_dir / "retain", None, args, common), str(ou_root), ou_env
        retain_logs = ou_dir / "retain" / "TOFU_EVAL.json"
        cmd = open_unlearning_command(world.model_path(model), ou_dir / model, retain_logs, args, common)
        return cmd, str(ou_root), ou_env

    one_process = ["--model", *args.models, "--retain_model", args.retain_model, "--output_file"]
    pipelines = {
        PIPELINES[0]: [ours([*one_process, *(str(ours_dir / f"one_{m}.json") for m in args.models)])],
        PIPELINES[1]: [
            ours(["--model", args.retain_model, "--output_file", str(ours_dir / "retain.json")]),
            *(
                ours(
                    [
                        "--model",
                        m,
                        "--retain_results",
                        str(ours_dir / "retain.json"),
                        "--output_file",
                        str(ours_dir / f"each_{m}.json"),
                    ]
                )
                for m in args.models
            ),
        ],
        PIPELINES[2]: [theirs(None), *(theirs(m) for m in args.models)],
    }
    pipelines["hf_unlearn start-up"] = [([sys.executable, "-c", HF_UNLEARN_IMPORTS], cwd, env)]
    pipelines["open-unlearning start-up"] = [
        (
            [
                sys.executable,
                "-c",
                OPEN_UNLEARNING_STARTUP,
                "--cfg",
                "job",
                "model=Llama-3.2-1B-Instruct",
                "task_name=s",
                *common,
            ],
            str(ou_root),
            ou_env,
        )
    ]
    names = (*PIPELINES, *STARTUP)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        order = names if repeat % 2 == 0 else tuple(reversed(names))  # alternated
        for name in order:
            runs[name].append(run_timed(pipelines[name], log))
            print(
                f"repeat {repeat + 1}: {name}: {runs[name][-1]['cpu_s']:.1f} CPU s, {runs[name][-1]['wall_s']:.1f} s"
            )

    def summary(path: Path) -> dict[str, Any]:
        return json.loads(path.read_text())["summary"]

    ours_retain = summary(ours_dir / f"one_{args.models[0]}.retain.json")
    theirs_retain = json.loads((ou_dir / "retain" / "TOFU_SUMMARY.json").read_text())
    best = {name: min(r, key=lambda x: x["cpu_s"]) for name, r in runs.items()}
    baseline = best[PIPELINES[2]]
    startup = {owner: best[name]["cpu_s"] for name, owner in STARTUP.items()}

    def work_cpu(name: str) -> float:  # CPU seconds less one start-up per process
        owner = next(o for o in startup if name.startswith(o))
        return best[name]["cpu_s"] - len(pipelines[name]) * startup[owner]

    timing = [
        {
            "pipeline": name,
            "processes": len(pipelines[name]),
            "cpu_s": best[name]["cpu_s"],
            "wall_s": best[name]["wall_s"],
            "cpu_speedup_vs_open_unlearning": baseline["cpu_s"] / best[name]["cpu_s"],
            "wall_speedup_vs_open_unlearning": baseline["wall_s"] / best[name]["wall_s"],
            "work_cpu_s": work_cpu(name),
            "work_cpu_speedup_vs_open_unlearning": work_cpu(PIPELINES[2]) / work_cpu(name),
            "cpu_speedup_per_repeat": [o["cpu_s"] / r["cpu_s"] for o, r in zip(runs[PIPELINES[2]], runs[name])],
            "all_repeats": runs[name],
        }
        for name in PIPELINES
    ]
    startups = [{"process": name, **best[name], "all_repeats": runs[name]} for name in STARTUP]
    metrics = {args.retain_model: side_by_side(ours_retain, theirs_retain, ("hf_unlearn", "open_unlearning"))}
    for m in args.models:
        one = summary(ours_dir / f"one_{m}.json")
        theirs_m = json.loads((ou_dir / m / "TOFU_SUMMARY.json").read_text())
        metrics[m] = side_by_side(one, theirs_m, ("hf_unlearn", "open_unlearning"))
        each = summary(ours_dir / f"each_{m}.json")
        metrics[f"{m}, hf_unlearn 1 process vs 1 process per model"] = side_by_side(
            one, each, ("1_process", "1_process_per_model")
        )
    print("| pipeline | CPU s | wall s | CPU speed-up | wall speed-up | CPU s less start-ups | its speed-up |")
    print("|---|---|---|---|---|---|---|")
    for t in timing:
        print(
            f"| {t['pipeline']} | {t['cpu_s']:.1f} | {t['wall_s']:.1f} | {t['cpu_speedup_vs_open_unlearning']:.2f}x "
            f"| {t['wall_speedup_vs_open_unlearning']:.2f}x | {t['work_cpu_s']:.1f} "
            f"| {t['work_cpu_speedup_vs_open_unlearning']:.2f}x |"
        )
    for t in startups:
        print(f"start-up, one process: {t['process']}: {t['cpu_s']:.1f} CPU s, {t['wall_s']:.1f} s")
    for model, rows in metrics.items():
        a, b = list(rows[0])[1:3]
        print(f"[{model}]\n| metric | {a} | {b} | abs diff |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['metric']} | {r[a]} | {r[b]} | {r['abs_diff']} |")
    report = {
        "benchmark": "tofu evaluation, hf_unlearn vs open-unlearning, end to end",
        "settings": {
            **{k: v for k, v in vars(args).items() if k != "open_unlearning_dir"},
            "world": world.path.name,
            "open_unlearning_commit": commit,
            "open_unlearning_import_stubs": stubs,
            "open_unlearning_patches": patches,
            "torch_threads": 1,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "command": "python benchmarks/bench_eval_open_unlearning.py --open_unlearning_dir OPEN_UNLEARNING "
            + " ".join(
                f"--{k} {v}"
                for k, v in vars(args).items()
                if v is not None and k not in ("output", "open_unlearning_dir")
            ),
        },
        "timing": timing,
        "startup_per_process": startups,
        "metrics": metrics,
    }
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(work)
    return report


if __name__ == "__main__":
    main(parse_args())
