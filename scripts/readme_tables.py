"""Writes the README's results tables from the benchmarks' JSON output (`benchmarks/results/*.json`).

Each table sits between marker comments in README.md:

    <!-- results:NAME -->
    ...generated table, seeds and command...
    <!-- /results:NAME -->

and is rendered from its JSON file by the function registered for NAME below. Nothing in a generated block is typed
by hand, so a table cannot drift from its results file; `tests/test_readme_tables.py` fails when they disagree.

    python scripts/readme_tables.py            # rewrite the blocks in README.md
    python scripts/readme_tables.py --check    # exit 1 if a block differs from its JSON (what the test checks)

To refresh a table, rerun the command printed under it, copy its JSON to `benchmarks/results/`, and rerun this script.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
_BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.DOTALL)

#: Claims the README makes about the method benchmark, which should hold on any machine (not digits): the world
#: recipe's unlearned model reaches at least this multiple of the target's forget quality ...
MIN_FORGET_QUALITY_X_TARGET = 100.0
#: ... and keeps at least this fraction of the retain model's utility (medians over seeds).
MIN_UTILITY_X_RETAIN = 0.95

_METHOD_NAMES = {"simnpo": "SimNPO", "npo": "NPO", "graddiff": "GradDiff", "ga": "GA"}


def _fmt(x: float) -> str:
    """Three significant digits, or scientific notation below 1e-3."""
    if x == 0:
        return "0"
    return f"{x:.2g}" if abs(x) < 1e-3 else f"{x:.3g}"


def _command(settings: dict) -> str:
    methods = " ".join(settings["methods"])
    seeds = " ".join(str(s) for s in settings["seeds"])
    return (
        f"python benchmarks/bench_tofu_methods.py --preset {settings['preset']} --methods {methods} "
        f"--seeds {seeds} --output_dir OUT"
    )


def _method_label(label: str, runs: list[dict], recipe: str) -> str:
    method = label.split("_")[0]
    hp = runs[0]["hyperparameters"]
    parts = [_METHOD_NAMES.get(method, method)]
    if method in ("simnpo", "npo"):
        parts.append(f"β {hp['beta']:g}")
    parts.append("lr " + f"{hp['learning_rate']:.0e}".replace("e-0", "e-"))
    text = " ".join(parts[:2]) + (", " + parts[2] if len(parts) > 2 else "")
    return text + (" (the world recipe, = quick start)" if label == recipe else "")


def method_summary(data: dict) -> dict[str, dict[str, float]]:
    """Per method label: median, min and max forget quality and model utility over seeds, and the ratios."""
    target, retain = data["target"], data["retain"]
    out = {}
    for label, entry in data["methods"].items():
        fq = [r["forget_quality"] for r in entry["runs"]]
        mu = [r["model_utility"] for r in entry["runs"]]
        out[label] = {
            "fq_median": statistics.median(fq),
            "fq_min": min(fq),
            "fq_max": max(fq),
            "mu_median": statistics.median(mu),
            "mu_min": min(mu),
            "mu_max": max(mu),
            "fq_x_target": statistics.median(fq) / target["forget_quality"],
            "mu_x_retain": statistics.median(mu) / retain["model_utility"],
            "seeds": [r["seed"] for r in entry["runs"]],
        }
    return out


def merge_method_runs(parts: list[dict]) -> dict:
    """One method-benchmark summary from several `bench_tofu_methods.py` outputs of the same world on the same machine
    (e.g. a method added later): the first part's target, retain and settings, every part's methods. Raises when the
    parts' target or retain models score differently (another world, machine or code)."""
    merged = {**parts[0], "methods": {}, "commands": []}
    for part in parts:
        for key in ("target", "retain"):
            a, b = part[key], parts[0][key]
            if a["forget_quality"] != b["forget_quality"] or abs(a["model_utility"] - b["model_utility"]) > 1e-6:
                raise ValueError(f"the {key} models of the merged method benchmarks differ: {a} vs {b}.")
        merged["methods"].update(part["methods"])
        merged["commands"].append(_command(part["settings"]))
    return merged


def render_tofu_methods(parts: list[dict]) -> str:
    """The method benchmark table (`bench_tofu_methods.py` summary.json files, merged by [`merge_method_runs`])."""
    data = merge_method_runs(parts)
    target, retain, settings = data["target"], data["retain"], data["settings"]
    summary = method_summary(data)
    recipe = next(iter(data["methods"]))
    lines = [
        (
            f"`{settings['preset']}` world, {settings['forget_split']}; forget quality per seed in seed order "
            f"(seeds in the commands):"
        ),
        "",
        "\n\n".join(f"`{command}`" for command in data["commands"]),
        "",
        "| model / method | forget quality: median [min, max] | per seed | model utility: median [min, max] (× retain) |",
        "|---|---|---|---|",
        (
            f"| target (before unlearning) | {_fmt(target['forget_quality'])} | - | "
            f"{target['model_utility']:.3f} ({target['model_utility'] / retain['model_utility']:.3f}×) |"
        ),
        f"| retain90 model | {_fmt(retain['forget_quality'])} (by definition) | - | {retain['model_utility']:.3f} |",
    ]
    for label, entry in data["methods"].items():
        s = summary[label]
        per_seed = " / ".join(_fmt(r["forget_quality"]) for r in entry["runs"])
        lines.append(
            f"| {_method_label(label, entry['runs'], recipe)} | {_fmt(s['fq_median'])} "
            f"[{_fmt(s['fq_min'])}, {_fmt(s['fq_max'])}] | {per_seed} | {s['mu_median']:.3f} "
            f"[{s['mu_min']:.3f}, {s['mu_max']:.3f}] ({s['mu_x_retain']:.3f}×) |"
        )
    return "\n".join(lines) + "\n"


def render_quickstart(data: dict) -> str:
    """The quick start's figure: the world recipe's spread over seeds, from the same summary.json."""
    recipe = next(iter(data["methods"]))
    s = method_summary(data)[recipe]
    target, retain = data["target"], data["retain"]
    return (
        f"Over seeds {', '.join(map(str, s['seeds']))} of the quick start's recipe (`{_command(data['settings'])}`, "
        f"first row): forget quality median {_fmt(s['fq_median'])} (range {_fmt(s['fq_min'])} to {_fmt(s['fq_max'])}, "
        f"{s['fq_max'] / s['fq_min']:.3g}x apart; "
        f"target {_fmt(target['forget_quality'])}), model utility median {s['mu_median']:.3f} (range "
        f"{s['mu_min']:.3f} to {s['mu_max']:.3f}; target {target['model_utility']:.3f}, retain "
        f"{retain['model_utility']:.3f}).\n"
    )


