"""SalUn for diffusion: the random-label loss, the UNet saliency mask, one step's loss, the mask guarantee, and the
evaluation of a replaced UNet. Expected values are computed here from the formulas, not by the code under test."""

import copy

import pytest
import torch


pytest.importorskip("diffusers")

from hf_unlearn.diffusion import (
    SalUnDiffusion,
    SalUnDiffusionConfig,
    load_diffusion_components,
    salun_random_label_loss,
    shapes_world_evaluator,
)
from hf_unlearn.saliency import apply_saliency_mask, check_saliency_mask, frozen_weights_fingerprint, mask_density


# ------------------------------------------------------------------------------------------------ the loss


def test_random_label_loss_matches_the_formula_at_a_non_default_alpha():
    eps_forget = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    eps_pseudo = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # differences 1, 0, 2, 3 -> squares 1, 0, 4, 9: mean 3.5
    retain_pred = torch.tensor([1.0, 1.0, 1.0])
    retain_target = torch.tensor([0.0, 3.0, 1.0])  # squares 1, 4, 0: mean 5/3
    loss, forget, retain = salun_random_label_loss(eps_forget, eps_pseudo, retain_pred, retain_target, alpha=0.3)
    assert forget.item() == pytest.approx(3.5)
    assert retain.item() == pytest.approx(5 / 3)
    assert loss.item() == pytest.approx(3.5 + 0.3 * 5 / 3)
    loss0, _, _ = salun_random_label_loss(eps_forget, eps_pseudo, retain_pred, retain_target, alpha=0.0)
    assert loss0.item() == pytest.approx(3.5)


def test_random_label_loss_sends_no_gradient_into_the_pseudo_prediction():
    eps_forget = torch.tensor([1.0, -1.0], requires_grad=True)
    eps_pseudo = torch.tensor([0.0, 1.0], requires_grad=True)  # the model's own prediction: a fixed target
    retain_pred = torch.tensor([2.0], requires_grad=True)
    loss, _, _ = salun_random_label_loss(eps_forget, eps_pseudo, retain_pred, torch.tensor([0.0]), alpha=0.25)
    loss.backward()
    assert eps_pseudo.grad is None
    assert torch.allclose(eps_forget.grad, torch.tensor([2 * 1.0 / 2, 2 * -2.0 / 2]))  # d mean(d^2) = 2 d / n
    assert torch.allclose(retain_pred.grad, torch.tensor([0.25 * 2 * 2.0]))


def test_config_names_the_field_and_the_fix():
    with pytest.raises(ValueError, match=r"`pseudo_prompts` must hold one prompt per concept prompt \(2\)"):
        SalUnDiffusionConfig(["a red circle", "a red square"], ["a green circle", "a green square", "x"], ["y"])
    with pytest.raises(ValueError, match=r"pseudo prompt equals a concept prompt"):
        SalUnDiffusionConfig(["a red circle"], ["a red circle"], ["a blue circle"])
    with pytest.raises(ValueError, match=r"`alpha` > 0 needs `retain_prompts`"):
        SalUnDiffusionConfig(["a red circle"], ["a green circle"], [])
    with pytest.raises(ValueError, match=r"`concept_prompts` is empty"):
        SalUnDiffusionConfig([], ["a green circle"], ["a blue circle"])
    assert SalUnDiffusionConfig(["a", "b"], ["c"], ["d"]).pseudo_prompts == ["c", "c"]  # one pseudo prompt for all


# ------------------------------------------------------------------------------------------------ on the world


def _salun(world, **overrides):
    components = load_diffusion_components(world.pipeline_path)
    config = SalUnDiffusionConfig(
        world.concept_prompts("red"),
        world.concept_prompts("green"),
        world.retain_prompts("red")[:2],
        **{"num_forget_images": 2, "num_retain_images": 1, "generation_steps": 4, "train_batch_size": 3,
           "retain_batch_size": 2, "mask_batch_size": 4, "generation_guidance_scale": 5.0, **overrides},
    )  # fmt: skip
    return components, SalUnDiffusion(
        components.unet, components.text_encoder, components.tokenizer, components.scheduler, config
    )


def _noisy_by_hand(scheduler, clean, noise, t):
    """`x_t` and the UNet's regression target, from alphas_cumprod (not from the scheduler's add_noise)."""
    a = scheduler.alphas_cumprod[t].view(-1, 1, 1, 1).float()
    x_t = a.sqrt() * clean + (1 - a).sqrt() * noise
    kind = scheduler.config.prediction_type
    target = {"epsilon": noise, "sample": clean, "v_prediction": a.sqrt() * noise - (1 - a).sqrt() * clean}[kind]
    return x_t, target


