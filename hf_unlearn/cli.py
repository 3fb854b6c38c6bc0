# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The `hf-unlearn` command.

Each room registers its sub-commands through a `register_cli(subparsers)` function, named here as a lazy
`"module:function"` string so that `hf-unlearn --help` does not import torch. Commands:

- `hf-unlearn build-world tofu --output_dir DIR`: build the offline mini-TOFU world (data, tokenizer, models).
- `hf-unlearn eval tofu --model M --retain_model R --data DIR --forget_split forget10 --output_file F.json`.
- `hf-unlearn train METHOD [OPTIONS]`: unlearn a TOFU forget split with a registered method (simnpo, npo, graddiff,
  ga), evaluate and report, as `examples/simnpo_tofu.py` (`hf-unlearn train simnpo --help`).
- `hf-unlearn robustness --model M --relearn_steps 0,10,25,50 --quant_bits 8,4 --output_dir D`: relearning and
  quantisation attacks on a TOFU forget split, as `examples/robustness.py`.

Example:
    >>> from hf_unlearn.cli import build_parser
    >>> "build-world" in build_parser().format_help()
    True
"""

import argparse
import importlib
import sys
from collections.abc import Sequence


# Each entry: module path and the function that adds its sub-commands to the given `subparsers`.
_REGISTRARS: list[str] = [
    "hf_unlearn.synthetic.cli:register_cli",
    "hf_unlearn.eval.cli:register_cli",
    "hf_unlearn.scripts.cli:register_cli",
    "hf_unlearn.scripts.robustness:register_cli",
]


def build_parser() -> argparse.ArgumentParser:
    """Builds the top-level parser with every room's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="hf-unlearn",
        description="Machine unlearning for the Hugging Face stack. Run `hf-unlearn COMMAND --help` for details.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for target in _REGISTRARS:
        module_name, func_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:  # a room that is not installed (e.g. an optional extra)
            if err.name and module_name.startswith(err.name):
                continue
            raise
        getattr(module, func_name)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hf-unlearn` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"hf-unlearn: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
