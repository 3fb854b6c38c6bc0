"""Value tests for worst-case selection maths (`hf_unlearn.worstcase.selection`, `.projection`, `.baselines`), grouped
by the kinds of issue 16: every option of the loop reaches the computation (checked against one iteration worked out
here from the formulas of the module docstring), and what each baseline and summary is computed on."""

import math

import pytest
import torch

from hf_unlearn.worstcase import WorstCaseConfig, select_forget_set
from hf_unlearn.worstcase.baselines import jaccard, lowest_loss_units, mean_std, random_units
from hf_unlearn.worstcase.projection import top_m_mask
from hf_unlearn.worstcase.selection import ToyRegressionProblem


SCALE = [0.5, 2.0, 0.2, 3.0]


def _projection(v: list[float], m: float) -> list[float]:
    """Projection onto {0 <= w <= 1, sum w = m}: s(tau) = sum clip(v - tau, 0, 1) is piecewise linear with kinks
    at v_i and v_i - 1; interpolate on the segment where it crosses m."""

    def s(tau):
        return sum(min(max(x - tau, 0.0), 1.0) for x in v)

    kinks = sorted(set(v) | {x - 1.0 for x in v})
    for lo, hi in zip(kinks, kinks[1:]):
        if s(hi) <= m <= s(lo):
            tau = lo if s(lo) == s(hi) else lo + (s(lo) - m) * (hi - lo) / (s(lo) - s(hi))
            return [min(max(x - tau, 0.0), 1.0) for x in v]
    raise AssertionError("no segment")


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
    new_w = _projection([wi - w_lr * d for wi, d in zip(w, direction)], m)
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