def test_mask_is_the_global_top_fraction_of_the_summed_cfg_forget_gradient(shapes_world):
    torch.manual_seed(0)
    w, sparsity = 2.0, 0.3  # both non-default
    components, salun = _salun(shapes_world, mask_guidance_scale=w, sparsity=sparsity)
    unet, scheduler = components.unet, components.scheduler
    mask = salun.compute_mask()

    # by hand: the same noise draws, CFG prediction (1 + w) eps_c - w eps_u against the target, gradients summed
    params = dict(unet.named_parameters())
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    generator = torch.Generator().manual_seed(salun.config.seed + 3)
    latents, index = salun.forget_latents, salun.forget_index
    for start in range(0, len(latents), salun.config.mask_batch_size):
        clean, idx = latents[start : start + 4], index[start : start + 4]
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(clean),), generator=generator)
        x_t, target = _noisy_by_hand(scheduler, clean, noise, t)
        eps_c = unet(x_t, t, salun.concept_embeds[idx]).sample
        eps_u = unet(x_t, t, salun.uncond.expand(len(t), -1, -1)).sample
        loss = (((1 + w) * eps_c - w * eps_u - target) ** 2).mean()
        for n, g in zip(params, torch.autograd.grad(loss, list(params.values()))):
            total[n] += g
    scores = torch.cat([total[n].abs().flatten() for n in params])
    keep = round(sparsity * scores.numel())
    expected = torch.zeros_like(scores, dtype=torch.bool)
    expected[scores.argsort(descending=True)[:keep]] = True
    got = torch.cat([mask[n].flatten() for n in params])
    assert int(got.sum()) == keep
    assert torch.equal(got, expected)  # one global ranking over every UNet tensor, not per layer
    per_tensor = [float(mask[n].float().mean()) for n in params if params[n].numel() > 100]
    assert max(per_tensor) - min(per_tensor) > 0.2  # densities differ between layers: a global threshold


def test_one_step_loss_is_forget_toward_pseudo_plus_alpha_times_the_retain_loss(shapes_world):
    torch.manual_seed(0)
    alpha = 0.3
    components, salun = _salun(shapes_world, alpha=alpha)
    unet, scheduler, cfg = components.unet, components.scheduler, salun.config
    generator = torch.Generator()
    generator.set_state(salun.generator.get_state())
    loss, logs = salun.compute_loss()

    # by hand, from the same random draws
    rows = torch.randint(0, len(salun.forget_latents), (cfg.train_batch_size,), generator=generator)
    clean = salun.forget_latents[rows]
    noise = torch.randn(clean.shape, generator=generator)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(rows),), generator=generator)
    x_t, _ = _noisy_by_hand(scheduler, clean, noise, t)
    idx = salun.forget_index[rows]
    with torch.no_grad():
        forget = (
            (unet(x_t, t, salun.concept_embeds[idx]).sample - unet(x_t, t, salun.pseudo_embeds[idx]).sample) ** 2
        ).mean()
        rrows = torch.randint(0, len(salun.retain_latents), (cfg.retain_batch_size,), generator=generator)
        clean_r = salun.retain_latents[rrows]
        noise_r = torch.randn(clean_r.shape, generator=generator)
        t_r = torch.randint(0, scheduler.config.num_train_timesteps, (len(rrows),), generator=generator)
        x_r, target_r = _noisy_by_hand(scheduler, clean_r, noise_r, t_r)
        retain = ((unet(x_r, t_r, salun.retain_embeds[salun.retain_index[rrows]]).sample - target_r) ** 2).mean()
    assert logs["loss/forget"] == pytest.approx(forget.item(), rel=1e-5)
    assert logs["loss/retain"] == pytest.approx(retain.item(), rel=1e-5)
    assert loss.item() == pytest.approx(forget.item() + alpha * retain.item(), rel=1e-5)
    # the forget images are the original model's samples of the concept prompts, one row per (prompt, image)
    assert salun.forget_index.tolist() == [0, 0, 1, 1, 2, 2]


