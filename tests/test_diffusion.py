"""The diffusion room: ESD/AdvUnlearn maths, the transformers-5 soft-prompt path, attacks, evaluation, transfer."""

import copy
import json

import numpy as np
import pytest
import torch


pytest.importorskip("diffusers")

from transformers import CLIPTextConfig, CLIPTextModel

from hf_unlearn.diffusion import (
    AdvUnlearn,
    AdvUnlearnConfig,
    ConceptEvaluator,
    DiscretePromptAttack,
    SoftPromptAttack,
    SoftPromptTextEncoder,
    attack_success_rate,
    check_clip_text_encoder,
    check_prompts,
    encode_embeddings,
    esd_loss,
    esd_target,
    image_statistics_distance,
    insert_adversarial_embeddings,
    load_diffusion_components,
    project_to_simplex,
    retain_loss,
    set_trainable_layers,
    shapes_world_evaluator,
    tokenize_prompts,
)
from hf_unlearn.diffusion.losses import soft_attack_loss
from hf_unlearn.synthetic.shapes import (
    COLORS,
    SHAPES,
    ShapesWorld,
    build_tokenizer,
    detect_colors,
    render_shapes,
)


def tiny_clip(layers=2):
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=60,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=10,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    return CLIPTextModel(config).eval()


# ------------------------------------------------------------------------------------------------ maths


def test_esd_target_and_loss_match_the_formula():
    e_u, e_c, pred = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 0.0]), torch.tensor([0.5, 0.5])
    assert torch.equal(esd_target(e_u, e_c, 2.0), torch.tensor([1.0 - 2 * 2.0, 2.0 + 2 * 2.0]))
    target = e_u - 1.0 * (e_c - e_u)  # [-1, 4]
    assert esd_loss(pred, e_u, e_c, 1.0).item() == pytest.approx(((0.5 + 1) ** 2 + (0.5 - 4) ** 2) / 2)
    assert torch.equal(target, esd_target(e_u, e_c))
    assert retain_loss(pred, torch.zeros(2)).item() == pytest.approx(0.25)
    assert soft_attack_loss(pred, pred).item() == 0.0


def test_esd_target_carries_no_gradient():
    e_c = torch.ones(3, requires_grad=True)
    assert not esd_target(torch.zeros(3), e_c).requires_grad


def test_attack_success_rate_is_pre_or_post():
    pre = np.array([1, 0, 0, 1, 0], bool)
    post = np.array([0, 1, 0, 1, 0], bool)
    assert attack_success_rate(pre, post) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="one shape"):
        attack_success_rate(pre, post[:2])


def test_project_to_simplex():
    v = torch.randn(4, 7)
    p = project_to_simplex(v)
    assert torch.all(p >= 0)
    assert torch.allclose(p.sum(-1), torch.ones(4), atol=1e-6)
    simplex_point = torch.tensor([[0.2, 0.3, 0.5]])
    assert torch.allclose(project_to_simplex(simplex_point), simplex_point)


def test_image_statistics_distance_is_zero_on_itself_and_grows_with_a_colour_shift():
    a = render_shapes(["red"] * 30, SHAPES * 10, seed=0).transpose(0, 2, 3, 1)
    b = render_shapes(["red"] * 30, SHAPES * 10, seed=1).transpose(0, 2, 3, 1)
    c = render_shapes(["blue"] * 30, SHAPES * 10, seed=1).transpose(0, 2, 3, 1)
    assert image_statistics_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert image_statistics_distance(a, c) > 5 * image_statistics_distance(a, b)


# ------------------------------------------------------------------------------------------------ text encoder


def test_soft_prompt_path_equals_clip_forward_on_transformers_5():
    te = tiny_clip()
    assert not hasattr(te, "text_model")  # the flat transformers-5 layout the reference code breaks on
    ids = torch.tensor([[0, 5, 7, 9, 1, 1, 1, 1, 1, 1], [0, 3, 1, 1, 1, 1, 1, 1, 1, 1]])
    out = encode_embeddings(te, te.embeddings.token_embedding(ids))
    assert torch.allclose(out, te(ids).last_hidden_state, atol=1e-6)


@pytest.mark.parametrize("attack_type", ["prefix", "suffix"])
def test_a_real_tokens_embedding_as_soft_token_equals_inserting_the_token(attack_type):
    te = tiny_clip()
    ids = torch.tensor([[0, 5, 7, 1, 1, 1, 1, 1, 1, 1]])
    adv = te.embeddings.token_embedding(torch.tensor([42, 43]))
    soft = SoftPromptTextEncoder(te)(ids, adv, attack_type)
    inserted = [0, 42, 43, 5, 7, 1, 1, 1, 1, 1] if attack_type == "prefix" else [0, 5, 7, 42, 43, 1, 1, 1, 1, 1]
    assert torch.allclose(soft, te(torch.tensor([inserted])).last_hidden_state, atol=1e-6)


def test_insert_rejects_unknown_attack_type():
    with pytest.raises(ValueError, match="attack_type"):
        insert_adversarial_embeddings(torch.zeros(1, 4, 2), torch.zeros(1, 2), attack_type="mid")


