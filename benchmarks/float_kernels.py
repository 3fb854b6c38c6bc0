"""How much the CPU's float kernels change a training run, and how much training amplifies the change.

The same tiny Llama training (AdamW, one thread, fixed seeds) runs once per kernel setting, each in a fresh process:
ATen's vectorised kernels are chosen by `ATEN_CPU_CAPABILITY` (`default`, `avx2`, `avx512`; torch picks the best the
CPU has) and MKL's matrix-multiply code path by `MKL_CBWR` (unset: MKL picks by CPU; `AVX2`: the AVX2 path on any
CPU that has it). Two machines with different instruction sets run different kernels, like two settings here.
Prints the largest logit difference before training and the weight / logit differences after N steps, against the
first setting, and writes them as JSON (`scripts/readme_tables.py` renders the README's table from it).

    python benchmarks/float_kernels.py --steps 200 --output_json float_kernels.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


SETTINGS = {
    "native (torch and MKL choose)": {},
    "native, rerun": {},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "MKL_CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    "ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
}


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="AdamW steps of the tiny Llama (batch 8 x 24 tokens).")
    parser.add_argument("--output_json", default=None, help="Write the table's numbers here.")
    parser.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(input_args)


def _train(steps: int, out: str) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    data = torch.randint(0, 512, (64, 24), generator=g)
    with torch.no_grad():
        first = model(input_ids=data[:8]).logits
    for _ in range(steps):
        idx = torch.randint(0, 64, (8,), generator=g)
        model(input_ids=data[idx], labels=data[idx]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        last = model(input_ids=data[:8]).logits
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save(
        {"first": first, "last": last, "weights": weights, "capability": torch.backends.cpu.get_cpu_capability()}, out
    )


def main(args: argparse.Namespace) -> dict:
    import torch

    if args._worker:
        _train(args.steps, args._worker)
        return {}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for i, (name, env) in enumerate(SETTINGS.items()):
            out = os.path.join(tmp, f"{i}.pt")
            child_env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
            child_env.update(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            cmd = [sys.executable, __file__, "--steps", str(args.steps), "--_worker", out]
            subprocess.run(cmd, env=child_env, check=True)
            runs[name] = torch.load(out)
        ref = runs[next(iter(SETTINGS))]
        for name, run in runs.items():
            diff = (run["weights"] - ref["weights"]).abs()
            rows[name] = {
                "aten_capability": run["capability"],
                "first_logits_max_abs_diff": (run["first"] - ref["first"]).abs().max().item(),
                "weights_mean_abs_diff": diff.mean().item(),
                "weights_fraction_different": (diff > 0).float().mean().item(),
                "final_logits_max_abs_diff": (run["last"] - ref["last"]).abs().max().item(),
            }
    print(json.dumps(rows, indent=2))
    if args.output_json:
        Path(args.output_json).write_text(json.dumps({"steps": args.steps, "settings": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main(parse_args())
