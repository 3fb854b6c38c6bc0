# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""TOFU metrics as an `evaluate` module, loadable by path (Hub metric scripts cannot be fetched offline).

It shares one implementation with `hf_unlearn.eval.evaluate_tofu` and `hf-unlearn eval tofu`: `compute()` calls
`hf_unlearn.eval.tofu.tofu_set_metrics`. The model calls (scoring and generation) stay outside, as with any
`evaluate` metric: pass the per-item numbers, e.g. the `per_item` lists of an `evaluate_tofu` result, or NLLs from
`hf_unlearn.eval.scoring.score_sequences`.

The config name is the evaluation set: `"forget"` (the default), `"retain"`, `"real_authors"` or `"world_facts"`.
"""

import datasets
import evaluate

from hf_unlearn.eval.tofu import EVAL_SETS, OPTION_SETS, TRUTH_RATIO_DEFINITION, forget_quality, tofu_set_metrics


_CITATION = """\
@article{maini2024tofu,
  title={TOFU: A Task of Fictitious Unlearning for LLMs},
  author={Maini, Pratyush and Feng, Zhili and Schwarzschild, Avi and Lipton, Zachary C. and Kolter, J. Zico},
  journal={arXiv preprint arXiv:2401.06121},
  year={2024}
}
"""

_DESCRIPTION = (
    """\
TOFU unlearning metrics of one evaluation set: answer probability (on real_authors/world_facts the normalised
probability among the true and perturbed options), ROUGE-L recall of greedy generations (rouge_score, stemmer on),
the truth ratio per item and its reported aggregate (forget: mean(min(R, 1/R)); other sets: mean(max(0, 1 - R))),
the set's utility (harmonic mean of its three numbers), and, on the forget set with `retain_truth_ratios`, forget
quality (two-sided KS-test p-value, with the KS statistic). Truth ratio: """
    + TRUTH_RATIO_DEFINITION
)

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): Greedy generations, one per item.
    references (`list[str]`): The true answers.
    answer_nll (`list[float]`): Mean token NLL of each true answer given its question.
    paraphrased_nll (`list[float]`): Mean token NLL of each paraphrased answer (configs "forget" and "retain" only).
    perturbed_nll (`list[list[float]]`): Mean token NLL of each perturbed answer.
    retain_truth_ratios (`list[float]`, *optional*): A retain model's per-item forget truth ratios (config "forget"
        only; e.g. the `per_item_truth_ratio` of its own compute() result); adds `forget_quality` and
        `ks_statistic`.
Returns:
    `num_items`, `probability`, `rouge_l_recall`, `truth_ratio` (the reported aggregate), `truth_ratio_mean_raw`,
    `per_item_truth_ratio`; `utility` on retain/real_authors/world_facts; `forget_quality` and `ks_statistic` when
    `retain_truth_ratios` is given.
Example:
    >>> import evaluate
    >>> tofu = evaluate.load("path/to/hf_unlearn/eval/metrics/tofu", "world_facts")  # doctest: +SKIP
    >>> tofu.compute(predictions=["Paris"], references=["Paris"], answer_nll=[0.1],
    ...              perturbed_nll=[[2.0, 3.0]])["rouge_l_recall"]  # doctest: +SKIP
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Tofu(evaluate.Metric):
    """TOFU metrics of one evaluation set (the config name)."""

    def _eval_set(self) -> str:
        name = "forget" if self.config_name in (None, "default") else self.config_name
        if name not in EVAL_SETS:
            raise ValueError(f"config name must be one of {EVAL_SETS} (the evaluation set), got {name!r}.")
        return name

    def _info(self):
        features = {
            "predictions": datasets.Value("string"),
            "references": datasets.Value("string"),
            "answer_nll": datasets.Value("float64"),
            "perturbed_nll": datasets.Sequence(datasets.Value("float64")),
        }
        if self._eval_set() not in OPTION_SETS:
            features["paraphrased_nll"] = datasets.Value("float64")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(features),
            homepage="https://locuslab.github.io/tofu/",
            codebase_urls=["https://github.com/locuslab/open-unlearning"],
            reference_urls=["https://huggingface.co/papers/2401.06121"],
        )

    def _compute(
        self,
        predictions,
        references,
        answer_nll,
        perturbed_nll,
        paraphrased_nll=None,
        retain_truth_ratios=None,
    ):
        eval_set = self._eval_set()
        aggregates, per_item = tofu_set_metrics(
            eval_set,
            answer_nll,
            perturbed_nll,
            nll_paraphrased=paraphrased_nll,
            generations=predictions,
            references=references,
        )
        result = dict(aggregates)
        result["per_item_truth_ratio"] = per_item["truth_ratio"]
        if retain_truth_ratios is not None:
            if eval_set != "forget":
                raise ValueError("retain_truth_ratios (forget quality) only applies to the 'forget' config.")
            result.update(forget_quality(per_item["truth_ratio"], retain_truth_ratios))
        return result
