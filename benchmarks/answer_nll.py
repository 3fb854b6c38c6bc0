# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Mean per-token answer NLL of models on a mini-TOFU world's forget10 and retain90 sets (first 64 rows of each).

The same measure `examples/lora_unlearn.py` prints before and after unlearning, for any saved model, so that LoRA and
full-weight unlearning can be compared with the world's target and retain models:

    python benchmarks/answer_nll.py target retain90 outputs/lora/merged outputs/simnpo/model --preset default

Models are world model names or folders. Prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import json


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="World model names (target, retain90, ...) or model folders.")
    parser.add_argument("--preset", default="default", help="Offline world preset ('test', 'default', 'tofu').")
    parser.add_argument("--rows", type=int, default=64, help="Rows of each set to score (the script's 64).")
    return parser.parse_args(input_args)


def main(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hf_unlearn import sequence_log_probs
    from hf_unlearn.data import ForgetRetainCollator, build_forget_retain_dataset, load_tofu
    from hf_unlearn.sources import check_model_source
    from hf_unlearn.synthetic import build_tofu_world

    world = build_tofu_world(args.preset, progress=True)
    paths = {name: str(world.model_path(name)) if name in world.model_names else name for name in args.models}
    for name, path in paths.items():
        check_model_source(path, name)
    tokenizer = AutoTokenizer.from_pretrained(world.model_path("target"))
    data = build_forget_retain_dataset(
        tokenizer, load_tofu(str(world.path), "forget10"), load_tofu(str(world.path), "retain90"), world.template
    )
    collate = ForgetRetainCollator(tokenizer.pad_token_id)
    results = {}
    for name, path in paths.items():
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        results[name] = {}
        for split, rows in (("forget_nll", data.forget), ("retain_nll", data.retain)):
            batch = collate([{"forget": r} for r in rows[: args.rows]])["forget"]
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            log_probs, num_tokens = sequence_log_probs(logits, batch["labels"])
            results[name][split] = float((-log_probs / num_tokens).mean())
        print(json.dumps({"model": name, **results[name]}))
    return results


if __name__ == "__main__":
    main(parse_args())
