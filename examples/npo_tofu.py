# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearn a TOFU forget split with NPO (Zhang et al., 2024); the same job, outputs and options as
`simnpo_tofu.py`, with NPO's `beta` and reference model.

Offline mini-TOFU world (default), with a frozen copy of the target as the reference:

    accelerate launch examples/npo_tofu.py

Without a second model in memory: `--precompute_ref_log_probs` (reference log-probs computed once, then released)
or `--use_peft` (LoRA; the reference is the adapter-disabled base). Real benchmark:

    accelerate launch --config_file examples/accelerate_configs/deepspeed_zero3.yaml examples/npo_tofu.py \\
        --dataset locuslab/TOFU --forget_split forget10 --model open-unlearning/tofu_Llama-3.2-1B-Instruct_full \\
        --retain_results open-unlearning/tofu_Llama-3.2-1B-Instruct_retain90 --bf16 --output_dir npo-tofu-llama

Run `python examples/npo_tofu.py --help` for every option. `hf-unlearn train npo ...` runs the same job
(`hf_unlearn/scripts/unlearn_tofu.py`).
"""

from hf_unlearn.scripts.unlearn_tofu import main, parse_args


if __name__ == "__main__":
    script_args, training_args = parse_args(method="npo")
    main(script_args, training_args, method="npo")
