"""Value tests for worst-case selection maths (`hf_unlearn.worstcase.selection`, `.projection`, `.baselines`), grouped
by the kinds of issue 16: every option of the loop reaches the computation (checked against one iteration worked out
here from the formulas of the module docstring), and what each baseline and summary is computed on."""

import math

import pytest
import torch

from hf_unlearn.worstcase import WorstCaseConfig, select_forget_set
from hf_unlearn.worstcase.baselines import jaccard, lowest_loss_units, mean_std, random_units
from hf_unlearn.worstcase.projection import project_budget, resolve_budget, top_m, top_m_mask
from hf_unlearn.worstcase.selection import ToyRegressionProblem, upper_step
from tests.test_worstcase import _exact_projection  # projection by breakpoints, no bisection


SCALE = [0.5, 2.0, 0.2, 3.0]


def _one_iteration_by_hand(lower_optimizer, mode, lr, steps, gamma, w_lr):
    """The toy's first upper iteration from w = m / N (m = 1): theta_i starts at 0 and the lower loss is
    mean((1 - 2 w_i) s_i (theta_i - 1)^2), so d/dtheta_i = (2 / N) (1 - 2 w_i) s_i (theta_i - 1) < 0 for w_i < 1/2:
    sign-SGD moves every theta_i up by lr per step; plain SGD gives theta_i - 1 = -(1 - lr c_i)^K, c_i =
    (2 / N)(1 - 2 w_i) s_i. Then l_i = s_i (theta_i - 1)^2 and the raw upper step (step_normalization "none")."""
    n, m = len(SCALE), 1
    w = [m / n] * n
    if lower_optimizer == "sign_sgd":
        theta = [steps * lr] * n
    else:
        theta = [1 - (1 - lr * (2 / n) * (1 - 2 * wi) * s) ** steps for wi, s in zip(w, SCALE)]
    losses = [s * (t - 1) ** 2 for s, t in zip(SCALE, theta)]
    objective = sum(wi * li for wi, li in zip(w, losses)) + gamma * sum(wi * wi for wi in w)
    if mode == "hardest":
        direction = [li + 2 * gamma * wi for li, wi in zip(losses, w)]
    else:
        direction = [-(li - 2 * gamma * wi) for li, wi in zip(losses, w)]
    new_w = _exact_projection([wi - w_lr * d for wi, d in zip(w, direction)], m)
    return losses, objective, new_w


# --------------------------------------------------------------------------------------------------------------
# Kind 1: options at non-default values
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lower_optimizer", ["sign_sgd", "native"])
@pytest.mark.parametrize("mode", ["hardest", "easiest"])
def test_one_selection_iteration_equals_the_formulas(lower_optimizer, mode):
    """lower_optimizer, lower_lr, lower_steps, gamma, w_lr, step_normalization and mode, all at non-default values,
    against the first iteration worked out by hand (the two lower optimisers give different losses here)."""
    lr, steps, gamma, w_lr = 0.1, 2, 0.5, 0.3
    config = WorstCaseConfig(
        budget=1, mode=mode, upper_steps=1, lower_steps=steps, lower_lr=lr, lower_optimizer=lower_optimizer,
        w_lr=w_lr, step_normalization="none", gamma=gamma,
    )  # fmt: skip
    result = select_forget_set(ToyRegressionProblem(torch.tensor(SCALE)), config, progress=False)
    losses, objective, new_w = _one_iteration_by_hand(lower_optimizer, mode, lr, steps, gamma, w_lr)
    assert result.unit_losses_original == pytest.approx(SCALE)  # theta = 0: l_i = s_i
    assert result.weights == pytest.approx(new_w, abs=1e-6)  # the toy's lower level runs in float32
    chosen = max(range(4), key=lambda i: (new_w[i], -i))
    assert result.selected == [chosen]
    (trace,) = result.trace
    assert trace["objective"] == pytest.approx(objective, rel=1e-6)
    assert trace["mean_loss"] == pytest.approx(sum(losses) / 4, rel=1e-6)
    assert trace["topm_loss"] == pytest.approx(losses[chosen], rel=1e-6)
    assert trace["eta"] == w_lr
    assert trace["changed"] == (0 if chosen == 0 else 1)  # uniform start: top-1 is unit 0 (ties to the lower index)
    assert trace["iteration"] == 1
    assert result.initial_selected == []  # only init="random" records a starting set


def test_the_two_lower_optimisers_differ_on_the_toy():
    """Guards the test above: plain SGD (step proportional to the gradient) and sign-SGD give different losses."""
    sign = _one_iteration_by_hand("sign_sgd", "hardest", 0.1, 2, 0.5, 0.3)[0]
    native = _one_iteration_by_hand("native", "hardest", 0.1, 2, 0.5, 0.3)[0]
    assert all(abs(a - b) > 1e-3 for a, b in zip(sign, native))


