"""`lingualift eval harness`: a small multiple-choice task of our own over a local jsonl file, run by
lm-evaluation-harness on the tiny model; the collected accuracy equals one computed here by hand."""

import importlib.util
import json

import pytest
import torch

from lingualift.cli import main

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lm_eval") is None,
    reason="lm-eval not installed (pip install 'lingualift[harness]')",
)

DOCS = [
    {"question": "De hoofdstad van Nederland is", "choices": ["Amsterdam", "Parijs", "Berlijn"], "answer": 0},
    {"question": "Een kat zegt", "choices": ["miauw", "woef", "boe"], "answer": 0},
    {"question": "Twee plus twee is", "choices": ["drie", "vier", "vijf"], "answer": 1},
    {"question": "De lucht is meestal", "choices": ["groen", "blauw", "rood"], "answer": 1},
    {"question": "In de winter is het", "choices": ["koud", "heet", "droog"], "answer": 0},
]


@pytest.fixture()
def task_dir(tmp_path):
    data = tmp_path / "nl_mc.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "nl_mc.yaml").write_text(f"""task: lingualift_nl_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""")
    return tmp_path


def _accuracy_by_hand(model_path) -> float:
    """Sum of log-probabilities of ' choice' after the question, argmax against the answer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    right = 0
    for doc in DOCS:
        context = tokenizer(doc["question"], add_special_tokens=False).input_ids
        scores = []
        for choice in doc["choices"]:
            ids = tokenizer(doc["question"] + " " + choice, add_special_tokens=False).input_ids
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            scores.append(sum(logprobs[i - 1, ids[i]].item() for i in range(len(context), len(ids))))
        right += max(range(len(scores)), key=scores.__getitem__) == doc["answer"]
    return right / len(DOCS)


def test_a_local_task_runs_and_its_score_is_collected(tiny_chat_model, task_dir, tmp_path, capsys):
    out = tmp_path / "harness"
    assert (
        main(
            [
                "eval",
                "harness",
                "--model",
                str(tiny_chat_model),
                "--tasks",
                "lingualift_nl_mc",
                "--include-path",
                str(task_dir),
                "--dtype",
                "float32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "harness.json").read_text())
    assert result["documents"] == {"lingualift_nl_mc": 5} and result["tasks"] == ["lingualift_nl_mc"]
    assert result["scores"]["lingualift_nl_mc"]["acc"] == pytest.approx(_accuracy_by_hand(tiny_chat_model))
    assert "acc" in result["stderr"]["lingualift_nl_mc"] and result["harness_version"]
    assert "lingualift_nl_mc: acc " in capsys.readouterr().out
    assert main(["report", str(out)]) == 0  # the scores land in the report
    page = (out / "report" / "report.html").read_text()
    assert "<h2>Benchmarks (lm-evaluation-harness)</h2>" in page and page.count("data:image/png;base64,") == 1
    assert "lm-evaluation-harness 0." in page and "lingualift_nl_mc" in page


def test_an_unknown_task_is_one_line(tiny_chat_model, task_dir, capsys):
    assert (
        main(
            [
                "eval",
                "harness",
                "--model",
                str(tiny_chat_model),
                "--tasks",
                "lingualift_nl_mc,no_such_task",
                "--include-path",
                str(task_dir),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "unknown lm-eval task(s) no_such_task" in err and len(err.splitlines()) == 1


def test_an_adapter_is_loaded_by_lingualift_and_scored_as_the_merged_model(
    tiny_chat_model, task_dir, tmp_path
):
    """The model lm-eval scores is the one lingualift loads (adapter, dtype, placement, and on a GPU
    --quant4/--quant8), handed over as a model object: the score is the merged model's."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.conftest import save_random_lora

    adapter = save_random_lora(tiny_chat_model, tmp_path / "adapter", scale_b=30.0)
    merged = tmp_path / "merged"
    PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_chat_model), adapter
    ).merge_and_unload().save_pretrained(merged)
    AutoTokenizer.from_pretrained(tiny_chat_model).save_pretrained(merged)
    out = tmp_path / "harness"
    argv = ["eval", "harness", "--model", str(tiny_chat_model), "--adapter", str(adapter)]
    argv += ["--tasks", "lingualift_nl_mc", "--include-path", str(task_dir), "--dtype", "float32"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads((out / "harness.json").read_text())
    assert result["model_args"]["peft"] == str(adapter)
    assert result["scores"]["lingualift_nl_mc"]["acc"] == pytest.approx(_accuracy_by_hand(merged))


def test_quant8_without_a_gpu_is_one_line_before_lm_eval_loads(tiny_chat_model, task_dir, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: scripts/gpu_check.py runs --quant8 there")
    argv = ["eval", "harness", "--model", str(tiny_chat_model), "--tasks", "lingualift_nl_mc"]
    assert main([*argv, "--include-path", str(task_dir), "--quant8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--quant8 runs on a CUDA GPU only" in err and len(err.splitlines()) == 1


def test_quant4_on_the_cpu_scores_the_4bit_model(task_dir, tmp_path):
    """--quant4 through bitsandbytes' CPU backend: lm-eval scores the 4-bit model lingualift loads."""
    pytest.importorskip("bitsandbytes", reason="the dev extra installs bitsandbytes (its CPU backend)")
    from tests.builders import build_tiny_llama3

    model = build_tiny_llama3(tmp_path / "llama3")  # dimensions bitsandbytes' kernels take
    out = tmp_path / "harness"
    argv = [
        "eval",
        "harness",
        "--model",
        str(model),
        "--tasks",
        "lingualift_nl_mc",
        "--include-path",
        str(task_dir),
    ]
    assert main([*argv, "--quant4", "--out", str(out)]) == 0
    result = json.loads((out / "harness.json").read_text())
    assert result["model_args"]["quantization"] == "4bit" and result["documents"] == {"lingualift_nl_mc": 5}
    assert 0.0 <= result["scores"]["lingualift_nl_mc"]["acc"] <= 1.0
