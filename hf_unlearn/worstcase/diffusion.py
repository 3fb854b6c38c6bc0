# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case prompt sets for concept erasure (the paper's prompt-wise setting), on `hf_unlearn.diffusion`.

[`PromptSelectionProblem`] plugs a text-to-image pipeline into [`select_forget_set`]: the units are the prompts of
one concept (e.g. every template x synonym x shape prompt of "red" in the shapes world, or (style, object) prompts
as the reference code's UnlearnCanvas selection); the trained module is the CLIP text encoder, as in ESD/AdvUnlearn
on the text encoder:

- **lower level**: `lower_steps` steps of *weighted* ESD from the original encoder, `sum_i w_i * ESD_i(theta)`, where
  `ESD_i` is ESD's negative-guidance loss on one state `x_t` of prompt `i` drawn from the frozen model's own guided
  DDIM trajectories (the reference code's `SignESD` weights each prompt's ESD loss by `w_i` the same way);
- **per-unit loss**: the erased encoder's denoising loss on images of prompt `i` made by the *original* model,
  `mean_{t, k} MSE(target, unet(add_noise(x_ik, noise_ik, t), t, E_theta(p_i)))` over fixed timesteps (evenly spaced,
  as the reference's `Eval`) and fixed noise. A low loss after erasure means the model still generates the prompt:
  `mode="hardest"` keeps the prompts that the erasure leaves best generated.

[`run_worstcase_prompts`] compares, per seed, the worst-case set with a random set and the lowest-loss set (the
`m` prompts the *original* model denoises best): ESD on the text encoder is run on each set's prompts (with the same
retain regulariser and settings), and the concept detector measures how often the concept still shows on the set's
prompts (the erasure analogue of unlearning accuracy) and on all the concept's prompts.

Example:
    >>> from hf_unlearn.worstcase.diffusion import shapes_prompt_units
    >>> units = shapes_prompt_units("red")
    >>> len(units), units[0], units[-1]
    (18, 'a red circle', 'a photo of a scarlet triangle')
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .baselines import jaccard, lowest_loss_units, mean_pairwise_jaccard, random_units
from .files import load_selection
from .projection import resolve_budget
from .selection import SelectionProblem, SelectionResult, WorstCaseConfig, select_forget_set


__all__ = [
    "PromptSelectionProblem",
    "format_worstcase_prompts_markdown",
    "load_prompt_selection",
    "paired_worstcase_summary",
    "prompt_selection_record",
    "run_worstcase_prompts",
    "select_prompt_set",
    "shapes_prompt_units",
    "write_results",
]


def shapes_prompt_units(concept: str) -> list[str]:
    """Every prompt of a shapes-world concept: template x colour word (name and synonyms) x shape for a colour,
    template x colour x shape for a shape.

    Args:
        concept (`str`): A colour (`"red"`, ...) or a shape (`"circle"`, ...) of the shapes world.

    Example:
        >>> shapes_prompt_units("circle")[:2]
        ['a red circle', 'a green circle']
    """
    from ..synthetic.shapes import COLOR_SYNONYMS, COLORS, SHAPES, TEMPLATES

    if concept in COLORS:
        words = [concept, *COLOR_SYNONYMS[concept]]
        return [t.format(color=w, shape=s) for t in TEMPLATES for w in words for s in SHAPES]
    if concept in SHAPES:
        return [t.format(color=c, shape=concept) for t in TEMPLATES for c in COLORS]
    raise ValueError(f"Unknown shapes-world concept {concept!r}; choose a colour {list(COLORS)} or shape {SHAPES}.")


def _check_prompt_units(prompts: Sequence[str], target_latents: Sequence[torch.Tensor] | None = None) -> None:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"`prompts` must be a list of prompt strings, got {type(prompts).__name__}.")
    if len(prompts) < 2:
        raise ValueError(
            f"`prompts` holds {len(prompts)} prompt(s): a concept needs at least 2 prompts to select among "
            "(e.g. template x synonym variants; see shapes_prompt_units)."
        )
    if any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise ValueError("`prompts` must hold non-empty strings.")
    dupes = sorted({p for p in prompts if list(prompts).count(p) > 1})
    if dupes:
        raise ValueError(f"`prompts` repeats {dupes[:5]}; each prompt is one unit, list it once.")
    if target_latents is not None:
        if len(target_latents) != len(prompts):
            raise ValueError(
                f"`target_latents` has {len(target_latents)} entries for {len(prompts)} prompts: pass one "
                "(k, C, H, W) tensor of original-model images per prompt."
            )
        empty = [prompts[i] for i, x in enumerate(target_latents) if x.ndim != 4 or x.shape[0] == 0]
        if empty:
            raise ValueError(f"`target_latents` of {empty[:3]} must be non-empty (k, C, H, W) tensors.")


