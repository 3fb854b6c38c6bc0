"""Relearning and quantisation attacks (`hf_unlearn.eval.relearn`, `hf_unlearn.eval.quantize`,
`hf_unlearn.scripts.robustness`): exact quantiser values by hand, attack behaviour on the test world, bad input."""

import json

import pytest
import torch

from hf_unlearn.eval import evaluate_tofu
from hf_unlearn.eval.quantize import quantize_model, quantize_tensor
from hf_unlearn.eval.relearn import check_relearn_steps, relearn_attack, sample_forget_rows
from hf_unlearn.scripts.robustness import main, parse_args


# ---- the quantiser on known tensors ---------------------------------------------------------------------------


def test_quantize_4bit_group2_by_hand():
    # q_max = 7. Group [0.7, 0.26]: scale 0.1, 0.26/0.1 = 2.6 -> 3 -> 0.3. Group [-1.4, 0.33]: scale 0.2,
    # 0.33/0.2 = 1.65 -> 2 -> 0.4. Row 2, group [0.0, 0.0]: scale 1 (all zero) -> 0; group [0.05, -0.021]:
    # scale 0.05/7, -0.021/(0.05/7) = -2.94 -> -3 -> -0.15/7.
    w = torch.tensor([[0.7, 0.26, -1.4, 0.33], [0.0, 0.0, 0.05, -0.021]])
    expected = torch.tensor([[0.7, 0.3, -1.4, 0.4], [0.0, 0.0, 0.05, -0.15 / 7]])
    torch.testing.assert_close(quantize_tensor(w, bits=4, group_size=2), expected, atol=1e-6, rtol=0)


def test_quantize_8bit_group4_by_hand():
    # q_max = 127, one scale for the row: 1.27 / 127 = 0.01. -0.013 -> -1.3 -> -1 -> -0.01; 0.504 -> 50.4 -> 50.
    w = torch.tensor([[1.27, 0.504, -0.013, 0.0]])
    expected = torch.tensor([[1.27, 0.5, -0.01, 0.0]])
    torch.testing.assert_close(quantize_tensor(w, bits=8, group_size=4), expected, atol=1e-6, rtol=0)
    # group_size=2: [1.27, 0.504] keeps scale 0.01 (0.504 -> 0.5); [-0.013, 0.0] gets its own scale 0.013/127,
    # which represents -0.013 exactly
    expected2 = torch.tensor([[1.27, 0.5, -0.013, 0.0]])
    torch.testing.assert_close(quantize_tensor(w, bits=8, group_size=2), expected2, atol=1e-6, rtol=0)


def test_quantize_model_copies_and_skips_lm_head():
    torch.manual_seed(0)
    net = torch.nn.ModuleDict({"proj": torch.nn.Linear(4, 2), "lm_head": torch.nn.Linear(4, 3, bias=False)})
    with torch.no_grad():
        net["proj"].weight.copy_(torch.tensor([[0.7, 0.26, -1.4, 0.33], [0.0, 0.0, 0.05, -0.021]]))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    q = quantize_model(net, bits=4, group_size=2)
    for k, v in net.state_dict().items():  # the user's model is untouched
        assert torch.equal(v, before[k])
    torch.testing.assert_close(
        q["proj"].weight, torch.tensor([[0.7, 0.3, -1.4, 0.4], [0.0, 0.0, 0.05, -0.15 / 7]]), atol=1e-6, rtol=0
    )
    assert torch.equal(q["proj"].bias, before["proj.bias"])  # biases stay in full precision
    assert torch.equal(q["lm_head"].weight, before["lm_head.weight"])


@pytest.mark.parametrize("bits", [1, 9, 0, 4.0, True])
def test_bits_outside_2_to_8_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
        quantize_tensor(torch.ones(1, 4), bits=bits, group_size=4)
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
        quantize_model(torch.nn.Linear(4, 2), bits=bits, group_size=4)


def test_group_size_must_divide_in_features():
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Linear(2, 6))
    with pytest.raises(ValueError, match=r"group_size=4 does not divide .* 1 layer.*in_features=2.*such as 2"):
        quantize_model(net, bits=8, group_size=4)
    with pytest.raises(ValueError, match="group_size must be a positive integer"):
        quantize_tensor(torch.ones(1, 4), bits=8, group_size=0)


