"""The package's public surface: lazy exports, a lean CLI start-up, the CPU-torch install constraint."""

import subprocess
import sys
from pathlib import Path

import hf_unlearn


ROOT = Path(__file__).resolve().parents[1]


def test_all_matches_lazy_import_structure():
    lazy = {name for names in hf_unlearn._import_structure.values() for name in names}
    assert set(hf_unlearn.__all__) == lazy | {"__version__"}
    assert len(hf_unlearn.__all__) == len(set(hf_unlearn.__all__))


def test_every_public_name_resolves():
    for name in hf_unlearn.__all__:
        assert getattr(hf_unlearn, name) is not None, name


def test_cli_help_does_not_import_torch():
    code = "import sys, hf_unlearn.cli as c; c.build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_constraints_pin_the_cpu_torch_that_readme_installs():
    constraints = (ROOT / "constraints.txt").read_text()
    assert "torch==" in constraints
    assert "-c constraints.txt" in (ROOT / "README.md").read_text()
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()
