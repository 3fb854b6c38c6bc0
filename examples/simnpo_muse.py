# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearn MUSE's forget corpus with SimNPO, evaluate target / retain / unlearned models, and report.

With no arguments it runs offline on the mini-MUSE world (synthetic news, built on first use and cached; later runs
reuse it):

    accelerate launch examples/simnpo_muse.py
    python examples/simnpo_muse.py --method npo --output_dir npo_muse      # the same job with NPO

The real benchmark (GPU, Hub access), with MUSE-News' SimNPO settings from the Unlearn-Simple README:

    accelerate launch --config_file examples/accelerate_configs/deepspeed_zero3.yaml examples/simnpo_muse.py \\
        --dataset muse-bench/MUSE-News --model muse-bench/MUSE-News_target \\
        --retain_auc 0.5228 --beta 0.7 --gamma 0.0 --retain_weight 0.1 \\
        --learning_rate 1e-5 --lr_scheduler_type constant --per_device_train_batch_size 4 --bf16 \\
        --output_dir simnpo-muse-news

Outputs in `--output_dir`: `model/`, `results.json` (VerbMem, KnowMem, PrivLeak, extraction strength and MIA AUCs of
each model, open-unlearning key names), `results.md` (MUSE's table) and `eval_<model>.json` (per item). Run
`python examples/simnpo_muse.py --help` for every option.
"""

from hf_unlearn.scripts.muse import main, parse_args


if __name__ == "__main__":
    main(*parse_args())