def test_random_units_default_seed_is_zero_and_m_bounds():
    assert random_units(50, 5) == random_units(50, 5, seed=0) != random_units(50, 5, seed=1)
    assert random_units(3, 1, seed=0) in ([0], [1], [2])
    assert random_units(3, 2, seed=4) == sorted(random_units(3, 2, seed=4))
    for bad in (0, 3, -1):
        with pytest.raises(ValueError, match=r"`m` must be in \[1, 2\]"):
            random_units(3, bad)


# --------------------------------------------------------------------------------------------------------------
# Kind 3: what a baseline or summary is computed on
# --------------------------------------------------------------------------------------------------------------


def test_lowest_loss_units_compare_losses_in_double_precision():
    # 1 + 1e-9 and 1 are equal in float32 (a tie would go to index 0); in float64 unit 1 is lower
    assert lowest_loss_units([1.0 + 1e-9, 1.0, 3.0], 1) == [1]
    assert lowest_loss_units(torch.tensor([0.5, 0.1, 0.1, 0.2], dtype=torch.float64), 3) == [1, 2, 3]


def test_top_m_mask_is_float64():
    mask = top_m_mask(torch.tensor([0.2, 0.9, 0.4]), 2)
    assert mask.dtype == torch.float64 and mask.tolist() == [0.0, 1.0, 1.0]


def test_jaccard_of_two_empty_sets_is_one_and_mean_std_is_the_sample_spread():
    assert jaccard([], []) == 1.0
    assert jaccard([1, 1, 2], [2]) == 0.5  # sets, not lists
    mean, std = mean_std([2.0, 4.0, 9.0])
    assert mean == pytest.approx(5.0)
    assert std == pytest.approx(math.sqrt(((2 - 5) ** 2 + (4 - 5) ** 2 + (9 - 5) ** 2) / 2))  # n - 1
    assert mean_std([7.0]) == [7.0, 0.0]


def test_upper_step_gamma_default_and_value_on_unequal_weights():
    """gamma only shows on unequal weights (2 gamma w is a constant shift on uniform ones, which the projection
    removes). Raw steps (w_lr 0.1) on w = [0.7, 0.3, 0.0], losses [1, 2, 3], budget 1, worked out by hand."""
    w, losses = torch.tensor([0.7, 0.3, 0.0]), torch.tensor([1.0, 2.0, 3.0])
    # default gamma 0: v = w - 0.1 l = [0.6, 0.1, -0.3]; tau = -0.15 -> [0.75, 0.25, 0]
    assert upper_step(w, losses, 1, 0.1, step_normalization="none")[0].tolist() == pytest.approx([0.75, 0.25, 0.0])
    # hardest, gamma 0.5: direction l + w = [1.7, 2.3, 3.0]; v = [0.53, 0.07, -0.3]; tau = -0.2
    hard, _ = upper_step(w, losses, 1, 0.1, gamma=0.5, step_normalization="none")
    assert hard.tolist() == pytest.approx([0.73, 0.27, 0.0])
    # easiest, gamma 0.5: direction -(l - w) = [-0.3, -1.7, -3.0]; v = [0.73, 0.47, 0.3]; tau = 1/6
    easy, _ = upper_step(w, losses, 1, 0.1, gamma=0.5, mode="easiest", step_normalization="none")
    assert easy.tolist() == pytest.approx([0.73 - 1 / 6, 0.47 - 1 / 6, 0.3 - 1 / 6])
    assert hard.dtype == torch.float64 and easy.dtype == torch.float64


def test_upper_step_scale_fallbacks_when_most_losses_tie():
    w = torch.full((5,), 0.2)
    # MAD: more than half tie (|l - median| = [0, 0, 0, 0, 4]): the mean absolute deviation 0.8 is the scale
    _, eta = upper_step(w, torch.tensor([1.0, 1.0, 1.0, 1.0, 5.0]), 1, 0.1)
    assert eta == pytest.approx(0.1 / 0.8)
    # every loss equal: nothing to rank, no step (eta 0), the weights stay
    for norm in ("mad", "budget"):
        new, eta = upper_step(w, torch.full((5,), 2.0), 1, 0.1, step_normalization=norm)
        assert eta == 0.0 and new.tolist() == pytest.approx(w.tolist())
    # budget: eta = 2 w_lr m / ||l - mean l||_1 with m = 2: 2 * 0.1 * 2 / 12
    _, eta = upper_step(
        torch.full((5,), 0.4), torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0]), 2, 0.1, step_normalization="budget"
    )
    assert eta == pytest.approx(0.4 / 12)