# ---- relearning: bad input, before any work -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("0,10,5", "strictly increasing"),
        ([0, 10, 10], "strictly increasing"),
        ("-1,3", ">= 0"),
        ("0,a", "comma-separated integers"),
        ("", "at least one step"),
    ],
)
def test_bad_relearn_steps(steps, message):
    with pytest.raises(ValueError, match=message):
        check_relearn_steps(steps)


def test_relearn_bad_input_is_refused_before_any_work():
    rows = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(5)]
    never = {"called": False}

    def evaluate(model):
        never["called"] = True

    net = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"relearn sample \(6 items\) is larger than the forget set \(5 items\)"):
        relearn_attack(net, None, rows, evaluate, steps=[0, 1], num_samples=6)
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        relearn_attack(net, None, rows, evaluate, steps=[0, 1], num_samples=2, learning_rate=0.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        relearn_attack(net, None, rows, evaluate, steps=[5, 1], num_samples=2)
    with pytest.raises(ValueError, match="batch size must be an integer from 1 to the sample size"):
        relearn_attack(net, None, rows, evaluate, steps=[0, 1], num_samples=2, batch_size=3)
    assert not never["called"]


def test_sample_is_seeded_and_without_replacement():
    rows = [{}] * 20
    a, b, c = sample_forget_rows(rows, 8, seed=3), sample_forget_rows(rows, 8, seed=3), sample_forget_rows(rows, 8, 4)
    assert a == b and a != c
    assert len(set(a)) == 8 and all(0 <= i < 20 for i in a)


# ---- attacks on the test world --------------------------------------------------------------------------------


def _forget_eval(world, tokenizer, model, retain_results=None):
    return evaluate_tofu(
        model,
        tokenizer,
        world,
        forget_split="forget10",
        retain_results=retain_results,
        eval_sets=("forget",),
        max_new_tokens=8,
        progress=False,
    )


def test_relearned_retain_model_forget_probability_rises(tofu_world):
    tokenizer = tofu_world.load_tokenizer()
    retain = tofu_world.load_model("retain90")
    before = {k: v.clone() for k, v in retain.state_dict().items()}
    forget = tofu_world.load_split("forget10")
    curve = relearn_attack(
        retain,
        tokenizer,
        forget,
        lambda m: _forget_eval(tofu_world, tokenizer, m)["summary"]["forget_probability"],
        steps=[0, 5, 15],
        num_samples=8,
        learning_rate=1e-3,
        batch_size=4,
        template=tofu_world.template,
        progress=False,
    )
    probs = [p["result"] for p in curve]
    assert [p["step"] for p in curve] == [0, 5, 15]
    assert probs[0] < probs[1] < probs[2], probs
    assert probs[2] > probs[0] + 0.05, probs
    assert probs[0] == pytest.approx(_forget_eval(tofu_world, tokenizer, retain)["summary"]["forget_probability"])
    for k, v in retain.state_dict().items():  # the attack trained a copy
        assert torch.equal(v, before[k])


def test_lora_relearning_trains_only_the_adapter(tofu_world):
    seen = []

    def capture(model):
        seen.append({k: v.detach().clone() for k, v in model.named_parameters()})

    relearn_attack(
        tofu_world.load_model("retain90"),
        tofu_world.load_tokenizer(),
        tofu_world.load_split("forget10"),
        capture,
        steps=[0, 3],
        num_samples=4,
        learning_rate=1e-2,
        use_lora=True,
        lora_r=4,
        template=tofu_world.template,
        progress=False,
    )
    before, after = seen
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed), sorted(changed)[:5]
    assert any("lora_A" in k for k in changed) and any("lora_B" in k for k in changed)


def test_8bit_changes_target_little_4bit_more(tofu_world):
    tokenizer = tofu_world.load_tokenizer()
    target = tofu_world.load_model("target")
    full = _forget_eval(tofu_world, tokenizer, target)["per_item"]["forget"]
    deltas = {}
    for bits in (8, 4):
        q = _forget_eval(tofu_world, tokenizer, quantize_model(target, bits, group_size=32))["per_item"]["forget"]
        deltas[bits] = max(abs(a - b) for a, b in zip(q["nll_answer"], full["nll_answer"]))
    # measured: 8-bit moves no answer's mean token NLL by more than 0.002 nats, 4-bit by 0.057
    assert deltas[8] < 0.01, deltas
    assert deltas[4] > 5 * deltas[8], deltas