@pytest.mark.parametrize(
    ("method", "layers", "norm"),
    [
        ("text_encoder_full", {0, 1}, True),
        ("text_encoder_layer1", {1}, False),
        ("text_encoder_layer0-1", {0, 1}, False),
    ],
)
def test_only_the_chosen_layers_receive_gradients(method, layers, norm):
    te = tiny_clip()
    names = set_trainable_layers(te, method)
    ids = torch.tensor([[0, 5, 7, 1, 1, 1, 1, 1, 1, 1]])
    SoftPromptTextEncoder(te)(ids, torch.randn(1, 8)).pow(2).sum().backward()
    for name, p in te.named_parameters():
        trained = (name.startswith("encoder.layers.") and int(name.split(".")[2]) in layers) or (
            norm and name.startswith("final_layer_norm")
        )
        assert (name in names) == trained, name
        assert (p.grad is not None and p.grad.abs().sum() > 0) == trained, name
    assert not any(n.startswith("embeddings") for n in names)  # token/position embeddings stay frozen


def test_bad_train_method_is_named():
    with pytest.raises(ValueError, match="text_encoder_layer"):
        set_trainable_layers(tiny_clip(), "xattn")
    with pytest.raises(ValueError, match="outside 0..1"):
        set_trainable_layers(tiny_clip(), "text_encoder_layer3")


def test_prompts_that_tokenise_to_nothing_are_refused():
    tok = build_tokenizer()
    check_prompts(tok, ["a red circle"], "concept")
    for bad in ["", "   ", "!!! ???", "<|endoftext|>"]:
        with pytest.raises(ValueError, match="tokenises to no known token"):
            check_prompts(tok, [bad], "concept")
    with pytest.raises(ValueError, match="No concept prompts"):
        check_prompts(tok, [], "concept")


def test_non_clip_text_encoders_are_refused(tmp_path):
    with pytest.raises(TypeError, match="CLIPTextModel"):
        check_clip_text_encoder(torch.nn.Linear(2, 2))
    (tmp_path / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusion3Pipeline",
                "text_encoder": ["transformers", "T5EncoderModel"],
                "tokenizer": ["transformers", "T5TokenizerFast"],
                "unet": ["diffusers", "UNet2DConditionModel"],
                "scheduler": ["diffusers", "DDIMScheduler"],
            }
        )
    )
    with pytest.raises(TypeError, match="not a CLIPTextModel"):
        load_diffusion_components(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "X", "unet": ["diffusers", "UNet"]}))
    with pytest.raises(ValueError, match="lacks"):
        load_diffusion_components(tmp_path)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="attack_method"):
        AdvUnlearnConfig(["a"], ["b"], attack_method="fgsm")
    with pytest.raises(ValueError, match="retain_prompts"):
        AdvUnlearnConfig(["a"], [], retain_loss_weight=1.0)
    with pytest.raises(ValueError, match="concept_prompts is empty"):
        AdvUnlearnConfig([], ["b"])
    with pytest.raises(ValueError, match="num_tokens"):
        SoftPromptAttack(num_tokens=0)


# ------------------------------------------------------------------------------------------------ shapes world


def test_world_detector_and_tokenizer():
    colors = [c for c in COLORS for _ in SHAPES] * 3
    images = render_shapes(colors, SHAPES * 9, seed=0)
    assert detect_colors(images) == colors
    tok = build_tokenizer()
    assert tok.convert_ids_to_tokens(tok("a crimson triangle").input_ids)[1:4] == [
        "a</w>",
        "crimson</w>",
        "triangle</w>",
    ]
    assert ShapesWorld.concept_of("a photo of a scarlet square") == {"color": "red", "shape": "square"}


def test_world_is_a_stable_diffusion_v1_pipeline_folder(shapes_world):
    """The folder has SD v1's layout and config keys and loads with both diffusers entry points, offline."""
    from diffusers import AutoencoderKL, DiffusionPipeline, PNDMScheduler, StableDiffusionPipeline

    info = shapes_world.info
    assert info["detector_accuracy_on_rendered_images"]["color"] == 1.0
    assert info["world_id"] == shapes_world.root.name == f"shapes-{info['config_hash']}"
    for folder in (shapes_world.pipeline_path, shapes_world.transfer_pipeline_path):
        index = json.loads((folder / "model_index.json").read_text())
        assert index["_class_name"] == "StableDiffusionPipeline"
        assert index["vae"] == ["diffusers", "AutoencoderKL"]
        assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
        assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
        assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
        assert index["scheduler"] == ["diffusers", "PNDMScheduler"]
        assert index["safety_checker"] == [None, None] and index["feature_extractor"] == [None, None]
        assert index["requires_safety_checker"] is False
        scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
        assert {k: scheduler[k] for k in ("beta_schedule", "beta_start", "beta_end", "skip_prk_steps", "steps_offset")} == {
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "skip_prk_steps": True,
            "steps_offset": 1,
        }  # fmt: skip
    pipe = StableDiffusionPipeline.from_pretrained(shapes_world.pipeline_path)
    generic = DiffusionPipeline.from_pretrained(shapes_world.pipeline_path)
    assert type(generic) is StableDiffusionPipeline and isinstance(pipe.scheduler, PNDMScheduler)
    assert isinstance(pipe.vae, AutoencoderKL) and pipe.safety_checker is None
    # the UNet works on VAE latents: SD's 4 channels, image size / 2 ** (VAE blocks - 1)
    vae_factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    assert pipe.unet.config.in_channels == pipe.vae.config.latent_channels == 4
    assert pipe.unet.config.sample_size * vae_factor == shapes_world.config.image_size
    assert pipe.vae.config.scaling_factor == pytest.approx(info["vae"]["scaling_factor"]) != 0.18215
    te = CLIPTextModel.from_pretrained(shapes_world.pipeline_path, subfolder="text_encoder")
    ids = tokenize_prompts(pipe.tokenizer, ["a red circle"])
    assert torch.equal(te(ids).last_hidden_state, pipe.text_encoder(ids).last_hidden_state)
    assert te.config.hf_unlearn_world == {"world_id": info["world_id"], "config_hash": info["config_hash"]}
    # the transfer pipeline was trained against the same, frozen encoder and VAE, with its own UNet
    pipe2 = shapes_world.load_pipeline(transfer=True)
    for module in ("text_encoder", "vae"):
        for (n, a), b in zip(getattr(pipe, module).state_dict().items(), getattr(pipe2, module).state_dict().values()):
            assert torch.equal(a, b), n
    assert not torch.equal(next(iter(pipe.unet.parameters())), next(iter(pipe2.unet.parameters())))
    for p in (pipe, generic):
        p.set_progress_bar_config(disable=True)
        images = p(["a red circle"] * 2, num_inference_steps=3, output_type="np").images
        assert images.shape == (2, 16, 16, 3) and 0 <= images.min() and images.max() <= 1


