"""The worst-case room's diffusion plug-in: per-prompt losses and the weighted ESD step against the formulas, the
selection file round trip, and a selection that runs end to end on a tiny pipeline."""

import pytest
import torch


pytest.importorskip("diffusers")

from diffusers import DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from hf_unlearn.diffusion import tokenize_prompts
from hf_unlearn.synthetic.shapes import build_tokenizer
from hf_unlearn.worstcase import WorstCaseConfig, save_selection
from hf_unlearn.worstcase.diffusion import (
    PromptSelectionProblem,
    load_prompt_selection,
    prompt_selection_record,
    select_prompt_set,
    shapes_prompt_units,
)


torch.set_num_threads(1)
PROMPTS = ["a red circle", "a crimson square", "a photo of a scarlet triangle"]


def _pipeline(prediction_type="epsilon"):
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    ).eval()
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4, 8),
        layers_per_block=1,
        norm_num_groups=2,
        cross_attention_dim=8,
        attention_head_dim=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    ).eval()
    scheduler = DDIMScheduler(num_train_timesteps=1000, prediction_type=prediction_type)
    return encoder, unet, tokenizer, scheduler


def _problem(prediction_type="epsilon", **kwargs):
    encoder, unet, tokenizer, scheduler = _pipeline(prediction_type)
    g = torch.Generator().manual_seed(3)
    targets = [torch.randn(k, 3, 8, 8, generator=g) for k in (2, 1, 3)]  # unequal image counts per prompt
    problem = PromptSelectionProblem(
        encoder, unet, tokenizer, scheduler, PROMPTS, targets, ddim_steps=4, trajectories_per_prompt=2, **kwargs
    )
    return problem, (encoder, unet, tokenizer, scheduler, targets)


def test_shapes_prompt_units_enumerate_templates_synonyms_and_shapes():
    units = shapes_prompt_units("red")
    assert len(units) == len(set(units)) == 2 * 3 * 3
    assert {"a red circle", "a photo of a crimson square", "a scarlet triangle"} <= set(units)
    assert not any("green" in u or "emerald" in u for u in units)
    assert len(shapes_prompt_units("square")) == 2 * 3


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_unit_losses_equal_the_denoising_loss_computed_by_hand(prediction_type):
    problem, (encoder, unet, tokenizer, scheduler, targets) = _problem(prediction_type, loss_timesteps=4, seed=5)
    assert problem.loss_timesteps.tolist() == [0, 250, 500, 750]
    acp = scheduler.alphas_cumprod.double()
    expected = []
    for i, prompt in enumerate(PROMPTS):
        with torch.no_grad():
            hidden = encoder(tokenize_prompts(tokenizer, [prompt])).last_hidden_state
        errors = []
        for j, t in enumerate([0, 250, 500, 750]):
            a, s = acp[t].sqrt(), (1 - acp[t]).sqrt()
            for k in range(targets[i].shape[0]):
                x0, eps = targets[i][k].double(), problem.noise[i][j, k].double()
                noisy = (a * x0 + s * eps).float()
                with torch.no_grad():
                    pred = unet(noisy[None], torch.tensor([t]), hidden).sample[0].double()
                want = eps if prediction_type == "epsilon" else a * eps - s * x0
                errors.append(((pred - want) ** 2).mean())
        expected.append(torch.stack(errors).mean())
    got = problem.unit_losses(problem.new_lower_model())
    torch.testing.assert_close(got.double(), torch.stack(expected), rtol=1e-5, atol=1e-7)


