"""Test-session set-up shared by every room.

- One torch thread per process and no Hub access (set before anything imports torch or huggingface_hub).
- Session-scoped fixtures for the offline worlds live in `tests/fixtures/<world>.py` and are loaded as plugins
  below: each world is built once per test session, at test size, and cached on disk (a file lock makes parallel
  pytest-xdist workers share one build).
"""

import os
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

import torch


torch.set_num_threads(1)

_FIXTURES = Path(__file__).parent / "fixtures"
pytest_plugins = sorted(f"tests.fixtures.{p.stem}" for p in _FIXTURES.glob("*.py") if p.stem != "__init__")