def test_training_pulls_forget_toward_pseudo_and_frozen_weights_stay_bit_identical_after_every_step(shapes_world):
    """The claim holds for any draw of the world: the forget/pseudo gap is probed at 8 timesteps spread over the
    schedule (fixed noise on the forget latents) and must fall at 7 or more of them (a sign test: 9/256 = 0.035 under
    no effect) and on average. How far it falls depends on the UNet's draw, so no size is asserted: here (version-4
    test world) the mean gap ends at 0.07x its start, 8 of 8 lower; in a side run of this loop on the transfer UNet and
    on 4 UNets of two older builds (versions 2 and 3), at 0.004x-0.09x, always 8 of 8 lower, though Adam's first steps
    can raise it at first.
    Checked by breaking `SalUnDiffusion.compute_loss` locally: with no forget term (pseudo target = the forget
    prediction itself) the mean gap ends at 3.4x, with the forget term's sign flipped at 3.9x, 0 of 8 lower both times.
    """
    torch.manual_seed(0)
    components, salun = _salun(shapes_world)
    unet = components.unet
    mask = salun.compute_mask()
    assert mask_density(mask) == pytest.approx(0.5, abs=1e-4)
    frozen = {n: ~m for n, m in mask.items()}
    before = {n: p.detach().clone() for n, p in unet.named_parameters()}
    probe_gen = torch.Generator().manual_seed(123)
    x, idx = salun.forget_latents, salun.forget_index
    probes = []
    for t in torch.linspace(50, 950, 8).long():
        noise = torch.randn(x.shape, generator=probe_gen)
        timesteps = torch.full((len(x),), int(t))
        probes.append((_noisy_by_hand(components.scheduler, x, noise, timesteps)[0], timesteps))

    def gaps() -> torch.Tensor:
        with torch.no_grad():
            return torch.stack(
                [
                    (
                        (
                            unet(x_t, t, salun.concept_embeds[idx]).sample
                            - unet(x_t, t, salun.pseudo_embeds[idx]).sample
                        )
                        ** 2
                    ).mean()
                    for x_t, t in probes
                ]
            )

    start = gaps()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=0.1)  # decay would move frozen weights
    unet.train()
    with apply_saliency_mask(unet, mask, optimizer):
        for step in range(16):
            loss, _ = salun.compute_loss(step)
            optimizer.zero_grad()
            loss.backward()
            for n, p in unet.named_parameters():  # gradients of frozen entries are zero as computed
                assert not p.grad[frozen[n]].any(), (step, n)
            optimizer.step()
            for n, p in unet.named_parameters():
                assert torch.equal(p.detach()[frozen[n]], before[n][frozen[n]]), (step, n)
                for value in optimizer.state[p].values():
                    if value.shape == p.shape:
                        assert not value[frozen[n]].any(), (step, n)
    unet.eval()
    moved = sum(int((p.detach() != before[n]).sum()) for n, p in unet.named_parameters())
    assert moved > 0.3 * sum(int(m.sum()) for m in mask.values())  # most salient weights moved
    end = gaps()
    # the forget prompts now predict like the pseudo prompts: lower at (nearly) every timestep, and on average
    assert int((end < start).sum()) >= 7, (start.tolist(), end.tolist())
    assert end.mean() < start.mean(), (start.tolist(), end.tolist())


def test_fingerprint_tells_two_unets_of_one_config_apart_and_survives_masked_training(shapes_world):
    components, salun = _salun(shapes_world)
    mask = salun.compute_mask()
    fingerprint = frozen_weights_fingerprint(mask, components.unet)
    transfer = load_diffusion_components(shapes_world.transfer_pipeline_path).unet
    check_saliency_mask(mask, transfer)  # names and shapes fit: the shape check alone cannot tell
    with pytest.raises(ValueError, match=r"frozen weights differ.*another model of the same architecture"):
        check_saliency_mask(mask, transfer, fingerprint)
    # after masked training (a resumed run) the fingerprint is unchanged: only salient weights moved
    trained = copy.deepcopy(components.unet)
    with torch.no_grad():
        for n, p in trained.named_parameters():
            p[mask[n]] += 1.0
    check_saliency_mask(mask, trained, fingerprint)


def test_evaluating_with_another_unet_equals_an_evaluator_built_on_that_unet(shapes_world):
    kwargs = {"num_images": 3, "num_inference_steps": 4, "num_target_images": 1, "seed": 1}
    main = shapes_world_evaluator(shapes_world, "red", **kwargs)
    on_transfer = shapes_world_evaluator(shapes_world, "red", transfer=True, **kwargs)
    text_encoder = load_diffusion_components(shapes_world.pipeline_path).text_encoder
    transfer_unet = load_diffusion_components(shapes_world.transfer_pipeline_path).unet
    swapped = main.evaluate(text_encoder, unet=transfer_unet)
    direct = on_transfer.evaluate(text_encoder)
    assert (swapped["images"]["plain"] == direct["images"]["plain"]).all()
    assert swapped["concept_rate"] == direct["concept_rate"]
    assert swapped["retain_accuracy"] == direct["retain_accuracy"]
    assert not (swapped["images"]["plain"] == main.evaluate(text_encoder)["images"]["plain"]).all()
