#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""A Gradio demo: one prompt, the original model and its ESD, SalUn and AdvUnlearn versions side by side.

Tick "attack" to give each model the adversarial prompt the discrete (UnlearnDiffAtk-style) attack found *for that
model*: an erased concept that comes back under the attack was hidden, not removed. The generation itself is
`hf_unlearn.diffusion.demo.ComparisonDemo` (importable and tested); this file is only the page.

Offline, on the shapes world (models and adversarial prompts from the comparison benchmark):

    pip install "hf-unlearn[diffusion,demo]"
    python benchmarks/bench_diffusion_methods.py --preset default --seeds 0 --demo_dir out/demo
    python examples/diffusion/app.py --demo_dir out/demo

On a GPU with Hub models, write a `demo.json` (see `hf_unlearn.diffusion.compare.write_demo_manifest`) naming
`CompVis/stable-diffusion-v1-4` as the base and, e.g., `{"path": "OPTML-Group/AdvUnlearn", "subfolder":
"nudity_unlearned"}` as AdvUnlearn's text encoder, and pass its folder as `--demo_dir`.
"""

from __future__ import annotations

import argparse


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo_dir", required=True, help="Folder with demo.json (and the models it names).")
    parser.add_argument("--server_name", default="127.0.0.1", help="Address to serve on (0.0.0.0 for all).")
    parser.add_argument("--server_port", type=int, default=7860, help="Port to serve on.")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu).")
    return parser.parse_args(input_args)


def build_app(demo):
    import gradio as gr

    with gr.Blocks(title="hf_unlearn: concept erasure side by side") as app:
        gr.Markdown(
            "# Concept erasure side by side\nOriginal, ESD, SalUn and AdvUnlearn on one prompt, from the same noise. "
            "**attack** prepends the adversarial prompt found for each model."
        )
        with gr.Row():
            prompt = gr.Textbox(label="prompt", value=(demo.example_prompts or ["a red circle"])[0], scale=3)
            attack = gr.Checkbox(label="attack", value=False)
            seed = gr.Number(label="seed", value=0, precision=0)
        button = gr.Button("generate", variant="primary")
        gallery = gr.Gallery(label="models", columns=len(demo.models), format="png", height="auto")
        if demo.example_prompts:
            gr.Examples([[p] for p in demo.example_prompts], inputs=[prompt])
        button.click(demo.gallery, inputs=[prompt, attack, seed], outputs=gallery, api_name="generate")
        app.load(demo.gallery, inputs=[prompt, attack, seed], outputs=gallery, api_name=False)  # images on first view
    return app


def main(args: argparse.Namespace) -> None:
    from hf_unlearn.diffusion.demo import ComparisonDemo

    demo = ComparisonDemo.from_manifest(args.demo_dir, device=args.device)
    build_app(demo).launch(server_name=args.server_name, server_port=args.server_port)


if __name__ == "__main__":
    main(parse_args())
