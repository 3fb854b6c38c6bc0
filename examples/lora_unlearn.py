# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearn your own question-answer data from your own model with a LoRA adapter (SimNPO or NPO).

Forget and retain sets are JSON / JSONL files of `{"question": ..., "answer": ...}` rows (or a TOFU-format dataset
with `--dataset` and `--forget_split`). The base weights stay frozen; the adapter is saved to `OUTPUT_DIR/adapter`
and, with `--merge`, merged into a plain model in `OUTPUT_DIR/merged`. With NPO the reference model is the base with
the adapter disabled, so no second copy of the model is loaded.

    accelerate launch examples/lora_unlearn.py --model my-org/my-chat-model \\
        --forget_file forget.jsonl --retain_file retain.jsonl --method simnpo --merge --output_dir my-unlearned

Without `--model` it runs on the offline mini-TOFU world (its target model, forget10 and retain90). The script
prints the mean answer NLL on the forget and retain sets before and after (forget should rise; retain should stay
well below it).
Run `python examples/lora_unlearn.py --help` for every option. The job lives in `hf_unlearn/scripts/lora_unlearn.py`.
"""

from hf_unlearn.scripts.lora_unlearn import main, parse_args


if __name__ == "__main__":
    script_args, training_args = parse_args()
    main(script_args, training_args)
