# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Step time and peak memory of SimNPO vs NPO with its three reference models, side by side in one run.

Every configuration runs in its own subprocess (so peak memory is its own) on the same randomly initialised
~110M-parameter Llama (speed and memory do not need trained weights) and the same random batches:

- `simnpo`            full fine-tuning, no reference model
- `npo_copy`          full fine-tuning, frozen copy of the model as reference (the reference codes' way)
- `npo_precomputed`   full fine-tuning, reference log-probs computed once, no reference model held
- `npo_lora_copy`     LoRA policy with a full frozen copy of the base as reference
- `npo_lora_adapter`  LoRA policy, reference = the same base with the adapter disabled (no copy)

Peak memory, two columns:

- `peak tensor memory`: the peak of live tensor bytes - the weights, gradients, optimizer states and activations
  the method needs. On GPU `torch.cuda.max_memory_allocated`. On CPU its analogue: a second subprocess per
  configuration repeats the same run under `torch.profiler.profile(profile_memory=True)`, started before the model
  (and any reference copy) is created and stopped after `trainer.train()`; every CPU allocation and free is a
  `[memory]` event with a signed byte count, and the peak of their running sum in time order is the peak of live
  tensor memory (`_profiled_peak_mb`; a 100 MB tensor plus a freed 50 MB temporary reads 150 MB). Like
  `max_memory_allocated` it leaves out allocator caches and the Python/runtime heap. Timing comes from
  the unprofiled subprocess, so the profiler's per-op overhead never enters the step times.
- `peak RSS` (CPU only): peak resident set size (`ru_maxrss`) minus the resident size after imports, in the
  unprofiled subprocess. It also counts allocator caches and runtime overhead (a few hundred MB), so its ratios sit
  closer to 1 than the tensor-memory ratios.

Step time: median over the timed optimizer steps (after one warm-up step) of the process's CPU time on CPU
(`time.process_time`: with one thread it is the work done, unaffected by other load on a shared machine; wall-clock
is reported beside it) and of wall-clock time on GPU.

    python benchmarks/bench_llm_unlearn.py                       # CPU: a few steps, short sequences (~2-5 min)
    python benchmarks/bench_llm_unlearn.py --steps 10 --seq_len 256 --batch_size 8 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


MODES = ("simnpo", "npo_copy", "npo_precomputed", "npo_lora_copy", "npo_lora_adapter")


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="Configurations to run.")
    parser.add_argument("--steps", type=int, default=4, help="Timed optimizer steps (after 1 warm-up step).")
    parser.add_argument("--batch_size", type=int, default=2, help="Forget (and retain) sequences per step.")
    parser.add_argument("--seq_len", type=int, default=32, help="Tokens per sequence (half prompt, half answer).")
    parser.add_argument("--hidden_size", type=int, default=768, help="Llama hidden size (768/12 layers ~ 110M).")
    parser.add_argument("--num_layers", type=int, default=12, help="Llama layers.")
    parser.add_argument("--vocab_size", type=int, default=32000, help="Vocabulary size.")
    parser.add_argument(
        "--no_retain", action="store_true", help="Forget term only (retain_weight=0) for every configuration."
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="Where to run.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process on CPU.")
    parser.add_argument("--output_file", default=None, help="Also write the results as JSON here.")
    parser.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_profile_memory", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(input_args)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _profiled_peak_mb(fn) -> tuple[object, float]:
    """Runs `fn()` under the CPU memory profiler; returns its result and the peak of live CPU tensor memory (MiB).

    Only allocations made while profiling are counted (frees of older tensors carry no size), so start it before
    anything you want included is created.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=False) as prof:
        result = fn()
    events = [
        e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]" and e.device_type().name == "CPU"
    ]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        live += e.nbytes()
        peak = max(peak, live)
    return result, peak / 2**20


def worker(args: argparse.Namespace) -> dict:
    import resource

    import torch

    torch.set_num_threads(args.threads)
    import peft  # noqa: F401  (imported before the memory baseline, like everything else)
    from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback
    from transformers.utils import logging

    from hf_unlearn import NPOConfig, NPOTrainer, SimNPOConfig, SimNPOTrainer
    from hf_unlearn.data import ForgetRetainDataset
    from hf_unlearn.trainer import npo_trainer, simnpo_trainer  # noqa: F401

    logging.set_verbosity_error()
    cuda = args.device == "cuda"
    base_rss = _rss_kb()
    mode = args._worker

    def run():
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            intermediate_size=args.hidden_size * 8 // 3 // 64 * 64,
            num_hidden_layers=args.num_layers,
            num_attention_heads=args.hidden_size // 64,
            num_key_value_heads=args.hidden_size // 64,
            max_position_embeddings=max(128, args.seq_len),
            pad_token_id=0,
            tie_word_embeddings=True,
        )
        model = LlamaForCausalLM(config)
        n_params = sum(p.numel() for p in model.parameters())
        g = torch.Generator().manual_seed(1)
        n_rows = args.batch_size * (args.steps + 1)
        half = args.seq_len // 2

        def rows(n):
            out = []
            for _ in range(n):
                ids = torch.randint(3, args.vocab_size, (args.seq_len,), generator=g).tolist()
                out.append({"input_ids": ids, "labels": [-100] * half + ids[half:]})
            return out

        data = ForgetRetainDataset(rows(n_rows), rows(n_rows), seed=0)
        common = {
            "output_dir": tempfile.mkdtemp(),
            "per_device_train_batch_size": args.batch_size,
            "max_steps": args.steps + 1,
            "learning_rate": 1e-5,
            "warmup_steps": 0,
            "logging_steps": 10_000,
            "disable_tqdm": True,
            "use_cpu": not cuda,
            "report_to": "none",
            "dataloader_pin_memory": False,
        }
        if args.no_retain:
            common["retain_weight"] = 0.0
        kwargs: dict = {}
        if mode == "simnpo":
            trainer_cls, cfg = SimNPOTrainer, SimNPOConfig(**common)
        else:
            trainer_cls = NPOTrainer
            cfg = NPOConfig(**common, precompute_ref_log_probs=mode == "npo_precomputed")
            if mode.startswith("npo_lora"):
                import copy

                from peft import LoraConfig

                kwargs["peft_config"] = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear")
                if mode == "npo_lora_copy":
                    kwargs["ref_model"] = copy.deepcopy(model)
        if cuda:
            model = model.cuda()
            torch.cuda.reset_peak_memory_stats()

        times: list[float] = []
        wall: list[float] = []

        class Timer(TrainerCallback):
            def on_step_begin(self, a, state, control, **kw):
                if cuda:
                    torch.cuda.synchronize()
                self.t, self.c = time.perf_counter(), time.process_time()

            def on_step_end(self, a, state, control, **kw):
                if cuda:
                    torch.cuda.synchronize()
                wall.append(time.perf_counter() - self.t)
                times.append(wall[-1] if cuda else time.process_time() - self.c)

        trainer = trainer_cls(model, cfg, train_dataset=data, callbacks=[Timer()], **kwargs)
        trainer.train()
        return trainer, n_params, times, wall

    if args._profile_memory:
        _, peak_mb = _profiled_peak_mb(run)
        return {"mode": mode, "tensor_peak_mb": peak_mb}
    trainer, n_params, times, wall = run()
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024
    return {
        "mode": mode,
        "params_m": n_params / 1e6,
        "step_s": statistics.median(times[1:]) if len(times) > 1 else times[0],
        "step_wall_s": statistics.median(wall[1:]) if len(wall) > 1 else wall[0],
        # on CPU filled in from the profiled subprocess (`--_profile_memory`)
        "tensor_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "rss_peak_mb": None if cuda else rss_mb,
        "ref_mode": trainer.ref_mode,
        "holds_ref_model": trainer.ref_model is not None,
    }


def main(args: argparse.Namespace) -> dict:
    if args._worker:
        result = worker(args)
        with open(args._result, "w") as f:
            json.dump(result, f)
        return result
    from tqdm.auto import tqdm

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env.get("PYTHONPATH", "")]
    )
    results = {}
    passthrough = ["--steps", str(args.steps), "--batch_size", str(args.batch_size), "--seq_len", str(args.seq_len)]
    passthrough += ["--hidden_size", str(args.hidden_size), "--num_layers", str(args.num_layers)]
    passthrough += ["--vocab_size", str(args.vocab_size), "--device", args.device, "--threads", str(args.threads)]
    passthrough += ["--no_retain"] if args.no_retain else []

    def run_worker(mode: str, *extra: str) -> dict:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            path = tmp.name
        cmd = [sys.executable, os.path.abspath(__file__), *passthrough, "--_worker", mode, "--_result", path, *extra]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{mode} failed:\n{proc.stderr[-3000:]}")
        with open(path) as f:
            result = json.load(f)
        os.unlink(path)
        return result

    for mode in tqdm(args.modes, desc="configurations"):
        results[mode] = run_worker(mode)
        if args.device == "cpu":  # tensor-memory peak from a second, profiled run (its timing is not used)
            results[mode]["tensor_peak_mb"] = run_worker(mode, "--_profile_memory")["tensor_peak_mb"]

    params = next(iter(results.values()))["params_m"]
    print(
        f"\nLlama {params:.0f}M params, batch {args.batch_size} forget"
        f"{'' if args.no_retain else f' + {args.batch_size} retain'} x {args.seq_len} "
        f"tokens, {args.steps} timed steps, device {args.device} ({args.threads} thread(s))\n"
    )
    clock = "CPU s" if args.device == "cpu" else "s"
    print(f"| configuration | reference | step ({clock}) | step (wall s) | peak tensor memory (MB) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        ref = (r["ref_mode"] or "none") + (" (model held)" if r["holds_ref_model"] else "")
        rss = "-" if r["rss_peak_mb"] is None else f"{r['rss_peak_mb']:.0f}"
        print(f"| {mode} | {ref} | {r['step_s']:.3f} | {r['step_wall_s']:.3f} | {r['tensor_peak_mb']:.0f} | {rss} |")
    ratios = {}

    def ratio(name, a, b, key, target):
        if a in results and b in results and results[a][key] is not None and results[b][key] is not None:
            value = results[a][key] / results[b][key]
            ratios[name] = value
            verdict = "meets" if value <= target else "misses"
            print(f"- {name}: {value:.3f}x ({verdict} the <= {target}x target)")

    print("\nRatios:")
    ratio("step time SimNPO / NPO (copied reference)", "simnpo", "npo_copy", "step_s", 0.8)
    ratio("step time NPO precomputed / NPO (copied reference)", "npo_precomputed", "npo_copy", "step_s", 0.8)
    memory_pairs = [
        ("NPO precomputed / NPO (copied reference), full fine-tuning", "npo_precomputed", "npo_copy"),
        ("NPO adapter-off / NPO (copied reference), LoRA", "npo_lora_adapter", "npo_lora_copy"),
        ("SimNPO / NPO (copied reference), full fine-tuning", "simnpo", "npo_copy"),
    ]
    for key, label in (("tensor_peak_mb", "tensor memory"), ("rss_peak_mb", "RSS")):
        for name, a, b in memory_pairs:
            ratio(f"{label} {name}", a, b, key, 0.6)
    out = {
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "results": results,
        "ratios": ratios,
    }
    if args.output_file:
        with open(args.output_file, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main(parse_args())
