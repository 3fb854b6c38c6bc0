"""The package's public surface: lazy exports, a lean CLI start-up, the CPU-torch install constraint."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hf_unlearn


ROOT = Path(__file__).resolve().parents[1]


def test_all_matches_lazy_import_structure():
    lazy = {name for names in hf_unlearn._import_structure.values() for name in names}
    assert set(hf_unlearn.__all__) == lazy | {"__version__"}
    assert len(hf_unlearn.__all__) == len(set(hf_unlearn.__all__))


def test_type_checking_imports_match_the_table():
    """The static imports for type checkers name exactly the table's names, each from its table module."""
    tree = ast.parse((ROOT / "hf_unlearn" / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    static = {
        node.module: sorted(alias.name for alias in node.names)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
    }
    assert static == {module: sorted(names) for module, names in hf_unlearn._import_structure.items()}


def test_world_internals_stay_out_of_the_top_level():
    for name in ("TofuWorld", "ShapesWorld", "build_tokenizer", "tiny_llama_config"):
        assert name not in hf_unlearn.__all__ and not hasattr(hf_unlearn, name), name
    assert {"build_tofu_world", "build_forget_retain_dataset", "ForgetRetainDataset"} <= set(hf_unlearn.__all__)


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


def test_plots_without_matplotlib_say_how_to_install(monkeypatch):
    from hf_unlearn.plotting import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed: `import matplotlib` fails
    with pytest.raises(ImportError, match=r"hf-unlearn\[plot\]"):
        pyplot()
