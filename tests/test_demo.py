"""The side-by-side demo: `ComparisonDemo` (the package's generation function) and the Gradio app around it, called
through Gradio's Python client against a launched local app. An opt-in test takes a headless-Chromium screenshot
(`HF_UNLEARN_SCREENSHOT=1` and a `chromium` / `chromium-browser` / `google-chrome` on PATH)."""

import copy
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch


pytest.importorskip("diffusers")

from hf_unlearn.diffusion import ddim_sample, decode_to_images, encode_prompts, load_diffusion_components
from hf_unlearn.diffusion.compare import write_demo_manifest
from hf_unlearn.diffusion.demo import ComparisonDemo, attacked_prompt
from tests.launch import REPO


APP = REPO / "examples" / "diffusion" / "app.py"
PREFIXES = {
    "original": {"a red circle": "rose"},
    "ESD": {"a red circle": "fire", "a red square": "ruby"},
    "SalUn": {"a red circle": "tomato"},
    "AdvUnlearn": {"a red circle": "cherry"},
}


@pytest.fixture(scope="module")
def demo_dir(shapes_world, tmp_path_factory):
    """A manifest with the world's pipeline and perturbed stand-ins for the erased models (no training needed)."""
    root = tmp_path_factory.mktemp("demo")
    components = load_diffusion_components(shapes_world.pipeline_path)
    g = torch.Generator().manual_seed(0)
    for name, module in (("esd", components.text_encoder), ("advunlearn", components.text_encoder)):
        changed = copy.deepcopy(module)
        with torch.no_grad():
            for p in changed.encoder.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
        changed.save_pretrained(root / name / "text_encoder")
    unet = copy.deepcopy(components.unet)
    with torch.no_grad():
        unet.conv_out.weight.mul_(-1.0)
    unet.save_pretrained(root / "salun" / "unet")
    write_demo_manifest(
        root,
        base=str(shapes_world.pipeline_path),
        models={
            "original": {},
            "ESD": {"text_encoder": "esd/text_encoder"},
            "SalUn": {"unet": "salun/unet"},
            "AdvUnlearn": {"text_encoder": "advunlearn/text_encoder"},
        },
        adversarial=PREFIXES,
        num_inference_steps=4,
        guidance_scale=5.0,
        example_prompts=["a red circle", "a green square"],
    )
    return root


def test_attacked_prompt_uses_the_prefix_found_for_that_prompt_or_the_first():
    assert attacked_prompt("a red square", PREFIXES["ESD"]) == "ruby a red square"
    assert attacked_prompt("a blue circle", PREFIXES["ESD"]) == "fire a blue circle"
    assert attacked_prompt("a blue circle", {}) == "a blue circle"


def test_each_panel_is_that_models_own_sample_from_the_same_noise(demo_dir, shapes_world):
    demo = ComparisonDemo.from_manifest(demo_dir)
    panels = demo.generate("a red circle", attack=True, seed=5)
    assert [c for _, c in panels] == [
        "original: rose a red circle",
        "ESD: fire a red circle",
        "SalUn: tomato a red circle",
        "AdvUnlearn: cherry a red circle",
    ]
    # by hand for two panels: the base pipeline with the attacked prompt, and the SalUn UNet with its own prompt
    c = load_diffusion_components(shapes_world.pipeline_path)
    noise = torch.randn((1, *c.latent_shape), generator=torch.Generator().manual_seed(5))
    salun_unet = type(c.unet).from_pretrained(demo_dir / "salun" / "unet")
    for (image, _), unet, text in (
        (panels[0], c.unet, "rose a red circle"),
        (panels[2], salun_unet, "tomato a red circle"),
    ):
        cond = encode_prompts(c.text_encoder, c.tokenizer, [text])
        uncond = encode_prompts(c.text_encoder, c.tokenizer, [""])
        x, _ = ddim_sample(unet, c.scheduler, cond, uncond, c.latent_shape, 4, 5.0, latents=noise)
        np.testing.assert_array_equal(image, decode_to_images(x, c.vae)[0])
    assert not np.array_equal(panels[0][0], panels[2][0])
    with pytest.raises(ValueError, match="Type a prompt"):
        demo.generate("  ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(demo_dir):
    pytest.importorskip("gradio")
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(APP), "--demo_dir", str(demo_dir), "--server_port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited: {proc.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("app.py did not start listening within 180 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_app_serves_the_package_function_through_gradios_client(app_url, demo_dir):
    from gradio_client import Client
    from PIL import Image

    client = Client(app_url, verbose=False)
    gallery = client.predict("a red circle", True, 3, api_name="/generate")
    expected = ComparisonDemo.from_manifest(demo_dir).gallery("a red circle", True, 3)
    assert [item["caption"] for item in gallery] == [caption for _, caption in expected]
    for item, (image, _) in zip(gallery, expected):
        path = item["image"] if isinstance(item["image"], str) else item["image"]["path"]
        np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), image)  # PNG: lossless
    plain = client.predict("a green square", False, 0, api_name="/generate")
    assert [item["caption"] for item in plain] == [f"{m}: a green square" for m in PREFIXES]


def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(
    not (os.environ.get("HF_UNLEARN_SCREENSHOT") and _chromium()),
    reason="opt-in: set HF_UNLEARN_SCREENSHOT=1 and have chromium on PATH",
)
def test_headless_chromium_screenshot_of_the_page(app_url, tmp_path):
    shot = tmp_path / "app.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
         "--virtual-time-budget=15000", f"--screenshot={shot}", app_url],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (900, 1280)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # a rendered page, not a blank one
    if os.environ.get("HF_UNLEARN_SCREENSHOT_DIR"):
        shutil.copy(shot, os.environ["HF_UNLEARN_SCREENSHOT_DIR"])