def render_float_kernels(data: dict) -> str:
    """The kernel-dependence table (`benchmarks/float_kernels.py` JSON)."""
    lines = [
        (
            f"`python benchmarks/float_kernels.py --steps {data['steps']}` (tiny Llama, {data['steps']} AdamW steps, one "
            "thread; each row against the first):"
        ),
        "",
        (
            "| kernels | ATen path | logits before training: max abs diff | weights after: mean abs diff (share that "
            "differ) | logits after: max abs diff |"
        ),
        "|---|---|---|---|---|",
    ]
    for name, r in data["settings"].items():
        lines.append(
            f"| {name} | {r['aten_capability']} | {r['first_logits_max_abs_diff']:.2g} | "
            f"{r['weights_mean_abs_diff']:.2g} ({r['weights_fraction_different']:.1%}) | "
            f"{r['final_logits_max_abs_diff']:.2g} |"
        )
    return "\n".join(lines) + "\n"


WORLD_ROWS = {
    "target": "target",
    "retain90_seed1": "retain90, second seed (init included)",
    "retain90": "retain90",
    "base": "base (world facts only)",
}
WORLD_KEYS = ("forget_quality", "forget_quality_ks_statistic", "model_utility", "forget_rouge_l_recall")
WORLD_KEYS += ("world_facts_utility",)


def collect_world(eval_dir: Path, output: Path = RESULTS / "tofu_world.json") -> None:
    """Keeps the summaries of the world's `hf-unlearn eval tofu` runs (`<model>.json`, and the retain model's
    `target.retain.json`), as written by the commands in the README's world table, in one small JSON file."""
    files = {name: eval_dir / f"{name}.json" for name in WORLD_ROWS}
    files["retain90"] = eval_dir / "target.retain.json"
    models = {}
    for name, path in files.items():
        summary = json.loads(path.read_text())["summary"]
        models[name] = {k: summary[k] for k in WORLD_KEYS}
    max_new_tokens = json.loads(files["target"].read_text())["max_new_tokens"]
    output.write_text(json.dumps({"max_new_tokens": max_new_tokens, "models": models}, indent=2) + "\n")


