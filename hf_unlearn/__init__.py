# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""hf_unlearn: machine unlearning for the Hugging Face stack.

The public API is imported lazily (as in TRL), so that `import hf_unlearn` and the `hf-unlearn` command start fast:
heavy dependencies (torch, transformers, diffusers) load only when a name that needs them is first used.

Example:
    >>> import hf_unlearn
    >>> hf_unlearn.__version__
    '0.1.0'
"""

import importlib
from typing import TYPE_CHECKING, Any


__version__ = "0.1.0"

# submodule -> public names it defines. Each room adds its own line.
_import_structure: dict[str, list[str]] = {
    "data": [
        "TOFU_SPLITS",
        "QATemplate",
        "get_template",
        "load_tofu",
        "tokenize_qa",
    ],
}

if TYPE_CHECKING:  # pragma: no cover
    from .data import TOFU_SPLITS, QATemplate, get_template, load_tofu, tokenize_qa

_name_to_module = {name: module for module, names in _import_structure.items() for name in names}

# Keep in sync with `_import_structure` (a test checks it).
__all__ = [
    "TOFU_SPLITS",
    "QATemplate",
    "__version__",
    "get_template",
    "load_tofu",
    "tokenize_qa",
]


def __getattr__(name: str) -> Any:
    if name in _name_to_module:
        module = importlib.import_module(f".{_name_to_module[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hf_unlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