def test_library_loads_the_world_as_it_loads_stable_diffusion(shapes_world):
    """`load_diffusion_components` gives the DDIM sampler from SD v1's PNDM config and latents decoded by the VAE; a
    DDIM run through the library equals the pipeline's own DDIM run (same noise, same guidance)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    from hf_unlearn.diffusion import ddim_sample, decode_to_images

    components = load_diffusion_components(shapes_world.pipeline_path)
    assert isinstance(components.scheduler, DDIMScheduler) and components.latent_shape == (4, 8, 8)
    assert components.scheduler.config.beta_schedule == "scaled_linear"
    pipe = StableDiffusionPipeline.from_pretrained(
        shapes_world.pipeline_path,
        scheduler=DDIMScheduler.from_pretrained(shapes_world.pipeline_path, subfolder="scheduler"),
    )
    pipe.set_progress_bar_config(disable=True)
    latents = torch.randn((2, *components.latent_shape), generator=torch.Generator().manual_seed(0))
    expected = pipe(["a red circle"] * 2, num_inference_steps=4, guidance_scale=5.0, latents=latents, output_type="np")
    ids = tokenize_prompts(components.tokenizer, ["a red circle", ""])
    with torch.no_grad():
        embeds = components.text_encoder(ids).last_hidden_state
    x, _ = ddim_sample(
        components.unet, components.scheduler, embeds[:1].expand(2, -1, -1), embeds[1:], components.latent_shape, 4,
        5.0, latents=latents,
    )  # fmt: skip
    np.testing.assert_allclose(decode_to_images(x, components.vae), expected.images, atol=2e-5)


# ------------------------------------------------------------------------------------------------ attacks and training


def _erasure_setup(world, **overrides):
    pipe = load_diffusion_components(world.pipeline_path)
    original = copy.deepcopy(pipe.text_encoder)
    set_trainable_layers(pipe.text_encoder)
    config = AdvUnlearnConfig(
        world.concept_prompts("red"),
        world.retain_prompts("red"),
        ddim_steps=5,
        trajectories_per_prompt=2,
        train_batch_size=4,
        retain_batch=4,
        **overrides,
    )
    return pipe, original, AdvUnlearn(pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config, original)


@pytest.mark.parametrize("method", ["pgd", "fast_at"])
def test_soft_prompt_attack_lowers_its_objective(shapes_world, method):
    pipe, _original, eraser = _erasure_setup(shapes_world, warmup_steps=0)
    x, t, idx = eraser.concept_bank.sample(6)
    ids = eraser.concept_ids[idx]
    eps_ref = eraser._frozen_eps(x, t, eraser.concept_embeds[idx])
    init = torch.randn(1, pipe.text_encoder.config.hidden_size)
    attack = SoftPromptAttack(num_tokens=1, steps=15, lr=0.05, method=method)
    adv, losses = attack.attack(pipe.text_encoder, pipe.unet, ids, x, t, eps_ref, init)
    assert adv.shape == init.shape and not adv.requires_grad
    assert min(losses[-3:]) < losses[0]
    # the encoder's weights were not touched by the attack
    assert all(p.grad is None for p in pipe.text_encoder.parameters())


def test_best_start_picks_the_candidate_with_the_lowest_attack_loss(shapes_world):
    pipe, _original, eraser = _erasure_setup(shapes_world, warmup_steps=0)
    x, t, idx = eraser.concept_bank.sample(4)
    ids = eraser.concept_ids[idx]
    eps_ref = eraser._frozen_eps(x, t, eraser.concept_embeds[idx])
    g = torch.Generator().manual_seed(4)
    candidates = [torch.randn(2, pipe.text_encoder.config.hidden_size, generator=g) for _ in range(5)]
    attack = SoftPromptAttack(num_tokens=2, attack_type="suffix")
    best, losses = attack.best_start(pipe.text_encoder, pipe.unet, ids, x, t, eps_ref, candidates)
    expected = []
    for adv in candidates:  # the suffix-inserted tokens through the plain soft-prompt encoder, by hand
        with torch.no_grad():
            cond = SoftPromptTextEncoder(pipe.text_encoder)(ids, adv, "suffix")
            expected.append(float(((pipe.unet(x, t, cond).sample - eps_ref) ** 2).mean()))
    assert losses == pytest.approx(expected, rel=1e-5)
    assert torch.equal(best, candidates[int(np.argmin(expected))])


def test_attack_candidates_start_each_attack_from_the_best_screened_start(shapes_world):
    runs = {}
    for n in (0, 8):
        _pipe, _original, eraser = _erasure_setup(shapes_world, warmup_steps=0, attack_steps=1, attack_candidates=n)
        seen = {"inits": [], "screens": []}
        attack, screen = eraser.attacker.attack, eraser.attacker.best_start
        eraser.attacker.attack = lambda *a, s=seen, f=attack: s["inits"].append(a[-1]) or f(*a)
        eraser.attacker.best_start = lambda *a, s=seen, f=screen: (
            s["screens"].append((a[-1], f(*a))) or s["screens"][-1][1]
        )
        for step in range(4 if n else 1):
            eraser.compute_loss(step)
        runs[n] = seen
    assert runs[0]["screens"] == []  # 0 candidates: the reference code's start, no screen
    candidates, (_best, losses) = runs[8]["screens"][0]
    assert len(candidates) == len(losses) == 9
    # the first candidate is the start the reference code would use (same generator draw) ...
    assert torch.equal(candidates[0], runs[0]["inits"][0])
    # ... and at every attack the soft steps start from the candidate with the lowest attack loss
    assert len(runs[8]["screens"]) == len(runs[8]["inits"]) == 4
    for (candidates, (_best, losses)), init in zip(runs[8]["screens"], runs[8]["inits"]):
        assert torch.equal(init, candidates[int(np.argmin(losses))])
    # which candidate wins depends on the world's draw; over four attacks a screened start must win at least once,
    # else the checks above could not tell a screen from the plain start
    assert any(int(np.argmin(losses)) != 0 for _c, (_b, losses) in runs[8]["screens"])


def test_erase_text_encoder_trains_a_copy_and_leaves_the_original_alone(shapes_world):
    from hf_unlearn.diffusion import erase_text_encoder

    pipe = shapes_world.load_pipeline()
    before = {n: p.clone() for n, p in pipe.text_encoder.named_parameters()}
    config = AdvUnlearnConfig(
        shapes_world.concept_prompts("red"),
        shapes_world.retain_prompts("red"),
        attack_method="fast_at",
        attack_steps=1,
        warmup_steps=1,
        ddim_steps=5,
        trajectories_per_prompt=1,
        train_method="text_encoder_layer0",
    )
    erased = erase_text_encoder(
        pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config, 3, 1e-2, progress=False
    )
    assert erased is not pipe.text_encoder and not erased.training
    assert all(torch.equal(p, before[n]) for n, p in pipe.text_encoder.named_parameters())
    moved = {n for n, p in erased.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(n.startswith("encoder.layers.0.") for n in moved)  # only the chosen layer trained


def test_erase_text_encoder_is_seeded_frozen_and_matches_a_hand_written_loop(shapes_world):
    """The one eraser loop: Adam + clipping at `max_grad_norm`, seeded by `config.seed` whatever ran before it, and
    the result frozen; a hand-written loop over `AdvUnlearn.compute_loss` with the same settings gives the same weights."""
    from hf_unlearn.diffusion import erase_text_encoder

    pipe = load_diffusion_components(shapes_world.pipeline_path)
    config = AdvUnlearnConfig(
        shapes_world.concept_prompts("red"),
        shapes_world.retain_prompts("red"),
        attack_method="pgd",
        attack_steps=2,
        attack_lr=1e-2,
        warmup_steps=1,
        ddim_steps=5,
        trajectories_per_prompt=1,
        train_batch_size=2,
        retain_batch=2,
        train_method="text_encoder_layer0",
        seed=3,
    )
    args = (pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config, 3, 5e-2)
    torch.manual_seed(123)
    first = erase_text_encoder(*args, max_grad_norm=0.01, progress=False)
    torch.rand(7)  # another global RNG state: the run must not depend on it
    second = erase_text_encoder(*args, max_grad_norm=0.01, progress=False)
    assert all(not p.requires_grad for p in first.parameters())
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))
    # the same three steps by hand, clipping the gradient to norm 0.01
    encoder = copy.deepcopy(pipe.text_encoder)
    set_trainable_layers(encoder, "text_encoder_layer0")
    torch.manual_seed(3)
    eraser = AdvUnlearn(encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config, copy.deepcopy(pipe.text_encoder))
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=5e-2)
    encoder.train()
    for step in range(3):
        loss, _ = eraser.compute_loss(step)
        optimizer.zero_grad()
        loss.backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in params))
        for p in params:
            p.grad *= min(1.0, 0.01 / (float(norm) + 1e-6))
        optimizer.step()
    for (name, p), q in zip(encoder.named_parameters(), first.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)
    unclipped = erase_text_encoder(*args, max_grad_norm=1e6, progress=False)
    assert not all(torch.equal(p, q) for p, q in zip(first.parameters(), unclipped.parameters()))


def test_trajectory_bank_final_samples_are_the_ends_of_that_prompts_trajectories(shapes_world):
    from hf_unlearn.diffusion.sampling import TrajectoryBank, ddim_sample

    pipe = load_diffusion_components(shapes_world.pipeline_path)
    ids = tokenize_prompts(pipe.tokenizer, ["a red circle", "a blue square", ""])
    with torch.no_grad():
        embeds = pipe.text_encoder(ids).last_hidden_state
    bank = TrajectoryBank(pipe.unet, pipe.scheduler, embeds[:2], embeds[2:], pipe.latent_shape, 3, 4, 2.5, seed=5)
    # the ends, by an independent sampling run from the same noise
    expected, _ = ddim_sample(
        pipe.unet, pipe.scheduler, embeds[:2].repeat_interleave(3, 0), embeds[2:], pipe.latent_shape, 4, 2.5,
        torch.Generator().manual_seed(5),
    )  # fmt: skip
    torch.testing.assert_close(bank.samples, expected)
    g = torch.Generator().manual_seed(0)
    prompts = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    picked = bank.final_samples(prompts, g)
    offsets = torch.randint(0, 3, (8,), generator=torch.Generator().manual_seed(0))
    for row, (p, o) in enumerate(zip(prompts.tolist(), offsets.tolist())):
        assert torch.equal(picked[row], expected[3 * p + o])


def test_denoise_attack_loss_fits_the_frozen_models_samples_at_random_timesteps(shapes_world):
    """`attack_loss="denoise"`: the inner attack's loss at its start equals UnlearnDiffAtk's v-prediction denoising
    loss of the bank's concept samples, written out from alphas_cumprod, and its one Adam step descends it."""
    pipe, _original, eraser = _erasure_setup(
        shapes_world, warmup_steps=0, attack_loss="denoise", attack_steps=1, attack_lr=1e-3, retain_loss_weight=0.0
    )
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    bank_state, gen_state = eraser.concept_bank.generator.get_state(), eraser.generator.get_state()
    _loss, logs = eraser.compute_loss(step=0)
    # replay the draws: the batch, the random-token start, which trajectory, timesteps and noise
    eraser.concept_bank.generator.set_state(bank_state)
    _x, _t, idx = eraser.concept_bank.sample(4)
    g = torch.Generator().manual_seed(0)
    g.set_state(gen_state)
    from hf_unlearn.diffusion.attacks import random_token_embeddings

    init = random_token_embeddings(eraser.encoder, 1, g, eraser._exclude)
    rows = idx * 2 + torch.randint(0, 2, (4,), generator=g)
    x0 = eraser.concept_bank.samples[rows]
    t = torch.randint(0, pipe.scheduler.config.num_train_timesteps, (4,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    a = pipe.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    noisy, v = a.sqrt() * x0 + (1 - a).sqrt() * noise, a.sqrt() * noise - (1 - a).sqrt() * x0
    adv = init.clone().requires_grad_(True)
    cond = eraser.encoder(eraser.concept_ids[idx], adv, "prefix")
    expected = ((pipe.unet(noisy, t, cond).sample - v) ** 2).mean()
    assert logs["loss/attack"] == pytest.approx(expected.item(), rel=1e-4)
    (grad,) = torch.autograd.grad(expected, [adv])
    # Adam's first step moves each coordinate by lr against the gradient's sign
    big = grad.abs() > 1e-6
    torch.testing.assert_close(eraser.adv_embeds[big], (init - 1e-3 * grad.sign())[big], rtol=0, atol=1e-6)


def test_plain_prompt_weight_adds_the_plain_prompts_esd_loss_after_warmup(shapes_world):
    pipe, original, eraser = _erasure_setup(
        shapes_world,
        warmup_steps=1,
        attack_steps=1,
        plain_prompt_weight=0.5,
        negative_guidance=2.0,
        retain_loss_weight=0.0,
    )
    _loss, logs = eraser.compute_loss(step=0)  # warmup: ESD on the plain prompt only, no second term
    assert set(logs) == {"loss", "loss/esd"}
    state = eraser.concept_bank.generator.get_state()
    loss, logs = eraser.compute_loss(step=1)
    eraser.concept_bank.generator.set_state(state)
    x, t, idx = eraser.concept_bank.sample(4)
    ids = tokenize_prompts(pipe.tokenizer, [shapes_world.concept_prompts("red")[i] for i in idx.tolist()])
    with torch.no_grad():
        eps_c = pipe.unet(x, t, original(ids).last_hidden_state).sample
        eps_u = pipe.unet(x, t, original(tokenize_prompts(pipe.tokenizer, [""] * 4)).last_hidden_state).sample
        plain = pipe.unet(x, t, pipe.text_encoder(ids).last_hidden_state).sample
    expected = ((plain - (eps_u - 2.0 * (eps_c - eps_u))) ** 2).mean().item()
    assert logs["loss/esd_plain"] == pytest.approx(expected, rel=1e-4)
    assert logs["loss"] == pytest.approx(logs["loss/esd"] + 0.5 * expected, rel=1e-5)
    assert loss.item() == pytest.approx(logs["loss"])


def test_comparison_text_encoder_config_maps_the_settings():
    from hf_unlearn.diffusion.compare import ComparisonSettings, text_encoder_config

    s = ComparisonSettings(attack_step=7, attack_lr=0.5, warmup_iter=3, retain_batch=2, ddim_steps=9)
    esd = text_encoder_config(["a red circle"], ["a blue circle"], "esd", s, seed=4)
    adv = text_encoder_config(["a red circle"], ["a blue circle"], "advunlearn", s, seed=4)
    assert (esd.attack_method, adv.attack_method) == ("none", "pgd")
    assert (adv.attack_loss, adv.plain_prompt_weight) == ("denoise", 1.0)  # the settings chosen for the tables
    reference = text_encoder_config(
        ["a red circle"],
        ["a blue circle"],
        "advunlearn",
        ComparisonSettings(attack_loss="match", plain_prompt_weight=0.0),
        0,
    )
    assert (reference.attack_loss, reference.plain_prompt_weight, reference.retain_loss_weight) == ("match", 0.0, 1.0)
    assert (adv.attack_steps, adv.attack_lr, adv.warmup_steps, adv.retain_batch, adv.ddim_steps, adv.seed) == (
        7, 0.5, 3, 2, 9, 4,
    )  # fmt: skip
    with pytest.raises(ValueError, match="method must be 'esd' or 'advunlearn', got 'salun'"):
        text_encoder_config(["a red circle"], [], "salun", s, seed=0)


def test_comparison_salun_loop_returns_every_steps_logs_with_clipped_gradients():
    from hf_unlearn.diffusion.compare import _adam_steps

    # loss w^2 from w = 2 with SGD lr 0.1: the gradient 2w >= 3.2 is clipped to norm 1 at every step, so w drops by
    # exactly 0.1 per step and the logged losses are 2^2, 1.9^2, 1.8^2, 1.7^2, 1.6^2 (unclipped, w would be 1.6 after
    # one step)
    w = torch.nn.Parameter(torch.tensor([2.0]))

    def compute_loss(step):
        loss = (w**2).sum()
        return loss, {"loss": loss.item(), "step": float(step)}

    history = _adam_steps([w], compute_loss, 5, "test", torch.optim.SGD([w], lr=0.1))
    assert [h["step"] for h in history] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [h["loss"] for h in history] == pytest.approx([4.0, 3.61, 3.24, 2.89, 2.56], rel=1e-6)
    assert w.item() == pytest.approx(1.5, rel=1e-6)


def test_esd_training_moves_the_prediction_toward_the_erasure_target(shapes_world):
    pipe, _original, eraser = _erasure_setup(shapes_world, attack_method="none", retain_loss_weight=0.0)
    probe = eraser.concept_bank.sample(64)
    frozen_embed_before = {n: p.clone() for n, p in pipe.text_encoder.named_parameters() if not p.requires_grad}

    def probe_loss():  # the ESD loss of each of the 64 probe states
        x, t, idx = probe
        with torch.no_grad():
            pred = pipe.unet(x, t, eraser.encoder(eraser.concept_ids[idx])).sample
        e_u = eraser._frozen_eps(x, t, eraser.uncond.expand(len(idx), -1, -1))
        target = esd_target(e_u, eraser._frozen_eps(x, t, eraser.concept_embeds[idx]))
        return ((pred - target) ** 2).flatten(1).mean(1)

    before = probe_loss()
    optimizer = torch.optim.Adam([p for p in pipe.text_encoder.parameters() if p.requires_grad], lr=3e-3)
    for step in range(25):
        loss, logs = eraser.compute_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert set(logs) == {"loss", "loss/esd"}  # ESD: no attack, no retain term
    after = probe_loss()
    # a claim for any draw of the world (how far the loss falls depends on it: to 0.22x on the version-4 test world):
    # lower on average and on at least 44 of the 64 states (a sign test, p = 0.002 under no effect; measured 64 of 64)
    assert after.mean() < before.mean() and int((after < before).sum()) >= 44, (before, after)
    for n, p in pipe.text_encoder.named_parameters():
        if n in frozen_embed_before:
            assert torch.equal(p, frozen_embed_before[n]), n


def test_advunlearn_attacks_after_warmup_and_keeps_the_retain_term(shapes_world):
    pipe, _original, eraser = _erasure_setup(shapes_world, warmup_steps=1, attack_steps=2, attack_lr=0.01)
    _, logs0 = eraser.compute_loss(0)
    assert "loss/attack" not in logs0 and "loss/retain" in logs0
    _loss, logs1 = eraser.compute_loss(1)
    assert "loss/attack" in logs1 and eraser.adv_embeds.shape == (1, pipe.text_encoder.config.hidden_size)
    first = eraser.adv_embeds.clone()
    eraser.compute_loss(2)  # attack_init="latest": warm start, then moved by the attack
    assert not torch.equal(first, eraser.adv_embeds)
    state = eraser.state_dict()
    eraser.adv_embeds = None
    eraser.load_state_dict(state)
    assert torch.equal(eraser.adv_embeds, state["adv_embeds"])
    # retain term: zero while the encoder equals the original
    xr, tr, ridx = eraser.retain_bank.sample(4)
    pred = pipe.unet(xr, tr, eraser.encoder(eraser.retain_ids[ridx])).sample
    assert retain_loss(pred, eraser._frozen_eps(xr, tr, eraser.retain_embeds[ridx])).item() < 1e-10


def test_erased_encoder_transfers_to_a_second_pipeline(shapes_world, tmp_path):
    """Plug-and-play: an encoder erased against pipeline/ still erases in pipeline_transfer/ (other UNet)."""
    pipe, original, eraser = _erasure_setup(shapes_world, attack_method="none", retain_loss_weight=0.0)
    optimizer = torch.optim.Adam([p for p in pipe.text_encoder.parameters() if p.requires_grad], lr=3e-3)
    for step in range(25):
        loss, _ = eraser.compute_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    pipe.text_encoder.save_pretrained(tmp_path / "text_encoder")
    assert (tmp_path / "text_encoder" / "model.safetensors").is_file()
    loaded = CLIPTextModel.from_pretrained(tmp_path, subfolder="text_encoder")
    for a, b in zip(loaded.state_dict().values(), pipe.text_encoder.state_dict().values()):
        assert torch.equal(a, b)
    # Erasure objective on the *other* UNet (its own trajectories): lower with the erased encoder than the original.
    other = load_diffusion_components(shapes_world.transfer_pipeline_path)
    config = AdvUnlearnConfig(
        shapes_world.concept_prompts("red"),
        [],
        retain_loss_weight=0.0,
        attack_method="none",
        ddim_steps=5,
        trajectories_per_prompt=4,
        seed=3,
    )
    probe = AdvUnlearn(copy.deepcopy(original), other.unet, other.tokenizer, other.scheduler, config, original)
    x, t, idx = probe.concept_bank.sample(64)
    e_u = probe._frozen_eps(x, t, probe.uncond.expand(64, -1, -1))
    e_c = probe._frozen_eps(x, t, probe.concept_embeds[idx])
    ids = probe.concept_ids[idx]
    target = esd_target(e_u, e_c)
    with torch.no_grad():
        erased = ((other.unet(x, t, loaded(ids).last_hidden_state).sample - target) ** 2).flatten(1).mean(1)
        orig = ((other.unet(x, t, original(ids).last_hidden_state).sample - target) ** 2).flatten(1).mean(1)
    # lower on average and on at least 44 of the 64 states, a sign test (version-4 test world: 0.32x, 64 of 64)
    assert erased.mean() < orig.mean() and int((erased < orig).sum()) >= 44, (orig, erased)


def test_concept_evaluator_reports_consistent_metrics(shapes_world):
    evaluator = shapes_world_evaluator(
        shapes_world,
        "red",
        num_images=3,
        num_target_images=2,
        discrete_attack=DiscretePromptAttack(num_tokens=1, steps=3),
        soft_attack=SoftPromptAttack(1, 3, 0.01),
    )
    assert isinstance(evaluator, ConceptEvaluator)
    result = evaluator.evaluate(load_diffusion_components(shapes_world.pipeline_path).text_encoder, keep_images=2)
    images = result.pop("images")
    assert images["plain"].shape == (6, 16, 16, 3) and images["attacked"].shape == (6, 16, 16, 3)
    for key in ConceptEvaluator.metric_names:
        assert result[key] is not None and result[key] >= 0
    assert result["asr_discrete"] >= result["concept_rate"] and result["asr_soft"] >= result["concept_rate"]
    assert len(result["adversarial_prompts"]) == 3 and result["adversarial_prompts"][0].endswith("a red circle")
    json.dumps(result)  # JSON-serialisable once the images are popped


def test_uninformative_table_warnings_name_each_reason():
    from hf_unlearn.diffusion import uninformative_table_warnings

    def row(rate, disc, soft):
        return {"concept_rate": rate, "asr_discrete": disc, "asr_soft": soft}

    informative = {"original": row(0.9, 0.95, 1.0), "esd": row(0.1, 0.3, 0.5), "advunlearn": row(0.05, 0.1, 0.2)}
    assert uninformative_table_warnings(informative, "pipeline") == []
    # every attack fails on every encoder (the test-size transfer case): only that reason
    no_attack = {"original": row(0.6, 0.0, 0.0), "esd": row(0.2, 0.0, 0.0)}
    assert [w.split(":")[0] for w in uninformative_table_warnings(no_attack, "pipeline_transfer")] == [
        "every ASR on pipeline_transfer is 0"
    ]
    # the original never shows the concept, and the soft attack was not run (None is not a 0)
    blank = {"original": row(0.0, 0.0, None), "esd": row(0.0, 0.0, None)}
    reasons = [w.split(":")[0] for w in uninformative_table_warnings(blank, "main")]
    assert reasons == [
        "the original encoder never shows the concept on main",
        "every ASR on main is 0",
        "every encoder scores the same on main",
    ]
    # one encoder alone is never "the same as the others"
    assert uninformative_table_warnings({"esd": row(0.3, 0.4, 0.5)}) == []


def test_world_tokenizer_is_the_same_in_every_process():
    # The BPE trainer breaks frequency ties in hash-map order, which differs between processes; a world built in
    # another process must still get the same token ids (and so the same models), and every world word one token.
    import subprocess
    import sys

    code = (
        "import json; from hf_unlearn.synthetic.shapes import build_tokenizer as b, COLORS, COLOR_SYNONYMS, SHAPES, "
        "FILLER_WORDS; t = b(); w = [*COLORS, *[s for v in COLOR_SYNONYMS.values() for s in v], *SHAPES, "
        "*FILLER_WORDS]; print(json.dumps([t.get_vocab(), [t(x).input_ids for x in w]], sort_keys=True))"
    )
    runs = [json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    vocab, ids = runs[0]
    assert all(len(x) == 3 for x in ids)  # <|startoftext|> word </w> <|endoftext|>
    assert [vocab["<|startoftext|>"], vocab["<|endoftext|>"]] == [0, 1]


def _benchmark(name: str):
    """The module of `benchmarks/<name>.py` (benchmarks are scripts, not a package)."""
    import importlib.util

    from tests.launch import REPO

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_robustness_benchmark_reuses_finished_rows_and_takes_time_ratios_within_their_run(shapes_world, tmp_path):
    """`--reuse`: rows of a previous run with the same settings are copied (nothing is trained or evaluated when every
    row is there), and each variant's time ratio is taken against the ESD trained in its own run."""
    bench = _benchmark("advunlearn_robustness")
    argv = ["--preset", "test", "--seeds", "0", "1", "--variants", "esd", "advunlearn"]
    args = bench.parse_args(argv)
    rows = {
        0: ({"asr_discrete": 0.5, "asr_soft": 0.25, "train_seconds": 10.0}, {"asr_discrete": 0.2, "asr_soft": 0.2, "train_seconds": 30.0}),
        1: ({"asr_discrete": 0.4, "asr_soft": 0.5, "train_seconds": 20.0}, {"asr_discrete": 0.4, "asr_soft": 0.1, "train_seconds": 20.0}),
    }  # fmt: skip
    common = {"concept_rate": 0.1, "retain_accuracy": 1.0, "retain_image_distance": 0.2}
    previous = {
        "settings": {**vars(args), "variants": ["esd", "advunlearn", "fast_at_1step"], "world": shapes_world.root.name},
        "runs": [
            {"seed": s, "original": {**common, "asr_discrete": 1.0, "asr_soft": 1.0}, "esd": {**common, **e},
             "advunlearn": {**common, **a}}
            for s, (e, a) in rows.items()
        ],
    }  # fmt: skip
    path = tmp_path / "previous.json"
    path.write_text(json.dumps(previous))
    result = bench.main(bench.parse_args([*argv, "--reuse", str(path)]))
    assert result["runs"][1]["advunlearn"]["asr_soft"] == 0.1 and result["runs"][0]["esd"]["train_seconds"] == 10.0
    ratio = result["median_ratio_to_esd"]["advunlearn"]
    assert ratio["asr_discrete"] == pytest.approx((0.2 / 0.5 + 0.4 / 0.4) / 2)
    assert ratio["asr_soft"] == pytest.approx((0.2 / 0.25 + 0.1 / 0.5) / 2)
    assert ratio["train_seconds"] == pytest.approx((30 / 10 + 20 / 20) / 2)
    # other settings: refused before any work
    with pytest.raises(ValueError, match=r"other settings \(max_train_steps: 200 there, 7 here\)"):
        bench.main(bench.parse_args([*argv, "--max_train_steps", "7", "--reuse", str(path)]))


def test_salun_settings_rule_applies_the_floors_before_ranking_by_soft_then_discrete_asr_then_distance():
    select = _benchmark("salun_diffusion_settings").select

    def run(name, soft, discrete, accuracy, distance):
        return {"name": name, "asr_soft": soft, "asr_discrete": discrete, "retain_accuracy": accuracy,
                "retain_image_distance": distance}  # fmt: skip

    runs = [
        run("forgets best, retain accuracy below the floor", 0.0, 0.0, 0.97, 0.1),
        run("forgets best, distance above the ceiling", 0.0, 0.0, 1.0, 0.31),
        run("soft 0.2", 0.2, 0.0, 1.0, 0.1),
        run("soft 0.1, discrete 0.3", 0.1, 0.3, 0.98, 0.2),
        run("soft 0.1, discrete 0.2, distance 0.3", 0.1, 0.2, 1.0, 0.3),
        run("soft 0.1, discrete 0.2, distance 0.25", 0.1, 0.2, 1.0, 0.25),
    ]
    assert select(runs, 0.98, 0.3)["name"] == "soft 0.1, discrete 0.2, distance 0.25"
    assert select(runs, 0.9, 0.3)["name"] == "forgets best, retain accuracy below the floor"
    assert select(runs, 0.98, 0.35)["name"] == "forgets best, distance above the ceiling"
    assert select(runs, 0.99, 0.05) is None


def test_salun_settings_benchmark_trains_like_the_comparison_and_records_the_spread(shapes_world, tmp_path):
    bench = _benchmark("salun_diffusion_settings")
    out = tmp_path / "settings.json"
    argv = ["--preset", "test", "--seed", "5", "--learning_rates", "1e-3", "--alphas", "0.5", "--salun_steps", "3",
            "--eval_num_images", "2", "--eval_attack_steps", "1", "--log_every", "2", "--output_file", str(out)]  # fmt: skip
    data = bench.main(bench.parse_args(argv))
    assert json.loads(out.read_text()) == json.loads(json.dumps(data))
    (run,) = data["runs"]
    assert list(run["loss_curve"]) == [0, 2]  # every --log_every steps, and the last
    assert run["loss_curve"][0]["loss"] == pytest.approx(
        run["loss_curve"][0]["loss/forget"] + 0.5 * run["loss_curve"][0]["loss/retain"], rel=1e-5
    )
    assert run["frozen_weights_bit_identical"] and data["chosen"] in (None, {"salun_lr": 1e-3, "salun_alpha": 0.5})
    # the original's spread, from the evaluator's own images of the same seed: lowest over prompts of the mean over
    # pixels of the standard deviation over a prompt's images
    evaluator = shapes_world_evaluator(shapes_world, "red", num_images=2, seed=5)
    result = evaluator.evaluate(shapes_world.load_pipeline().text_encoder, keep_images=2)
    images = result["images"]["plain"].astype(np.float64)
    spreads = [np.sqrt(((p - p.mean(0)) ** 2).mean(0)).mean() for p in np.split(images, 3)]
    assert data["original"]["concept_image_spread"] == pytest.approx(min(spreads), rel=1e-5)
    assert data["original"]["concept_rate"] == result["concept_rate"]