def render_tofu_world(data: dict) -> str:
    """The world's models table (`collect_world` output)."""
    lines = [
        (
            "`hf-unlearn eval tofu --data WORLD --model target --retain_model retain90 --output_file E/target.json`, then "
            "`--model retain90_seed1` and `--model base` with `--retain_results E/target.retain.json` (WORLD = the cached "
            "`default` world, forget10):"
        ),
        "",
        "| model | forget quality vs retain90 (KS D) | model utility | forget ROUGE-L recall | world-facts utility |",
        "|---|---|---|---|---|",
    ]
    for name, label in WORLD_ROWS.items():
        m = data["models"][name]
        lines.append(
            f"| {label} | {_fmt(m['forget_quality'])} ({m['forget_quality_ks_statistic']:.3f}) | "
            f"{m['model_utility']:.3f} | {m['forget_rouge_l_recall']:.3f} | {m['world_facts_utility']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _mean_sd(values: list[float], digits: int = 3) -> str:
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


#: Rows and columns of the diffusion comparison (`bench_diffusion_methods.py`).
DIFFUSION_METHODS = {
    "original": "original",
    "ESD": "ESD (text encoder)",
    "SalUn": "SalUn (UNet, 50% mask)",
    "AdvUnlearn": "AdvUnlearn (text encoder)",
}
DIFFUSION_METRICS = ("concept_rate", "asr_discrete", "asr_soft", "retain_accuracy", "retain_image_distance")


def render_diffusion_methods(data: dict) -> str:
    """The original / ESD / SalUn / AdvUnlearn table (`benchmarks/bench_diffusion_methods.py` JSON)."""
    runs, s = data["runs"], data["settings"]
    seeds = [r["seed"] for r in runs]
    n = s["eval_num_images"]
    lines = [
        (
            f"Seeds {', '.join(map(str, seeds))}, `{data['world']['preset']}` shapes world (`{data['world']['folder']}`), "
            f'erasing "{s["concept"]}"; mean ± standard deviation over seeds, each seed {n} images per prompt (3 concept '
            f"prompts, {sum('retain_accuracy' in v for v in runs[0]['models']['original']['per_prompt'].values())} retain "
            "prompts); per-seed values in the JSON:"
        ),
        "",
        f"`{data['command']}`",
        "",
        "| model | concept rate | ASR, discrete attack | ASR, soft attack | retain accuracy | image distance | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in DIFFUSION_METHODS.items():
        cells = []
        for metric in DIFFUSION_METRICS:
            values = [r["models"][key][metric] for r in runs]
            cells.append(_mean_sd(values, 2 if metric == "retain_image_distance" else 3))
        train = [r["train_seconds"][key] for r in runs] if key != "original" else None
        cells.append(f"{statistics.mean(train):.0f}" if train else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    frozen = all(r["salun"]["frozen_weights_bit_identical"] for r in runs)
    density = statistics.mean(r["salun"]["mask_density"] for r in runs)
    lines += [
        "",
        (
            f"SalUn: mask density {density:.3f}; non-salient UNet weights bit-identical to the original after training "
            f"in {'every seed' if frozen else 'NOT every seed'}. AdvUnlearn: {s['text_encoder_steps']} steps "
            f"({s['warmup_iter']} plain-ESD warmup), a {s['attack_step']}-step inner attack fitting the "
            f"{s.get('attack_loss', 'match')!r} loss, plain-prompt ESD weight {s.get('plain_prompt_weight', 0.0):g}. "
            "Training times are wall seconds on a shared, loaded 2-core CPU (compare within a row set, not across "
            "machines)."
        ),
    ]
    original = statistics.mean(r["models"]["original"]["concept_rate"] for r in runs)
    if original < 0.5:
        lines.append(
            f"\n**Uninformative:** the original model shows the concept in only {original:.2f} of its images, so "
            "erasure has little to remove on this world."
        )
    return "\n".join(lines) + "\n"


def _salun_settings_rows(data: dict) -> list[str]:
    a = data["settings"]
    command = (
        f"python benchmarks/salun_diffusion_settings.py --preset {a['preset']} --seed {a['seed']} --learning_rates "
        f"{' '.join(f'{v:g}' for v in a['learning_rates'])} --alphas {' '.join(f'{v:g}' for v in a['alphas'])} "
        f"--output_file {a['output_file']}"
    )
    lines = [
        f"`{command}`",
        "",
        (
            "| lr | alpha | concept rate | ASR, discrete | ASR, soft | retain accuracy | image distance | spread "
            "| forget loss, first → last step | retain loss, first → last step |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    o = data["original"]
    lines.append(
        f"| original | - | {o['concept_rate']:.3f} | {o['asr_discrete']:.3f} | {o['asr_soft']:.3f} | "
        f"{o['retain_accuracy']:.3f} | {o['retain_image_distance']:.2f} | {o['concept_image_spread']:.3f} | - | - |"
    )
    for r in data["runs"]:
        curve = list(r["loss_curve"].values())
        lines.append(
            f"| {r['salun_lr']:g} | {r['salun_alpha']:g} | {r['concept_rate']:.3f} | {r['asr_discrete']:.3f} | "
            f"{r['asr_soft']:.3f} | {r['retain_accuracy']:.3f} | {r['retain_image_distance']:.2f} | "
            f"{r['concept_image_spread']:.3f} | {curve[0]['loss/forget']:.3f} → {curve[-1]['loss/forget']:.3f} | "
            f"{curve[0]['loss/retain']:.3f} → {curve[-1]['loss/retain']:.3f} |"
        )
    return lines


def render_salun_diffusion_settings(datas: list[dict]) -> str:
    """SalUn's lr x alpha grid on a held-out seed (`benchmarks/salun_diffusion_settings.py` JSON) with the setting its
    rule chose, then the same script on reported seeds (checks, not used for the choice)."""
    selection, *checks = datas
    a = selection["settings"]
    lines = [
        (
            f"Held-out seed {a['seed']} (training and evaluation), `{a['preset']}` shapes world "
            f"(`{selection['world']}`), SalUn {a['salun_steps']} steps, sparsity {a['salun_sparsity']:g}, "
            f"{a['eval_num_images']} images per prompt, attacks of {a['eval_attack_steps']} steps; spread = per-pixel "
            "standard deviation over a concept prompt's plain images, averaged over pixels, lowest over the 3 prompts (a "
            "collapsed UNet draws one image from every noise); losses are single batches:"
        ),
        "",
        *_salun_settings_rows(selection),
        "",
        (
            f"Rule (fixed before the runs): retain accuracy ≥ {a['min_retain_accuracy']:g} and image distance ≤ "
            f"{a['max_image_distance']:g}, then the lowest soft-attack ASR, discrete-attack ASR, image distance. Chosen: "
        )
        + (
            f"lr {selection['chosen']['salun_lr']:g}, alpha {selection['chosen']['salun_alpha']:g}."
            if selection.get("chosen")
            else "none passes."
        ),
    ]
    for data in checks:
        lines += ["", f"Reported seed {data['settings']['seed']}, a check (not used for the choice):", ""]
        lines += _salun_settings_rows(data)
    return "\n".join(lines) + "\n"


_SPEED_LABELS = {
    "simnpo": "SimNPO (no reference)",
    "npo_copy": "NPO, copied reference",
    "npo_precomputed": "NPO, precomputed reference log-probs",
    "npo_lora_copy": "NPO + LoRA, copied reference",
    "npo_lora_adapter": "NPO + LoRA, adapter-disabled reference",
}


def _speed_command(settings: dict) -> str:
    flags = f"--steps {settings['steps']} --batch_size {settings['batch_size']} --seq_len {settings['seq_len']}"
    flags += f" --hidden_size {settings['hidden_size']} --num_layers {settings['num_layers']}"
    flags += f" --vocab_size {settings['vocab_size']}"
    flags += " --no_retain" if settings["no_retain"] else ""
    return f"python benchmarks/bench_llm_unlearn.py {flags} --output_file OUT.json"


def render_llm_speed(data: dict) -> str:
    """The speed and memory table (`bench_llm_unlearn.py --output_file` JSON) and the ratios read from it."""
    settings, results = data["settings"], data["results"]
    retain = "" if settings["no_retain"] else f" + {settings['batch_size']} retain"
    params = next(iter(results.values()))["params_m"]
    lines = [
        (
            f"`{_speed_command(settings)}` (Llama {params:.0f}M parameters, batch {settings['batch_size']} forget"
            f"{retain} × {settings['seq_len']} tokens, median of {settings['steps']} timed steps, "
            f"{settings['threads']} thread, {settings['device']}):"
        ),
        "",
        "| configuration | step (CPU s) | step (wall s, loaded machine) | peak tensor memory (MB) | peak RSS (MB) |",
        "|---|---|---|---|---|",
    ]
    for mode, r in results.items():
        rss = "-" if r["rss_peak_mb"] is None else f"{r['rss_peak_mb']:.0f}"
        lines.append(
            f"| {_SPEED_LABELS[mode]} | {r['step_s']:.3f} | {r['step_wall_s']:.3f} | {r['tensor_peak_mb']:.0f} | "
            f"{rss} |"
        )

    def ratio(a: str, b: str, key: str) -> str:
        return f"{results[a][key] / results[b][key]:.2f}×"

    lines += [
        "",
        (
            f"- Memory: LoRA with the adapter-disabled reference needs {ratio('npo_lora_adapter', 'npo_lora_copy', 'tensor_peak_mb')} "
            f"the tensor memory of LoRA with a copied reference ({ratio('npo_lora_adapter', 'npo_lora_copy', 'rss_peak_mb')} "
            "by RSS); in full fine-tuning, precomputed reference log-probs need "
            f"{ratio('npo_precomputed', 'npo_copy', 'tensor_peak_mb')} and SimNPO "
            f"{ratio('simnpo', 'npo_copy', 'tensor_peak_mb')} of NPO with a copied reference."
        ),
        (
            f"- Step time (CPU): SimNPO {ratio('simnpo', 'npo_copy', 'step_s')} and NPO with precomputed log-probs "
            f"{ratio('npo_precomputed', 'npo_copy', 'step_s')} of NPO with a copied reference."
        ),
    ]
    return "\n".join(lines) + "\n"


def _spread(values: list[float], digits: int = 3) -> str:
    """Mean ± sample std of values (one value alone as is)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def render_tofu_mia(data: dict) -> str:
    """Membership inference of the method benchmark's models (`bench_tofu_methods.py` summary.json: each run's
    evaluation keeps the MIA AUCs of forget vs holdout answers, PrivLeak against the retain model and ES)."""
    from hf_unlearn.eval.mia import PRIVACY_SUMMARY_KEYS

    settings, target, retain = data["settings"], data["target"], data["retain"]
    lines = [
        (
            f"`{_command(settings)}` (the method table's runs; forget10 answers vs holdout10 answers, k = 0.4, mean ± "
            "std over seeds):"
        ),
        "",
        "| model | n | " + " | ".join(PRIVACY_SUMMARY_KEYS.values()) + " |",
        "|---" * (len(PRIVACY_SUMMARY_KEYS) + 2) + "|",
    ]
    for name, summary in (("retain90", {**retain, "privleak": 0.0}), ("target", target)):
        cells = [_spread([summary[k]], digits=1 if k == "privleak" else 3) for k in PRIVACY_SUMMARY_KEYS]
        lines.append(f"| {name} | 1 | " + " | ".join(cells) + " |")
    for label, entry in data["methods"].items():
        runs = entry["runs"]
        cells = [_spread([r[k] for r in runs], digits=1 if k == "privleak" else 3) for k in PRIVACY_SUMMARY_KEYS]
        lines.append(f"| {_METHOD_NAMES.get(label.split('_')[0], label)} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_SET_TITLES = {"worst": "worst-case", "random": "random", "lowest_loss": "lowest-loss", "easiest": "easiest"}


def _med_range(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"


def render_worstcase_tofu(data: dict) -> str:
    """The worst-case author-set table (`benchmarks/worstcase_tofu.py` results.json), computed from its per-run rows:
    per method and author set, median [min, max] over seeds of log10 forget quality, of its per-seed difference to
    the random set, and of model utility; then the selection cost."""
    cfg, runs = data["config"], data["runs"]
    log_fq = {(r["seed"], r["kind"], r["method"]): math.log10(max(r["forget_quality"], 1e-300)) for r in runs}
    resumed = sorted({r["measured_in_commit"] for r in runs if "measured_in_commit" in r})
    lines = [
        (
            f"`python benchmarks/worstcase_tofu.py --output_dir OUT --preset {cfg['preset']} --budget {cfg['budget']} "
            f"--seeds {' '.join(map(str, cfg['seeds']))}` (default selection: lower level {cfg['lower_method']}, "
            f"{cfg['selection']['upper_steps']} x {cfg['selection']['lower_steps']} sign-SGD steps; n = seeds per row"
            + (f"; rows of seed 0 for worst-case/random/lowest-loss from the same command at commit {', '.join(resumed)}"
               ", resumed with `--resume`" if resumed else "")
            + "):"
        ),
        "",
        (
            "| method | author set | n | log10 forget quality ↑: median [min, max] | minus random, same seed | "
            "model utility: median [min, max] |"
        ),
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for method in dict.fromkeys(r["method"] for r in runs):
        for kind, title in _SET_TITLES.items():
            sel = [r for r in runs if r["method"] == method and r["kind"] == kind]
            if not sel:
                continue
            paired = [
                log_fq[(r["seed"], kind, method)] - log_fq[(r["seed"], "random", method)]
                for r in sel
                if kind != "random" and (r["seed"], "random", method) in log_fq
            ]
            lines.append(
                f"| {_METHOD_NAMES.get(method, method)} | {title} | {len(sel)} | "
                f"{_med_range([log_fq[(r['seed'], kind, method)] for r in sel], '{:.2f}')} | "
                f"{_med_range(paired, '{:+.2f}') if paired else '-'} | "
                f"{_med_range([r['model_utility'] for r in sel], '{:.3f}')} |"
            )
    across = [f"{_SET_TITLES[k]} {v:.2f}" for k, v in data["overlap"].items() if k in _SET_TITLES and v is not None]
    versus = [
        f"{_SET_TITLES[k.removeprefix('worst_vs_')]} {' / '.join(f'{x:.2f}' for x in v)}"
        for k, v in data["overlap"].items()
        if k.startswith("worst_vs_")
    ]
    lines += ["", f"Jaccard of the author sets across seeds (mean over pairs): {', '.join(across) or '-'}; "]
    lines[-1] += f"worst-case vs the other sets of the same seed: {', '.join(versus) or '-'}."
    if data.get("cost"):
        ratios = [c["selection_s"] / c["unlearn_s"] for c in data["cost"]]
        pairs = ", ".join(f"{c['selection_s']:.0f} s vs {c['unlearn_s']:.0f} s" for c in data["cost"])
        lines += [
            "",
            (
                f"Selection cost: {_med_range(ratios, '{:.1f}')} x one {cfg['lower_method']} unlearning run on the "
                f"selected set, measured side by side in the same process ({len(ratios)} selections: {pairs})."
            ),
        ]
    return "\n".join(lines) + "\n"


def render_worstcase_prompts(data: dict) -> str:
    """The worst-case prompt-set table (`benchmarks/worstcase_prompts.py` JSON)."""
    from hf_unlearn.worstcase.diffusion import format_worstcase_prompts_markdown

    s = data["settings"]
    seeds = " ".join(str(x) for x in s["seeds"])
    command = (
        f"python benchmarks/worstcase_prompts.py --preset {s['preset']} --concept {s['concept']} --budget {s['budget']} "
        f"--seeds {seeds} --num_images {s['num_images']} --esd_steps {s['esd']['steps']} "
        f"--upper_steps {s['selection']['upper_steps']} --output_dir OUT"
    )
    return f"`{command}` (world `{s['world']}`):\n\n" + format_worstcase_prompts_markdown(data) + "\n"


_ROBUSTNESS_NAMES = {
    "original": "original",
    "esd": "ESD",
    "advunlearn": "AdvUnlearn",
    "fast_at_1step": "fast AT (1 sign step)",
    "advunlearn_screen": "AdvUnlearn + token screen",
    "advunlearn_denoise": "AdvUnlearn, denoising-loss attack",
    "advunlearn_mix": "AdvUnlearn + plain-prompt ESD",
    "advunlearn_denoise_mix": "AdvUnlearn, denoising-loss attack + plain-prompt ESD",
}


def render_advunlearn_robustness(data: dict) -> str:
    """The AdvUnlearn-vs-ESD robustness table (`benchmarks/advunlearn_robustness.py` JSON)."""
    s, summary, ratios = data["settings"], data["summary"], data["median_ratio_to_esd"]
    seeds = " ".join(str(x) for x in s["seeds"])
    spread = lambda d: f"{d['median']:.3f} [{d['min']:.3f}, {d['max']:.3f}]"  # noqa: E731
    variants = f"--variants {' '.join(s['variants'])} "
    copied = {r["seed"]: [n for n in s["variants"] if "reused_from" in r.get(n, {})] for r in data["runs"]}
    copied = {seed: names for seed, names in copied.items() if names}
    checks = [r["esd_reproduced"] for r in data["runs"] if "esd_reproduced" in r]
    reuse = (
        " --reuse EARLIER.json` (rows copied from EARLIER.json, an earlier run with the same settings, as training and "
        "evaluation are deterministic per seed: "
        + "; ".join(
            f"seed {seed}: {'every variant' if len(names) == len(s['variants']) else ', '.join(names)}"
            for seed, names in copied.items()
        )
        + (
            "; ESD was retrained beside the new variants and reproduced the earlier metrics exactly"
            if checks and all(checks)
            else ""
        )
        + ")"
        if copied
        else "`"
    )
    offset = s.get("eval_seed_offset", 1000)
    offset_flag = "" if offset == 1000 else f" --eval_seed_offset {offset}"
    eval_split = "" if offset == 1000 else f", evaluator seeded with seed + {offset} (`--eval_seed_offset {offset}`)"
    lines = [
        (
            f"`python benchmarks/advunlearn_robustness.py --preset {s['preset']} --seeds {seeds} {variants}"
            f"--max_train_steps {s['max_train_steps']} --warmup_iter {s['warmup_iter']} "
            f"--eval_num_images {s['eval_num_images']}{offset_flag} --output_file OUT.json{reuse} (world `{s['world']}`, "
            "erasing "
            f"{s['concept']!r}, {s['max_train_steps']} steps, "
            f"{s['eval_num_images']} images per prompt, evaluation attacks of {s['eval_attack_steps']} steps"
            f"{eval_split}; median [min, max] over seeds; × ESD = median over seeds of the per-seed ratio; retain image "
            "distance: Fréchet distance of image statistics to the original model's retain images, lower is closer):"
        ),
        "",
        (
            "| text encoder | concept rate | ASR discrete | × ESD | ASR soft | × ESD | retain acc. "
            "| retain image distance | train s (median) | × ESD |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratio = lambda name, k: f"{ratios[name][k]:.2f}" if k in ratios.get(name, {}) else "-"  # noqa: E731
    for name, row in summary.items():
        train = f"{row['train_seconds']['median']:.0f}" if "train_seconds" in row else "-"
        distance = spread(row["retain_image_distance"]) if name != "original" else "-"
        lines.append(
            f"| {_ROBUSTNESS_NAMES.get(name, name)} | {spread(row['concept_rate'])} | {spread(row['asr_discrete'])} | "
            f"{ratio(name, 'asr_discrete')} | {spread(row['asr_soft'])} | {ratio(name, 'asr_soft')} | "
            f"{spread(row['retain_accuracy'])} | {distance} | {train} | {ratio(name, 'train_seconds')} |"
        )
    return "\n".join(lines) + "\n"


def render_eval_speed(data: dict) -> str:
    """The TOFU evaluation speed table: CPU seconds per part, previous path vs fast path, per scenario."""
    settings = data["settings"]
    lines = [
        (
            f"Mini-TOFU `{settings['world']}`, batch {settings['batch_size']}, up to {settings['max_new_tokens']} new "
            f"tokens, {settings['torch_threads']} torch thread; CPU seconds of the benchmark process (both paths in the "
            "same run, alternated; wall times on this shared machine are in the JSON)."
        ),
        "",
        "| scenario | part | previous path (CPU s) | fast path (CPU s) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name, scenario in data["scenarios"].items():
        label = (
            f"{name}: {len(scenario['models'])} models x all sets"
            if name == "full"
            else f"{name}: {len(scenario['models'])} forget-set evaluations"
        )
        for row in scenario["parts"]:
            if row["part"] == "wall":
                continue
            bold = "**" if row["part"] == "total" else ""
            lines.append(
                f"| {label} | {bold}{row['part']}{bold} | {row['previous_s']:.2f} | {row['fast_s']:.2f} | "
                f"{bold}{row['speedup']:.2f}x{bold} |"
            )
    checks = [c for scenario in data["scenarios"].values() for c in scenario["checks"].values()]
    lines += [
        "",
        (
            f"Same numbers: largest difference of a summary metric {max(c['max_abs_diff_summary'] for c in checks):.1e}, "
            f"of an answer NLL {max(c['max_abs_diff_nll_answer'] for c in checks):.1e}; "
            f"{sum(c['identical_generations'] for c in checks)} of {sum(c['generations'] for c in checks)} greedy "
            "generations identical."
        ),
        "",
        f"`{settings['command']}`",
    ]
    return "\n".join(lines) + "\n"


def render_eval_vs_open_unlearning(parts: list[dict]) -> str:
    """End-to-end TOFU evaluation, hf_unlearn vs open-unlearning's evaluator: CPU seconds per pipeline, for each run
    (number of models), start-ups, and how far the two evaluators' numbers are apart."""
    first = parts[0]["settings"]
    lines = [
        (
            f"Mini-TOFU `{first['world']}`, {first['forget_split']}, batch {first['batch_size']}, up to "
            f"{first['max_new_tokens']} new tokens, CPU, {first['torch_threads']} torch thread; open-unlearning at "
            f"commit {first['open_unlearning_commit'][:7]}. CPU seconds of each pipeline's processes, fastest of "
            f'{first["repeats"]} alternated repeats (speed-up per repeat in brackets); "less start-ups" subtracts one '
            "start-up (every import; open-unlearning also composes its config) per process."
        ),
        "",
        "| models evaluated | pipeline | processes | CPU s | speed-up | CPU s less start-ups | its speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for data in parts:
        models = f"{data['settings']['retain_model']} + {', '.join(data['settings']['models'])}"
        for t in data["timing"]:
            repeats = ", ".join(f"{r:.2f}" for r in t["cpu_speedup_per_repeat"])
            bold = "**" if t["pipeline"] == "hf_unlearn (1 process)" else ""
            lines.append(
                f"| {models} | {t['pipeline']} | {t['processes']} | {t['cpu_s']:.1f} | "
                f"{bold}{t['cpu_speedup_vs_open_unlearning']:.2f}x{bold} ({repeats}) | {t['work_cpu_s']:.1f} | "
                f"{t['work_cpu_speedup_vs_open_unlearning']:.2f}x |"
            )
    startups = "; ".join(
        f"{process['process']} {min(p['startup_per_process'][i]['cpu_s'] for p in parts):.1f}"
        for i, process in enumerate(parts[0]["startup_per_process"])
    )
    diffs: dict[str, float] = {}
    for data in parts:
        for model, rows in data["metrics"].items():
            if "hf_unlearn" not in rows[0] or model == data["settings"]["retain_model"]:
                continue  # 1-process vs per-process rows; the retain model's own FQ / PrivLeak are set by construction
            for row in rows:
                if row["abs_diff"] is not None:
                    diffs[row["metric"]] = max(diffs.get(row["metric"], 0.0), row["abs_diff"])
    lines += [
        "",
        f"Start-up of one process, CPU s: {startups}.",
        "",
        "Largest difference between the two evaluators' summary numbers over the evaluated models: "
        + ", ".join(f"{metric} {diff:.1e}" for metric, diff in diffs.items())
        + ".",
        "",
        *(f"`{data['settings']['command']}`" for data in parts),
    ]
    return "\n".join(lines) + "\n"


_ROBUSTNESS_LABELS = {"target": "target", "retain": "retain", **_METHOD_NAMES}


def _mean_std(entry: dict, scientific: bool = False) -> str:
    mean, std = entry["mean"], entry["std"]
    return f"{mean:.2g} ± {std:.1g}" if scientific else f"{mean:.3f} ± {std:.3f}"


#: A column of a robustness table: (summary key, header, cell of {"mean": ..., "std": ...}).
_Column = tuple[str, str, Callable[[dict], str]]


def _robustness_tables(summary: dict, relearn: list[_Column], quant: list[_Column]) -> list[str]:
    """The relearning table (one row per model and step) and the quantisation table (step 0 = full precision, then
    each bit-width) of a `benchmarks/robustness_curves.py` summary."""
    lines = [
        "| model | relearn steps | " + " | ".join(header for _, header, _ in relearn) + " |",
        "|---|---|" + "---|" * len(relearn),
    ]
    for label, entry in summary.items():
        for step, m in entry["relearn"].items():
            cells = " | ".join(cell(m[key]) for key, _, cell in relearn)
            lines.append(f"| {_ROBUSTNESS_LABELS.get(label, label)} | {step} | {cells} |")
    bits = list(next(iter(summary.values()))["quantization"])
    lines += [
        "",
        "| model | "
        + " | ".join(f"{header} full | " + " | ".join(f"{b}-bit" for b in bits) for _, header, _ in quant)
        + " |",
        "|---|" + "---|" * (len(quant) * (1 + len(bits))),
    ]
    for label, entry in summary.items():
        full, q = entry["relearn"]["0"], entry["quantization"]
        cells = " | ".join(" | ".join([cell(full[key])] + [cell(q[b][key]) for b in bits]) for key, _, cell in quant)
        lines.append(f"| {_ROBUSTNESS_LABELS.get(label, label)} | {cells} |")
    return lines


def render_robustness_curves(data: dict) -> str:
    """Relearning curves and quantisation of target, retain and the unlearning methods, mean ± std over seeds."""
    settings = data["settings"]
    seeds = ", ".join(str(s) for s in settings["seeds"])
    prob = ("forget_Q_A_Prob", "forget_Q_A_Prob", _mean_std)
    quality = ("forget_quality", "forget_quality", lambda m: _mean_std(m, scientific=True))
    relearn = [prob, *((k, k, _mean_std) for k in ("forget_Q_A_ROUGE", "forget_truth_ratio")), quality]
    lines = [
        (
            f"Mini-TOFU `{settings['world']}`, {settings['forget_split']}; relearning on {settings['relearn_samples']} "
            f"forget items, lr {settings['relearn_lr']}, batch {settings['relearn_batch_size']}; mean ± std over seeds "
            f"{seeds} (unlearning seed = relearn seed; target and retain: relearn seeds only). Up to "
            f"{settings['eval_max_new_tokens']} generated tokens."
        ),
        "",
        *_robustness_tables(data["summary"], relearn, [prob, quality]),
        "",
        f"`{settings['command']}` (RTN per-group quantisation, group {settings['quant_group_size']})",
    ]
    return "\n".join(lines) + "\n"


def render_robustness_curves_muse(data: dict) -> str:
    """The mini-MUSE relearning curves and quantisation (`benchmarks/robustness_curves.py --benchmark muse`), mean ±
    std over seeds; ROUGE and extraction strength x 100 and PrivLeak as is, as in the MUSE methods table."""
    from hf_unlearn.eval.muse import MUSE_SUMMARY_KEYS

    settings = data["settings"]
    seeds = ", ".join(str(s) for s in settings["seeds"])

    def column(key: str) -> _Column:
        scale = 1 if key == "privleak" else 100
        return key, MUSE_SUMMARY_KEYS[key], lambda m: f"{m['mean'] * scale:.1f} ± {m['std'] * scale:.1f}"

    relearn = [column(k) for k in settings["metrics"]]
    lines = [
        (
            f"Mini-MUSE `{settings['world']}` (preset `{settings['preset']}`); relearning on "
            f"{settings['relearn_samples']} forget articles, lr {settings['relearn_lr']}, batch "
            f"{settings['relearn_batch_size']}; mean ± std over seeds {seeds} (unlearning seed = relearn seed; target "
            "and retain: relearn seeds only); ROUGE and ES x 100."
        ),
        "",
        *_robustness_tables(data["summary"], relearn, relearn[:3]),
        "",
        f"`{settings['command']}` (RTN per-group quantisation, group {settings['quant_group_size']})",
    ]
    return "\n".join(lines) + "\n"


def render_advunlearn_timing(data: dict) -> str:
    """The AdvUnlearn iteration-time table (`benchmarks/bench_advunlearn.py` JSON): mean ± std over seeds."""
    seeds = " ".join(str(s) for s in data["seeds"])
    names = {
        "esd": "ESD",
        "advunlearn": f"AdvUnlearn ({data['attack_step']}-step attack)",
        "fast_at": f"fast AT, {data['attack_step']} sign steps",
        "fast_at_1step": "fast AT, 1 step",
        "advunlearn_denoise_mix": f"AdvUnlearn, denoising-loss attack ({data['attack_step']} steps) + plain-prompt ESD",
    }
    names = {k: v for k, v in names.items() if k in data["seconds_per_iteration"]}
    lines = [
        (
            f"`python benchmarks/bench_advunlearn.py --preset {data['preset']} --iterations {data['iterations']} "
            f"--attack_step {data['attack_step']} --seeds {seeds}` on the shapes world `{data['pipeline']}` "
            f"({data['device']}, {data['threads']} thread; median seconds per iteration of each seed, variants "
            f"interleaved; mean ± std over {len(data['seeds'])} seeds; load average {data['load_average']:.1f} on a "
            "shared 2-core machine, so absolute times are loaded figures and the ratios are the comparable numbers):"
        ),
        "",
        "| variant | s / iteration | × ESD |",
        "|---|---|---|",
    ]
    for key, label in names.items():
        t, r = data["seconds_per_iteration"][key], data["ratio_to_esd"][key]
        lines.append(f"| {label} | {t['mean']:.3f} ± {t['std']:.3f} | {r['mean']:.2f} ± {r['std']:.2f} |")
    return "\n".join(lines) + "\n"


def _muse_command(settings: dict) -> str:
    extra = f" --extra {json.dumps(settings['extra'])}" if settings["extra"] else ""
    return (
        f"python benchmarks/muse_methods.py --output_dir OUT --preset {settings['preset']} --methods "
        f"{' '.join(settings['methods'])} --seeds {' '.join(map(str, settings['seeds']))}{extra}"
    )


def render_muse_methods(parts: list[dict]) -> str:
    """The MUSE job table (`benchmarks/muse_methods.py` summary.json files, one per `--extra` setting): the reference
    models of the first file, then every method row of every file, mean ± sample std over seeds."""
    from hf_unlearn.eval.muse import MUSE_SUMMARY_KEYS

    refs = {"target": "target", "retain": "retain", "retain_seed1": "retain, second seed"}
    first = parts[0]
    for part in parts[1:]:
        if (
            part["settings"]["world"] != first["settings"]["world"]
            or part["rows"]["retain"] != first["rows"]["retain"]
        ):
            raise ValueError(
                "the merged MUSE benchmarks were run on different worlds (or their retain models differ)."
            )
    s = first["settings"]
    lines = [
        f"World `{s['world']}` (preset `{s['preset']}`); mean ± std over seeds; ROUGE and ES x 100:",
        "",
        "\n\n".join(f"`{_muse_command(part['settings'])}`" for part in parts),
        "",
        "| model | n | " + " | ".join(MUSE_SUMMARY_KEYS.values()) + " | VerbMem D_f per seed |",
        "|---" * (len(MUSE_SUMMARY_KEYS) + 3) + "|",
    ]
    # as `hf_unlearn.eval.muse_table`: ROUGE and ES x 100, PrivLeak as is, the Min-K% AUC with 3 decimals
    scales = {k: (1, 1) if k == "privleak" else (1, 3) if k == "mia_min_k" else (100, 1) for k in MUSE_SUMMARY_KEYS}

    def row(label: str, runs: list[dict]) -> str:
        cells = [_spread([r[k] * scale for r in runs], digits) for k, (scale, digits) in scales.items()]
        per_seed = " / ".join(f"{r['forget_verbmem_ROUGE'] * 100:.1f}" for r in runs) if len(runs) > 1 else "-"
        return f"| {label} | {len(runs)} | " + " | ".join(cells) + f" | {per_seed} |"

    lines += [row(label, first["rows"][key]) for key, label in refs.items()]
    for part in parts:
        for method, runs in part["rows"].items():
            if method in refs:
                continue
            lr = runs[0]["learning_rate"]
            lines.append(row(f"{_METHOD_NAMES.get(method, method)} (β {runs[0]['beta']:g}, lr {lr:g})", runs))
    return "\n".join(lines) + "\n"


#: Rows of the digits tables (`hf_unlearn.vision` method names) and their README labels.
_DIGITS_METHODS = {"Original": "Original (no unlearning)", "FT": "FT", "GA": "GA", "RL": "RL", "SalUn": "SalUn"}
_DIGITS_METHODS["l1-sparse"] = "ℓ1-sparse"


def _gap_cell(runs: list[dict], scenario: str, method: str) -> str:
    gaps = [r["gap"] for r in runs if r["scenario"] == scenario and r["method"] == method]
    return f"{statistics.mean(gaps):.2f} ± {statistics.stdev(gaps):.2f}" if len(gaps) > 1 else f"{gaps[0]:.2f}"


def render_worstcase_digits(data: dict) -> str:
    """A digits worst-case table (`benchmarks/worstcase_classification.py` results.json): average gap to Retrain per
    method and forget set, mean ± sample std over seeds, computed from the per-run rows."""
    cfg, sel = data["config"], data["config"]["selection"]
    budget = sel["budget"] if cfg["unit"] == "example" else int(sel["budget"])
    kinds = [k for k in _SET_TITLES if k in cfg["set_kinds"]]
    unit = "class" if cfg["unit"] == "class" else ""
    lines = [
        (
            f"`python benchmarks/worstcase_classification.py --output_dir OUT --unit {cfg['unit']} --budget {budget} "
            f"--seeds {' '.join(map(str, cfg['seeds']))}` (average gap to Retrain over UA, RA, TA and MIA-Efficacy; "
            f"mean ± std over {len(cfg['seeds'])} seeds):"
        ),
        "",
        "| method | " + " | ".join(f"{_SET_TITLES[k]} {unit}".strip() for k in kinds) + " |",
        "|---" * (len(kinds) + 1) + "|",
    ]
    for method, label in _DIGITS_METHODS.items():
        lines.append(f"| {label} | " + " | ".join(_gap_cell(data["runs"], k, method) for k in kinds) + " |")
    return "\n".join(lines) + "\n"


def render_salun_classification(data: dict) -> str:
    """The digits SalUn table (`examples/salun_classification.py` results.json): average gap to Retrain per method,
    class-wise and random forgetting, mean ± sample std over seeds, and the learning rates used."""
    cfg, runs = data["config"], data["runs"]
    scenarios = {"class": "class-wise", "random": f"random {cfg['forget_fraction']:.0%}"}
    tune = " --tune" if cfg["tune"] else ""
    lines = [
        (
            f"`python examples/salun_classification.py --output_dir OUT{tune} --seeds {' '.join(map(str, cfg['seeds']))} "
            f"--train_fraction {cfg['train_fraction']:g}` ({cfg['dataset']}; average gap to Retrain, mean ± std over "
            f"{len(cfg['seeds'])} seeds"
            + (f"; learning rates tuned on seeds {', '.join(map(str, cfg['tune_seeds']))}" if cfg["tune"] else "")
            + "):"
        ),
        "",
        "| method | " + " | ".join(f"{t} (lr)" for t in scenarios.values()) + " |",
        "|---" * (len(scenarios) + 1) + "|",
    ]
    for method, label in _DIGITS_METHODS.items():
        cells = []
        for scenario in scenarios:
            lr = data["learning_rates"][scenario].get(method)
            cells.append(_gap_cell(runs, scenario, method) + (f" ({lr:g})" if lr is not None else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_salun_simnpo(data: dict) -> str:
    """SimNPO with and without SalUn on mini-TOFU (`benchmarks/salun_simnpo_tofu.py` results.json): forget quality per
    seed and its median, model utility mean ± sample std, share of weights changed, frozen weights bit-identical."""
    args, rows = data["args"], data["rows"]
    salun_lrs = args.get("salun_learning_rates") or [args["learning_rate"]]
    lines = [
        (
            f"`python benchmarks/salun_simnpo_tofu.py --output_dir OUT --preset {args['preset']} --seeds "
            f"{' '.join(map(str, args['seeds']))} --salun_learning_rates {' '.join(f'{lr:g}' for lr in salun_lrs)}` "
            f"({args['forget_split']}, β {args['beta']:g}, {args['num_train_epochs']:g} epochs, SalUn sparsity "
            f"{args['sparsity']:g}; forget quality per seed in seed order):"
        ),
        "",
        "| run | forget quality (per seed) | median | model utility | weights changed | frozen weights bit-identical |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["seed"] is None:
            lines.append(f"| {r['model']} | {_fmt(r['forget_quality'])} | - | {r['model_utility']:.3f} | - | - |")
    variants: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        if r["seed"] is not None:
            variants.setdefault((r["model"], r["learning_rate"]), []).append(r)
    for (model, lr), runs in variants.items():
        fq = [r["forget_quality"] for r in runs]
        changed = statistics.mean(r["fraction_of_weights_changed"] for r in runs)
        frozen = "yes, every seed" if all(r.get("frozen_bit_identical") for r in runs) else "no"
        lines.append(
            f"| {model}, lr {lr:g} | {' / '.join(_fmt(x) for x in fq)} | {_fmt(statistics.median(fq))} | "
            f"{_spread([r['model_utility'] for r in runs])} | {changed:.2f} | "
            f"{frozen if 'frozen_bit_identical' in runs[0] else '-'} |"
        )
    return "\n".join(lines) + "\n"


#: Block name -> (JSON file under benchmarks/results, renderer), or (tuple of files, renderer of their list). One
#: renderer per README table: to add a table, write its benchmark's JSON under benchmarks/results/, add a
#: `render_<name>(data: dict) -> str` here, register it, put `<!-- results:NAME -->` / `<!-- /results:NAME -->` in
#: README.md and run this script.
TABLES: dict[str, tuple[str | tuple[str, ...], Callable[[Any], str]]] = {
    "tofu-methods": (("tofu_methods.json", "tofu_methods_ga.json"), render_tofu_methods),
    "quickstart": ("tofu_methods.json", render_quickstart),
    "float-kernels": ("float_kernels.json", render_float_kernels),
    "tofu-world": ("tofu_world.json", render_tofu_world),
    "diffusion-methods": ("diffusion_methods_default.json", render_diffusion_methods),
    "diffusion-methods-test": ("diffusion_methods.json", render_diffusion_methods),
    "tofu-mia": ("tofu_mia.json", render_tofu_mia),
    "worstcase-tofu": ("worstcase/tofu_default.json", render_worstcase_tofu),
    "eval-speed": ("eval_speed.json", render_eval_speed),
    "eval-vs-open-unlearning": (
        ("eval_vs_open_unlearning.json", "eval_vs_open_unlearning_4models.json"),
        render_eval_vs_open_unlearning,
    ),
    "robustness-curves": ("robustness_curves.json", render_robustness_curves),
    "robustness-curves-muse": ("robustness_curves_muse.json", render_robustness_curves_muse),
    "advunlearn-timing": ("advunlearn_timing.json", render_advunlearn_timing),
    "llm-speed": ("llm_speed.json", render_llm_speed),
    "worstcase-prompts": ("worstcase_prompts.json", render_worstcase_prompts),
    "worstcase-prompts-default": ("worstcase_prompts_default.json", render_worstcase_prompts),
    "advunlearn-robustness": ("advunlearn_robustness.json", render_advunlearn_robustness),
    "advunlearn-robustness-default": ("advunlearn_robustness_default.json", render_advunlearn_robustness),
    "advunlearn-robustness-selection": ("advunlearn_robustness_selection.json", render_advunlearn_robustness),
    "muse-methods": (("muse_methods.json", "muse_methods_lr5e-4.json"), render_muse_methods),
    "worstcase-digits-example": ("worstcase/digits_example.json", render_worstcase_digits),
    "worstcase-digits-class": ("worstcase/digits_class.json", render_worstcase_digits),
    "worstcase-tofu-test": ("worstcase/tofu_test.json", render_worstcase_tofu),
    "salun-classification": ("salun_classification.json", render_salun_classification),
    "salun-simnpo": ("salun_simnpo_tofu.json", render_salun_simnpo),
    "salun-diffusion-settings": (
        ("salun_diffusion_settings_default.json", "salun_diffusion_settings_default_seed0.json"),
        render_salun_diffusion_settings,
    ),
}


def render(name: str, results_dir: Path = RESULTS) -> str:
    """The generated text of block `name`."""
    if name not in TABLES:
        raise ValueError(f"README block {name!r} has no renderer; known blocks: {sorted(TABLES)}.")
    files, fn = TABLES[name]
    if isinstance(files, tuple):
        return fn([json.loads((results_dir / f).read_text()) for f in files])
    return fn(json.loads((results_dir / files).read_text()))


def blocks(text: str) -> dict[str, str]:
    """Block name -> current body, for every marked block of `text`."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(text)}


def update(text: str, results_dir: Path = RESULTS) -> str:
    """`text` with every marked block replaced by its rendering."""
    return _BLOCK.sub(lambda m: m.group(1) + render(m["name"], results_dir) + m.group(4), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Do not write; exit 1 if a block is out of date.")
    parser.add_argument("--readme", default=str(README), help="The README to update.")
    parser.add_argument(
        "--collect_world",
        default=None,
        help="First keep the summaries of the world table's `hf-unlearn eval tofu` outputs in this folder in "
        "benchmarks/results/tofu_world.json.",
    )
    args = parser.parse_args()
    if args.collect_world:
        collect_world(Path(args.collect_world))
    path = Path(args.readme)
    text = path.read_text()
    new = update(text)
    if args.check:
        stale = [n for n, body in blocks(text).items() if body != render(n)]
        if stale:
            raise SystemExit(f"README blocks out of date with benchmarks/results: {stale}")
        return
    path.write_text(new)


if __name__ == "__main__":
    main()