def test_script_writes_json_table_and_refuses_bad_input(tofu_world, tmp_path):
    out = tmp_path / "rob"
    args = parse_args(
        [
            "--data", str(tofu_world.path), "--relearn_steps", "0,2", "--relearn_samples", "4", "--relearn_lr",
            "1e-3", "--quant_bits", "8", "--quant_group_size", "32", "--eval_max_new_tokens", "4", "--output_dir",
            str(out),
        ]
    )  # fmt: skip
    report = main(args)
    saved = json.loads((out / "robustness.json").read_text())
    assert set(saved["models"]) == {"target", "retain"}
    retain = saved["models"]["retain"]
    assert [p["step"] for p in retain["relearn"]] == [0, 2]
    # the unmodified retain model against its own truth ratios: KS distance 0, p-value 1
    assert retain["relearn"][0]["forget_quality"] == 1.0
    names = {"forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio", "forget_quality"}
    assert names <= set(retain["quantization"][0]) and retain["quantization"][0]["bits"] == 8
    assert report["models"]["target"]["relearn"][0]["forget_quality"] < 1.0
    table = (out / "robustness.md").read_text()
    assert "| target | relearn 2 steps |" in table and "| retain | 8-bit rtn |" in table
    with pytest.raises(ValueError, match="already holds robustness.json"):
        main(args)
    for bad, message in [
        (["--quant_bits", "8,9"], "bits must be an integer from 2 to 8"),
        (["--relearn_steps", "0,5,5"], "strictly increasing"),
        (["--relearn_lr", "0"], "--relearn_lr must be > 0"),
        (["--benchmark", "wmdp"], "--benchmark must be 'tofu' or 'muse'"),
        (["--relearn_samples", "21"], r"relearn sample \(21 items\) is larger than the forget set \(20 items\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            main(parse_args(["--data", str(tofu_world.path), "--output_dir", str(tmp_path / "bad"), *bad]))
    assert not (tmp_path / "bad").exists()


def test_cli_passes_options_and_reports_bad_input(capsys):
    from hf_unlearn.cli import main as cli_main

    assert cli_main(["robustness", "--help"]) == 0
    assert "--relearn_samples" in capsys.readouterr().out
    assert cli_main(["robustness", "--relearn_steps", "0,5,5"]) == 2
    assert "relearn steps must be strictly increasing" in capsys.readouterr().err
    assert cli_main(["robustness", "--quant_bits", "1"]) == 2
    assert "bits must be an integer from 2 to 8" in capsys.readouterr().err


def test_muse_benchmark_relearns_on_forget_articles(muse_world, tmp_path):
    """`--benchmark muse`: relearning on the forget articles (every token scored) brings the retain model's verbatim
    memorisation of them up and makes them look like members; the retain model against itself has PrivLeak 0."""
    out = tmp_path / "muse"
    args = parse_args(
        [
            "--benchmark", "muse", "--data", str(muse_world.path), "--relearn_steps", "0,6", "--relearn_samples", "4",
            "--relearn_lr", "3e-3", "--quant_bits", "4", "--quant_group_size", "32", "--output_dir", str(out),
        ]
    )  # fmt: skip
    main(args)
    saved = json.loads((out / "robustness.json").read_text())
    assert saved["settings"]["metrics"] == [
        "forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "privleak", "extraction_strength"
    ]  # fmt: skip
    retain, target = saved["models"]["retain"], saved["models"]["target"]
    assert [p["step"] for p in retain["relearn"]] == [0, 6]
    assert retain["relearn"][0]["privleak"] == pytest.approx(0.0)
    # measured: VerbMem 0.260 -> 0.314 and PrivLeak 0 -> -60 (the forget articles now look like training members)
    assert retain["relearn"][1]["forget_verbmem_ROUGE"] > retain["relearn"][0]["forget_verbmem_ROUGE"] + 0.02
    assert retain["relearn"][1]["privleak"] < -20
    assert target["relearn"][0]["forget_verbmem_ROUGE"] > retain["relearn"][0]["forget_verbmem_ROUGE"]
    # 4-bit RTN is probed on the same metrics and moves them by little (measured: VerbMem 0.260 -> 0.288)
    quantized = retain["quantization"][0]
    assert quantized["bits"] == 4 and set(saved["settings"]["metrics"]) <= set(quantized)
    assert abs(quantized["forget_verbmem_ROUGE"] - retain["relearn"][0]["forget_verbmem_ROUGE"]) < 0.1
    assert "| retain | relearn 6 steps |" in (out / "robustness.md").read_text()