def test_weighted_esd_step_equals_the_formula_at_eta_2():
    problem, (encoder, unet, tokenizer, _scheduler, _targets) = _problem(negative_guidance=2.0)
    model = problem.new_lower_model()
    weights = torch.tensor([0.2, 0.0, 1.5])
    loss = problem.lower_loss(model, weights, step=0, generator=torch.Generator().manual_seed(11))
    # The same states, picked as documented: one uniformly random state of each prompt, in prompt order.
    g = torch.Generator().manual_seed(11)
    expected = torch.zeros((), dtype=torch.float64)
    uncond = encoder(tokenize_prompts(tokenizer, [""])).last_hidden_state.detach()
    for i, prompt in enumerate(PROMPTS):
        rows = torch.nonzero(problem.state_unit == i).flatten()
        s = rows[torch.randint(0, len(rows), (1,), generator=g)].item()
        x, t = problem.states[s : s + 1], problem.state_t[s : s + 1]
        cond = encoder(tokenize_prompts(tokenizer, [prompt])).last_hidden_state.detach()
        with torch.no_grad():
            e_u, e_c, e_theta = (unet(x, t, c).sample.double() for c in (uncond, cond, cond))
        target = e_u - 2.0 * (e_c - e_u)
        expected += weights[i].double() * ((e_theta - target) ** 2).mean()
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-8)
    # The gradient reaches the trained layers only, and the original encoder is never modified.
    loss.backward()
    assert model.embeddings.token_embedding.weight.grad is None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert all(p.grad is None for p in problem.original.parameters())


def test_states_come_from_each_prompts_own_trajectories():
    problem, _ = _problem()
    counts = torch.bincount(problem.state_unit, minlength=len(PROMPTS))
    assert counts.tolist() == [2 * 4] * len(PROMPTS)  # 2 trajectories x 4 DDIM steps per prompt


def test_selection_runs_and_round_trips_through_a_selection_file(tmp_path):
    problem, _ = _problem()
    result = select_prompt_set(
        problem, WorstCaseConfig(budget=2, upper_steps=2, lower_steps=2, lower_lr=1e-2), progress=False
    )
    assert len(result.selected) == 2 and abs(sum(result.weights) - 2) < 1e-6
    record = prompt_selection_record(result, PROMPTS, "red", world="tiny")
    path = save_selection(tmp_path / "selection.json", record)
    assert load_prompt_selection(path, PROMPTS) == [PROMPTS[i] for i in sorted(result.selected)]
    assert load_prompt_selection(tmp_path, PROMPTS) == record["prompts"]  # a folder means its selection.json
    with pytest.raises(ValueError, match="other prompts"):
        load_prompt_selection(path, [PROMPTS[1], PROMPTS[0], PROMPTS[2]])


def test_paired_summary_counts_seeds_where_the_worst_case_set_kept_more_of_the_concept():
    from hf_unlearn.worstcase.diffusion import format_worstcase_prompts_markdown, paired_worstcase_summary

    def run(seed, w, r, wa, ra):
        return {"seed": seed, "jaccard_worst_lowest": 1.0, "results": {
            "worst-case": {"set_concept_rate": w, "all_concept_rate": wa},
            "random": {"set_concept_rate": r, "all_concept_rate": ra}}}  # fmt: skip

    # seed 3: harder on the set (0.5 > 0.25), easier on all; seed 4: a tie on the set is not "harder"; seed 5: easier
    runs = [run(3, 0.5, 0.25, 0.2, 0.3), run(4, 0.125, 0.125, 0.4, 0.1), run(5, 0.0, 0.75, 0.0, 0.5)]
    line = paired_worstcase_summary({"runs": runs})
    assert "seed 3 0.500 vs 0.250, seed 4 0.125 vs 0.125, seed 5 0.000 vs 0.750" in line
    assert "in 1 of 3 seeds on its prompts and in 1 of 3 on all the concept's prompts" in line
    rate = {"median": 0.5, "min": 0.0, "max": 1.0}
    row = {"set_concept_rate": rate, "all_concept_rate": rate, "retain_accuracy": rate}
    results = {
        "settings": {"concept": "red", "budget": 4, "n_prompts": 18, "seeds": [3, 4, 5], "num_images": 12},
        "summary": {"worst-case": row, "random": row, "lowest-loss": row, "original": row,
                    "selection_seconds": rate, "esd_seconds": rate},
        "runs": runs,
        "mean_pairwise_jaccard_worst_case": 0.5,
    }  # fmt: skip
    assert line in format_worstcase_prompts_markdown(results).splitlines()
