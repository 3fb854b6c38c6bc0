#!/usr/bin/env bash
# Mutation testing of the modules whose bugs give silent wrong answers (see [tool.mutmut] in pyproject.toml).
#
#   pip install -c constraints.txt -e ".[dev]"     # the `mutation` extra brings mutmut 3.x
#   bash scripts/mutation.sh                        # every configured module, one run (time: mutation/README.md)
#   bash scripts/mutation.sh eval/mia.py worstcase  # only these modules' mutants (a file or a folder of hf_unlearn/)
#
# Prints mutants / killed / survived per module (scripts/mutation_summary.py) and writes mutants/last_run.json
# (mutation/counts.json keeps the before -> after record per module).
# Surviving mutants either get a test or a one-line reason in mutation/survivors.md. `mutmut results` lists the
# survivors, `mutmut show NAME` shows one. Every mutant of the named modules is run again, whatever its last result;
# after adding tests, `SURVIVORS=1 bash scripts/mutation.sh MODULE...` reruns only the mutants that survived (or had
# no tests) last time: a killed mutant cannot come back. Not part of .ci/run.
#
# Left out of every run: the mutants of evaluate_tofu, generate_greedy and evaluate_muse, whose tests each run a
# model end to end (with them one run takes hours on two cores); their wiring is checked end to end by
# tests/test_values_eval.py and tests/test_muse.py all the same. `MUTANTS='hf_unlearn.eval.tofu.*'` overrides the
# patterns with mutmut's own.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# module -> mutmut name pattern (mutant names are hf_unlearn.<module>.x_<function>__mutmut_<n>)
declare -A SCOPE=(
    [logprobs.py]="hf_unlearn.logprobs.*"
    [trainer/losses.py]="hf_unlearn.trainer.losses.*"
    [eval/tofu.py]="hf_unlearn.eval.tofu.x_[!e]*"
    [eval/scoring.py]="hf_unlearn.eval.scoring.x_[!g]*"
    [eval/mia.py]="hf_unlearn.eval.mia.*"
    [eval/muse.py]="hf_unlearn.eval.muse.x_[!e]* hf_unlearn.eval.muse.x_extraction_*"
    [eval/quantize.py]="hf_unlearn.eval.quantize.*"
    [saliency/mask.py]="hf_unlearn.saliency.mask.*"
    [saliency/guard.py]="hf_unlearn.saliency.guard.*"
    [vision/metrics.py]="hf_unlearn.vision.metrics.*"
    [diffusion/losses.py]="hf_unlearn.diffusion.losses.*"
    [worstcase/projection.py]="hf_unlearn.worstcase.projection.*"
    [worstcase/selection.py]="hf_unlearn.worstcase.selection.*"
    [worstcase/baselines.py]="hf_unlearn.worstcase.baselines.*"
)

patterns=()
if [[ -n "${MUTANTS:-}" ]]; then
    read -r -a patterns <<< "$MUTANTS"
else
    modules=("$@")
    [[ ${#modules[@]} -eq 0 ]] && modules=("${!SCOPE[@]}")
    for arg in "${modules[@]}"; do
        arg="${arg#hf_unlearn/}"
        found=0
        for module in "${!SCOPE[@]}"; do
            if [[ "$module" == "$arg" || "$module" == "${arg%/}"/* ]]; then
                read -r -a more <<< "${SCOPE[$module]}"
                patterns+=("${more[@]}")
                found=1
            fi
        done
        if [[ $found -eq 0 ]]; then
            echo "unknown module '$arg'; configured: ${!SCOPE[*]}" >&2
            exit 2
        fi
    done
fi

if [[ "${SURVIVORS:-0}" == 1 ]]; then
    mapfile -t patterns < <(python scripts/mutation_summary.py --survivors "${patterns[@]}")
    if [[ ${#patterns[@]} -eq 0 ]]; then
        echo "no surviving mutants in these modules"
        exit 0
    fi
fi

start=$(date +%s)
nice -n 10 mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${patterns[@]}"
echo "mutmut run: $(( $(date +%s) - start )) s wall"
mkdir -p mutation
python scripts/mutation_summary.py --json mutants/last_run.json
