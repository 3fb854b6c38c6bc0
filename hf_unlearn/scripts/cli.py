# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""`hf-unlearn train METHOD [OPTIONS]`: the TOFU unlearning job of [`~hf_unlearn.scripts.unlearn_tofu`].

Same options, defaults and outputs as `examples/simnpo_tofu.py`; `hf-unlearn train METHOD --help` lists them (it
imports the method's config, so it takes a few seconds; `hf-unlearn --help` does not import torch).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="hf-unlearn")
    >>> register_cli(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["train", "npo", "--preset", "test", "--beta", "0.2"])
    >>> args.method, args.options
    ('npo', ['--preset', 'test', '--beta', '0.2'])
"""

from __future__ import annotations

import argparse
from typing import Any

from .methods import METHODS


def run_train(args: argparse.Namespace) -> int:
    """Handler of `hf-unlearn train`: parses the method's options and runs [`~hf_unlearn.scripts.unlearn_tofu.main`]."""
    from .unlearn_tofu import main, make_parser, parse_args

    if any(option in ("-h", "--help") for option in args.options):
        parser = make_parser(args.method)
        parser.prog = f"hf-unlearn train {args.method}"
        parser.print_help()
        return 0
    main(*parse_args(args.options, method=args.method), method=args.method)
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds `train` to the `hf-unlearn` sub-commands."""
    train = subparsers.add_parser(
        "train",
        help="Unlearn a TOFU forget split with a method, evaluate and report (as examples/simnpo_tofu.py).",
        description="Unlearn a TOFU forget split with METHOD, evaluate the target / retain / unlearned models and "
        "report: the job of examples/simnpo_tofu.py. Offline by default (the mini-TOFU world). Several processes: "
        "`accelerate launch -m hf_unlearn.cli train METHOD ...`.",
    )
    train.add_argument("method", choices=sorted(METHODS), help="The unlearning method.")
    train.add_argument(
        "options", nargs=argparse.REMAINDER, help="The job's options; `hf-unlearn train METHOD --help` lists them."
    )
    train.set_defaults(func=run_train)