class PromptSelectionProblem(SelectionProblem):
    """Prompts of a concept as units, weighted ESD on the text encoder as the lower level (module docstring).

    Args:
        text_encoder (`CLIPTextModel`): The original encoder (never modified; each lower level starts from a copy).
        unet (`UNet2DConditionModel`): The frozen denoiser.
        tokenizer (`CLIPTokenizer`): The pipeline's tokenizer.
        scheduler (`DDIMScheduler`): The pipeline's scheduler (`add_noise`, `prediction_type`).
        prompts (`list[str]`): The concept's prompts (the units).
        target_latents (`list[torch.Tensor]`): Per prompt, `(k, C, H, W)` UNet inputs of images of that prompt made
            by the original model (VAE latents for latent pipelines).
        negative_guidance (`float`, *optional*, defaults to `1.0`): ESD's eta.
        start_guidance (`float`, *optional*, defaults to `3.0`): CFG scale of the frozen trajectories.
        ddim_steps (`int`, *optional*, defaults to `25`): DDIM steps of those trajectories.
        trajectories_per_prompt (`int`, *optional*, defaults to `2`): Trajectories per prompt.
        loss_timesteps (`int`, *optional*, defaults to `10`): Evenly spaced timesteps of the per-unit loss.
        train_method (`str`, *optional*, defaults to `"text_encoder_full"`): Trained layers (see
            [`~hf_unlearn.diffusion.set_trainable_layers`]).
        seed (`int`, *optional*, defaults to `0`): Seed of the trajectories and of the per-unit loss's noise.

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> pipe = load_shapes_world("test").load_pipeline()  # doctest: +SKIP
        >>> prompts = ["a red circle", "a crimson circle"]
        >>> targets = [torch.zeros(2, 3, 16, 16), torch.zeros(2, 3, 16, 16)]
        >>> problem = PromptSelectionProblem(pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, prompts, targets)  # doctest: +SKIP
        >>> problem.unit_losses(problem.new_lower_model()).shape  # doctest: +SKIP
        torch.Size([2])
    """

    def __init__(
        self,
        text_encoder,
        unet,
        tokenizer,
        scheduler,
        prompts: Sequence[str],
        target_latents: Sequence[torch.Tensor],
        negative_guidance: float = 1.0,
        start_guidance: float = 3.0,
        ddim_steps: int = 25,
        trajectories_per_prompt: int = 2,
        loss_timesteps: int = 10,
        train_method: str = "text_encoder_full",
        seed: int = 0,
    ):
        from ..diffusion import TrajectoryBank, check_clip_text_encoder, check_prompts, tokenize_prompts

        _check_prompt_units(prompts, target_latents)
        check_clip_text_encoder(text_encoder)
        check_prompts(tokenizer, list(prompts), "concept")
        if loss_timesteps < 1 or trajectories_per_prompt < 1 or ddim_steps < 1:
            raise ValueError("`loss_timesteps`, `trajectories_per_prompt` and `ddim_steps` must be >= 1.")
        self.prompts = list(prompts)
        self.n_units = len(self.prompts)
        self.unit_names = self.prompts
        self.original = copy.deepcopy(text_encoder).requires_grad_(False).eval()
        self.unet = unet.requires_grad_(False)
        self.scheduler, self.negative_guidance, self.train_method = scheduler, negative_guidance, train_method
        self.device = unet.device
        self.ids = tokenize_prompts(tokenizer, self.prompts).to(self.device)
        size = unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        with torch.no_grad():
            enc = lambda ids: self.original(ids.to(self.original.device)).last_hidden_state.to(self.device, unet.dtype)  # noqa: E731
            uncond = enc(tokenize_prompts(tokenizer, [""]))
            cond = enc(self.ids)
            bank = TrajectoryBank(
                unet,
                scheduler,
                cond,
                uncond,
                (unet.config.in_channels, size, size),
                trajectories_per_prompt=trajectories_per_prompt,
                num_inference_steps=ddim_steps,
                guidance_scale=start_guidance,
                seed=seed,
            )
            # Every state of the bank with its frozen predictions (they do not depend on w or on the lower model).
            n_traj, n_steps = bank.states.shape[:2]
            self.states = bank.states.reshape(n_traj * n_steps, *bank.states.shape[2:]).to(self.device, unet.dtype)
            self.state_t = bank.timesteps.repeat(n_traj).to(self.device)
            self.state_unit = bank.prompt_index.repeat_interleave(n_steps).to(self.device)
            eps_u, eps_c = [], []
            for chunk in torch.arange(len(self.states)).split(256):
                x, t = self.states[chunk], self.state_t[chunk]
                eps_u.append(unet(x, t, uncond.expand(len(chunk), -1, -1)).sample.float())
                eps_c.append(unet(x, t, cond[self.state_unit[chunk]]).sample.float())
            self.eps_uncond, self.eps_cond = torch.cat(eps_u), torch.cat(eps_c)
        self.states_of_unit = [torch.nonzero(self.state_unit == i).flatten() for i in range(self.n_units)]
        # The per-unit loss: fixed timesteps and fixed noise, so that it depends on the encoder only.
        total = scheduler.config.num_train_timesteps
        self.loss_timesteps = torch.arange(0, total, total // loss_timesteps)[:loss_timesteps]
        generator = torch.Generator().manual_seed(seed + 7)
        self.targets = [x.detach().float().cpu() for x in target_latents]
        self.noise = [torch.randn((len(self.loss_timesteps), *x.shape), generator=generator) for x in self.targets]

    def new_lower_model(self) -> nn.Module:
        from ..diffusion import set_trainable_layers

        model = copy.deepcopy(self.original)
        set_trainable_layers(model, self.train_method)
        return model

    def esd_losses(self, model: nn.Module, states: torch.Tensor) -> torch.Tensor:
        """ESD's loss of each state index in `states` (one per row) under the encoder `model`, shape `(len(states),)`."""
        from ..diffusion import esd_target

        dtype = self.unet.dtype
        cond = model(self.ids[self.state_unit[states]]).last_hidden_state.to(dtype)
        pred = self.unet(self.states[states], self.state_t[states], cond).sample.float()
        target = esd_target(self.eps_uncond[states], self.eps_cond[states], self.negative_guidance)
        return ((pred - target) ** 2).flatten(1).mean(1)

    def lower_loss(self, model, weights, step, generator):
        """`sum_i w_i * ESD_i` with one random trajectory state per prompt `i`."""
        pick = torch.stack(
            [s[torch.randint(0, len(s), (1,), generator=generator)].squeeze(0) for s in self.states_of_unit]
        )
        return (weights.to(self.device) * self.esd_losses(model, pick)).sum()

    def unit_losses(self, model):
        from ..diffusion.attacks import denoising_target

        dtype = self.unet.dtype
        losses = []
        with torch.no_grad():
            for i in range(self.n_units):
                clean, noise = self.targets[i], self.noise[i]  # (k, C, H, W), (T, k, C, H, W)
                n_t, k = noise.shape[:2]
                t = self.loss_timesteps.repeat_interleave(k)
                clean_rep = clean.repeat(n_t, 1, 1, 1)
                noise = noise.reshape(n_t * k, *clean.shape[1:])
                noisy = self.scheduler.add_noise(clean_rep, noise, t)
                cond = model(self.ids[i : i + 1]).last_hidden_state.expand(n_t * k, -1, -1).to(dtype)
                pred = self.unet(noisy.to(self.device, dtype), t.to(self.device), cond).sample.float()
                target = denoising_target(self.scheduler, clean_rep, noise, t).to(self.device)
                losses.append(((pred - target) ** 2).mean())
        return torch.stack(losses).cpu()


def select_prompt_set(
    problem: PromptSelectionProblem, config: WorstCaseConfig | None = None, progress: bool = True
) -> SelectionResult:
    """[`select_forget_set`] for prompts, with the budget checked against the prompts before any work.

    Example:
        >>> select_prompt_set(None, WorstCaseConfig(budget=3))  # doctest: +SKIP
    """
    config = config or WorstCaseConfig()
    resolve_budget(config.budget, problem.n_units, name="budget (prompts to select)")
    return select_forget_set(problem, config, progress=progress)


def prompt_selection_record(
    result: SelectionResult, prompts: Sequence[str], concept: str, world: str | None = None
) -> dict[str, Any]:
    """The selection-file dict of a prompt selection: `indices` into `prompts`, `n_rows`, the selected `prompts`
    and the full prompt list (so a reader can check it enumerates the same prompts).

    Example:
        >>> r = SelectionResult([1], [0.0, 1.0], 1, [], [], [0.2, 0.1], 0.0, {"mode": "hardest"})
        >>> prompt_selection_record(r, ["a red circle", "a red square"], "red")["prompts"]
        ['a red square']
    """
    return {
        "world": world,
        "unit": "prompt",
        "concept": concept,
        "indices": sorted(result.selected),
        "n_rows": len(prompts),
        "prompts": [prompts[i] for i in sorted(result.selected)],
        "all_prompts": list(prompts),
        "budget": result.budget,
        "mode": result.config.get("mode"),
        "settings": result.config,
        "trace": result.trace,
        "unit_losses_original": result.unit_losses_original,
    }


def load_prompt_selection(path: str | os.PathLike, prompts: Sequence[str]) -> list[str]:
    """The selected prompts of a selection file, checked against the prompt list the caller enumerated.

    Args:
        path (`str` or `os.PathLike`): The `selection.json` (or its folder).
        prompts (`list[str]`): The concept's prompts, in the order the selection was made over.

    Returns:
        `list[str]`: The selected prompts, in index order.
    """
    selection = load_selection(path, n_rows=len(prompts))
    if selection.get("unit") != "prompt":
        raise ValueError(f"{path} selects {selection.get('unit')!r} units, not prompts; select prompts again.")
    recorded = selection.get("all_prompts")
    if recorded is not None and list(recorded) != list(prompts):
        raise ValueError(f"{path} was made over other prompts than the ones given here; select again on these.")
    chosen = [prompts[i] for i in selection["indices"]]
    if selection.get("prompts") is not None and selection["prompts"] != chosen:
        raise ValueError(f"{path}: its `prompts` do not match its `indices`; the file was edited by hand.")
    return chosen


def run_worstcase_prompts(
    world,
    concept: str = "red",
    budget: float = 4,
    seeds: Sequence[int] = (0, 1, 2),
    selection: WorstCaseConfig | None = None,
    esd_settings: dict[str, Any] | None = None,
    num_images: int = 24,
    num_target_images: int = 4,
    progress: bool = True,
) -> dict[str, Any]:
    """Worst-case vs random vs lowest-loss prompt sets on the shapes world: select, erase each set with ESD, detect.

    Per seed: the worst-case set ([`select_prompt_set`], `mode="hardest"`), a random set and the lowest-loss set
    (under the original encoder) of `budget` prompts among [`shapes_prompt_units`]`(concept)`; ESD on the text
    encoder on each set's prompts (retain prompts: the world's other concepts); then the world's detector on
    `num_images` fresh images per prompt. Reported per set: `set_concept_rate` (mean over the set's prompts: how often
    the concept still shows where it was erased), `all_concept_rate` (over all the concept's prompts) and
    `retain_accuracy`; plus the selection's wall time beside one ESD run's.

    Args:
        world ([`~hf_unlearn.synthetic.shapes.ShapesWorld`]): A built shapes world.
        concept (`str`, *optional*, defaults to `"red"`): The concept to erase.
        budget (`int` or `float`, *optional*, defaults to `4`): Prompts per set (a count or a fraction).
        seeds (`list[int]`, *optional*, defaults to `(0, 1, 2)`): Seeds (selection, random set, ESD, evaluation).
        selection ([`WorstCaseConfig`], *optional*): Selection settings (its `budget`, `mode`, `seed` are set here).
        esd_settings (`dict`, *optional*): `steps`, `learning_rate` and [`~hf_unlearn.diffusion.AdvUnlearnConfig`]
            fields of the ESD runs.
        num_images (`int`, *optional*, defaults to `24`): Evaluation images per prompt.
        num_target_images (`int`, *optional*, defaults to `4`): Original-model images per prompt in the per-unit loss.
        progress (`bool`, *optional*, defaults to `True`): Progress bars.

    Returns:
        `dict`: `settings`, `prompts`, per-seed `runs` and a `summary` (median, min, max over seeds per set).
    """
    from dataclasses import asdict, replace

    from ..diffusion import AdvUnlearnConfig, erase_text_encoder, load_diffusion_components, shapes_world_evaluator

    prompts = shapes_prompt_units(concept)
    m = resolve_budget(budget, len(prompts), name="budget (prompts per set)")
    selection = selection or WorstCaseConfig(upper_steps=5, lower_steps=10, lower_lr=1e-3)
    esd_settings = esd_settings or {
        "steps": 100,
        "learning_rate": 1e-3,
        "train_batch_size": 8,
        "retain_batch": 8,
        "ddim_steps": 25,
        "trajectories_per_prompt": 4,
    }
    components = load_diffusion_components(str(world.pipeline_path))
    original = copy.deepcopy(components.text_encoder).eval()
    retain = world.retain_prompts(concept)
    runs = []
    for seed in seeds:
        evaluator = shapes_world_evaluator(
            world,
            concept,
            concept_prompts=prompts,
            num_images=num_images,
            num_target_images=num_target_images,
            seed=seed,
        )
        start = time.perf_counter()
        problem = PromptSelectionProblem(
            original,
            components.unet,
            components.tokenizer,
            components.scheduler,
            prompts,
            evaluator.targets,
            ddim_steps=esd_settings.get("ddim_steps", 25),
            seed=seed,
        )
        config = replace(selection, budget=m, mode="hardest", seed=seed)
        result = select_prompt_set(problem, config, progress=progress)
        selection_seconds = time.perf_counter() - start
        sets = {
            "worst-case": sorted(result.selected),
            "random": random_units(len(prompts), m, seed=seed),
            "lowest-loss": sorted(lowest_loss_units(result.unit_losses_original, m)),
        }
        run: dict[str, Any] = {
            "seed": seed,
            "sets": {k: [prompts[i] for i in v] for k, v in sets.items()},
            "selection": prompt_selection_record(result, prompts, concept, world=str(world.root.name)),
            "selection_seconds": selection_seconds,
            "jaccard_worst_lowest": jaccard(sets["worst-case"], sets["lowest-loss"]),
            "results": {},
        }
        base = evaluator.evaluate(original, keep_images=0)
        run["results"]["original"] = {
            "set_concept_rate": {k: _set_rate(base, [prompts[i] for i in v]) for k, v in sets.items()},
            "all_concept_rate": base["concept_rate"],
            "retain_accuracy": base["retain_accuracy"],
        }
        for name, units in sets.items():
            start = time.perf_counter()
            settings = dict(esd_settings)
            steps, lr = settings.pop("steps"), settings.pop("learning_rate")
            config = AdvUnlearnConfig([prompts[i] for i in units], retain, attack_method="none", seed=seed, **settings)
            encoder = erase_text_encoder(
                original,
                components.unet,
                components.tokenizer,
                components.scheduler,
                config,
                steps,
                lr,
                progress=progress,
            )
            seconds = time.perf_counter() - start
            scores = evaluator.evaluate(encoder, keep_images=0)
            run["results"][name] = {
                "set_concept_rate": _set_rate(scores, [prompts[i] for i in units]),
                "all_concept_rate": scores["concept_rate"],
                "retain_accuracy": scores["retain_accuracy"],
                "esd_seconds": seconds,
            }
        runs.append(run)
    return {
        "settings": {
            "world": str(world.root.name),
            "concept": concept,
            "budget": m,
            "n_prompts": len(prompts),
            "seeds": list(seeds),
            "selection": asdict(replace(selection, budget=m)),
            "esd": esd_settings,
            "num_images": num_images,
            "num_target_images": num_target_images,
        },
        "prompts": prompts,
        "runs": runs,
        "summary": _summarise_prompt_runs(runs),
        "mean_pairwise_jaccard_worst_case": mean_pairwise_jaccard([r["selection"]["indices"] for r in runs]),
    }


def _set_rate(scores: dict[str, Any], prompts: Sequence[str]) -> float:
    return sum(scores["per_prompt"][p]["concept_rate"] for p in prompts) / len(prompts)


def _spread(values: Sequence[float]) -> dict[str, float]:
    import statistics

    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _summarise_prompt_runs(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    names = [k for k in runs[0]["results"] if k != "original"]
    summary = {
        name: {
            metric: _spread([r["results"][name][metric] for r in runs])
            for metric in ("set_concept_rate", "all_concept_rate", "retain_accuracy")
        }
        for name in names
    }
    summary["original"] = {
        "all_concept_rate": _spread([r["results"]["original"]["all_concept_rate"] for r in runs]),
        "retain_accuracy": _spread([r["results"]["original"]["retain_accuracy"] for r in runs]),
    }
    summary["selection_seconds"] = _spread([r["selection_seconds"] for r in runs])
    summary["esd_seconds"] = _spread([r["results"]["random"]["esd_seconds"] for r in runs])
    return summary


def paired_worstcase_summary(results: dict[str, Any]) -> str:
    """One line pairing worst-case and random sets seed by seed: each seed's two concept rates on the set's own
    prompts, and in how many seeds the worst-case set kept more of the concept (harder to erase), on its prompts and on
    all the concept's prompts.

    Example:
        >>> run = lambda seed, w, r, wa, ra: {"seed": seed, "results": {
        ...     "worst-case": {"set_concept_rate": w, "all_concept_rate": wa},
        ...     "random": {"set_concept_rate": r, "all_concept_rate": ra}}}
        >>> print(paired_worstcase_summary({"runs": [run(0, 0.5, 0.25, 0.4, 0.3), run(1, 0.1, 0.2, 0.1, 0.1)]}))
        Per seed, worst-case vs random on the set's prompts: seed 0 0.500 vs 0.250, seed 1 0.100 vs 0.200; the worst-case set kept more of the concept in 1 of 2 seeds on its prompts and in 1 of 2 on all the concept's prompts.
    """
    runs = results["runs"]
    pairs = [(r["results"]["worst-case"], r["results"]["random"]) for r in runs]
    per_seed = ", ".join(
        f"seed {r['seed']} {w['set_concept_rate']:.3f} vs {q['set_concept_rate']:.3f}"
        for r, (w, q) in zip(runs, pairs)
    )
    on_set = sum(w["set_concept_rate"] > q["set_concept_rate"] for w, q in pairs)
    on_all = sum(w["all_concept_rate"] > q["all_concept_rate"] for w, q in pairs)
    return (
        f"Per seed, worst-case vs random on the set's prompts: {per_seed}; the worst-case set kept more of the concept "
        f"in {on_set} of {len(runs)} seeds on its prompts and in {on_all} of {len(runs)} on all the concept's prompts."
    )


def format_worstcase_prompts_markdown(results: dict[str, Any]) -> str:
    """A Markdown table of [`run_worstcase_prompts`] results: median [min, max] over seeds per prompt set."""
    s, summary = results["settings"], results["summary"]
    fmt = lambda d: f"{d['median']:.3f} [{d['min']:.3f}, {d['max']:.3f}]"  # noqa: E731
    lines = [
        (
            f"ESD on the text encoder, erasing {s['concept']!r} from {s['budget']} of its {s['n_prompts']} prompts, "
            f"seeds {', '.join(map(str, s['seeds']))} (median [min, max]); concept rate = fraction of "
            f"{s['num_images']} images per prompt in which the detector finds {s['concept']!r}."
        ),
        "",
        "| prompt set | concept rate on the set's prompts | on all its prompts | retain accuracy |",
        "|---|---|---|---|",
    ]
    for name in ("worst-case", "random", "lowest-loss"):
        row = summary[name]
        lines.append(
            f"| {name} | {fmt(row['set_concept_rate'])} | {fmt(row['all_concept_rate'])} | "
            f"{fmt(row['retain_accuracy'])} |"
        )
    orig = summary["original"]
    lines.append(f"| (original encoder) | - | {fmt(orig['all_concept_rate'])} | {fmt(orig['retain_accuracy'])} |")
    j = results.get("mean_pairwise_jaccard_worst_case")
    overlaps = ", ".join(f"{r['jaccard_worst_lowest']:.2f}" for r in results["runs"])
    lines += ["", paired_worstcase_summary(results)]
    lines += [
        "",
        (
            f"Selection {summary['selection_seconds']['median']:.0f} s vs one ESD run {summary['esd_seconds']['median']:.0f} s "
            f"(median wall time, same machine); worst-case sets' mean Jaccard overlap across seeds "
            f"{'-' if j is None else f'{j:.2f}'}; with the lowest-loss set "
            f"{overlaps} per seed."
        ),
    ]
    return "\n".join(lines)


def write_results(results: dict[str, Any], output_dir: str | os.PathLike) -> None:
    """Writes `worstcase_prompts.json` and `.md` to `output_dir` (refuses to overwrite)."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "worstcase_prompts.json")
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; choose a new --output_dir (nothing was overwritten).")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "worstcase_prompts.md"), "w", encoding="utf-8") as f:
        f.write(format_worstcase_prompts_markdown(results) + "\n")
