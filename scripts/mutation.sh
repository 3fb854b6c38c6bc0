#!/usr/bin/env bash
# Mutation testing of the modules whose bugs give silent wrong answers (see [tool.mutmut] in pyproject.toml).
#
#   pip install -c constraints.txt -e ".[dev]"     # the `mutation` extra brings mutmut 3.x
#   bash scripts/mutation.sh                        # ~20-30 min on two cores; results in mutants/
#
# Prints mutants / killed / survived per module (scripts/mutation_summary.py) and writes mutation/counts.json.
# Surviving mutants either get a test or a one-line reason in mutation/survivors.md. `mutmut results` lists the
# survivors, `mutmut show NAME` shows one. mutmut resumes where it stopped; delete mutants/ for a fresh run.
# Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$(date +%s)
nice -n 10 mutmut run --max-children "${MUTMUT_CHILDREN:-2}"
echo "mutmut run: $(( $(date +%s) - start )) s"
mkdir -p mutation
python scripts/mutation_summary.py --json mutation/counts.json