class _RecordingToy(ToyRegressionProblem):
    """The toy, recording the step index and one draw of the generator at every lower-level step."""

    def __init__(self, scale):
        super().__init__(scale)
        self.calls = []

    def lower_loss(self, model, weights, step, generator):
        self.calls.append((step, float(torch.rand(1, generator=generator))))
        return super().lower_loss(model, weights, step, generator)


def test_the_lower_level_gets_its_step_and_the_seeded_generator():
    problem = _RecordingToy(torch.tensor(SCALE))
    select_forget_set(problem, WorstCaseConfig(budget=1, upper_steps=2, lower_steps=3, seed=7), progress=False)
    g = torch.Generator().manual_seed(7)  # uniform init draws nothing: the lower level's draws come first
    assert [c[0] for c in problem.calls] == [0, 1, 2, 0, 1, 2]
    assert [c[1] for c in problem.calls] == [float(torch.rand(1, generator=g)) for _ in range(6)]


def test_random_init_is_the_top_m_of_seeded_float64_draws_and_uniform_init_records_none():
    n, m, seed = 20, 5, 3
    draws = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    want = sorted(sorted(range(n), key=lambda i: -draws[i])[:m])  # the binary start's top-m: ties to lower index
    problem = ToyRegressionProblem(torch.linspace(0.1, 2.0, n))
    cfg = WorstCaseConfig(budget=m, upper_steps=1, lower_steps=1, init="random", seed=seed)
    assert select_forget_set(problem, cfg, progress=False).initial_selected == want
    uniform = select_forget_set(problem, WorstCaseConfig(budget=m, upper_steps=1, lower_steps=1), progress=False)
    assert uniform.initial_selected == []


def test_binarize_every_snaps_on_its_own_iterations_and_the_result_records_config_and_time():
    from dataclasses import asdict

    problem = ToyRegressionProblem(torch.tensor([0.5, 2.0, 0.2, 3.0, 0.05, 1.0]))
    cfg = WorstCaseConfig(budget=2, upper_steps=3, lower_steps=1, binarize_every=3, w_lr=0.01)  # small steps
    result = select_forget_set(problem, cfg, progress=False)
    assert sorted(result.weights) == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # snapped after iteration 3 (the last)
    unsnapped = select_forget_set(problem, WorstCaseConfig(**{**asdict(cfg), "binarize_every": 0}), progress=False)
    assert sorted(unsnapped.weights) != [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert [t["iteration"] for t in result.trace] == [1, 2, 3]
    assert result.config == asdict(cfg)
    assert 0.0 < result.seconds < 60.0


@pytest.mark.parametrize(
    "bad",
    [
        {"upper_steps": True},
        {"lower_steps": 2.0},
        {"lower_lr": 0.0},
        {"w_lr": float("inf")},
        {"gamma": float("inf")},
        {"gamma": -0.1},
        {"binarize_every": -1},
        {"binarize_every": 1.5},
        {"budget": True},
        {"budget": -2},
    ],
)
def test_config_refuses_each_bad_value(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        WorstCaseConfig(**bad)


def test_resolve_budget_edges():
    assert resolve_budget(1, 2) == 1  # two units are enough
    assert resolve_budget(0.01, 10) == 1  # round(0.1) = 0: at least one unit
    assert resolve_budget(0.25, 10) == 2  # round(2.5) = 2 (banker's rounding)
    with pytest.raises(ValueError, match="at least 2 units"):
        resolve_budget(1, 1)


def test_projection_and_top_m_at_the_ends_of_their_ranges():
    v = torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64)
    assert project_budget(v, 0).tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)  # budget 0 and N are allowed
    assert project_budget(v, 3).tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-9)
    assert project_budget(torch.tensor([0.3]), 1).tolist() == pytest.approx([1.0], abs=1e-9)  # one unit is allowed
    with pytest.raises(ValueError, match="non-empty 1-D"):
        project_budget(torch.zeros(2, 2), 1)
    assert top_m(v, 3).tolist() == [2, 0, 1]  # m = N: every unit, largest first
    with pytest.raises(ValueError, match=r"`m` must be in \[1, 3\]"):
        top_m(v, 0)
    with pytest.raises(ValueError, match="`budget` must be positive"):
        resolve_budget(-1, 10)


def test_budget_step_on_a_small_spread_and_mean_std_of_two():
    # ||l - mean l||_1 = 0.1 (< 1): eta = 2 * 0.1 * 1 / 0.1 = 2
    _, eta = upper_step(torch.tensor([0.5, 0.5]), torch.tensor([0.1, 0.2]), 1, 0.1, step_normalization="budget")
    assert eta == pytest.approx(2.0)
    assert mean_std([1.0, 3.0]) == pytest.approx([2.0, math.sqrt(2.0)])
