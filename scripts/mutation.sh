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
# Every mutant of the configured modules except those of evaluate_tofu and generate_greedy (about 360 mutants whose
# tests each run a model end to end: they alone would double the run; `MUTANTS='*' bash scripts/mutation.sh` runs
# everything). The per-item wiring of evaluate_tofu is checked by tests/test_values_eval.py all the same.
read -r -a patterns <<< "${MUTANTS:-hf_unlearn.logprobs.* hf_unlearn.trainer.* hf_unlearn.saliency.* hf_unlearn.diffusion.* hf_unlearn.vision.* hf_unlearn.eval.tofu.x_[!e]* hf_unlearn.eval.scoring.x_[!g]*}"
nice -n 10 mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${patterns[@]}"
echo "mutmut run: $(( $(date +%s) - start )) s"
mkdir -p mutation
python scripts/mutation_summary.py --json mutation/counts.json
