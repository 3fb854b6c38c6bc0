# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearn a TOFU forget split with SimNPO, evaluate target / retain / unlearned models, and report.

With no arguments it runs offline on the mini-TOFU world (built on first use and cached, ~3-5 min on 2 cores; later
runs reuse it) and takes about a minute:

    accelerate launch examples/simnpo_tofu.py
    accelerate launch --multi_gpu --num_processes 2 examples/simnpo_tofu.py   # 2-process DDP, also on CPU

The real benchmark (GPU, Hub access), with the paper's TOFU forget10 hyperparameters as the config defaults:

    accelerate launch --config_file examples/accelerate_configs/deepspeed_zero3.yaml examples/simnpo_tofu.py \\
        --dataset locuslab/TOFU --forget_split forget10 \\
        --model open-unlearning/tofu_Llama-3.2-1B-Instruct_full \\
        --retain_results open-unlearning/tofu_Llama-3.2-1B-Instruct_retain90 \\
        --per_device_train_batch_size 4 --gradient_accumulation_steps 4 --bf16 --output_dir simnpo-tofu-llama

Outputs in `--output_dir`: `model/` (the unlearned model with its model card), `results.json`
(`{"target": {...}, "retain": {...}, "unlearned": {...}}`, each with `forget_quality` and `model_utility`, plus the
evaluation trajectory), `results.md` (table), `tradeoff.png` (forget quality vs model utility over training) and the
full per-item evaluations `eval_<model>.json` (reusable as `--retain_results`). `--push_to_hub --hub_model_id
user/name` uploads `model/`. Run `python examples/simnpo_tofu.py --help` for every option.

The job itself lives in the package (`hf_unlearn/scripts/unlearn_tofu.py`), so `hf-unlearn train simnpo ...` runs
the same code; another registered method is one argument away (`npo_tofu.py`, `hf-unlearn train ga`).
"""

from hf_unlearn.scripts.unlearn_tofu import main, parse_args


if __name__ == "__main__":
    script_args, training_args = parse_args(method="simnpo")
    main(script_args, training_args, method="simnpo")
