# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Is it forgotten or hidden? Relearning and quantisation attacks on a TOFU forget split (or the MUSE forget set).

Re-evaluates the TOFU forget metrics (open-unlearning's names: forget_Q_A_Prob, forget_Q_A_ROUGE, forget_truth_ratio,
forget_quality) of a model after N steps of fine-tuning on a seeded sample of the forget set, and after
round-to-nearest weight quantisation, beside the target and retain models (the two ends of the scale). Offline by
default (the mini-TOFU world, built on first use and cached):

    python examples/robustness.py --model outputs/simnpo_tofu/RUN/model --forget_split forget10 \\
        --relearn_steps 0,10,25,50 --quant_bits 8,4 --output_dir robustness-simnpo

The same on the mini-MUSE world (relearning on the forget articles; VerbMem, KnowMem, PrivLeak, extraction strength):

    python examples/robustness.py --benchmark muse --model outputs/simnpo_muse/RUN/model --relearn_steps 0,10,25 \
        --output_dir robustness-muse

Outputs in `--output_dir`: `robustness.json`, `robustness.md` (table) and `robustness.png` (the curves). Run
`python examples/robustness.py --help` for every option; `hf-unlearn robustness ...` runs the same code
(`hf_unlearn/scripts/robustness.py`).
"""

from hf_unlearn.scripts.robustness import main, parse_args


if __name__ == "__main__":
    main(parse_args())
