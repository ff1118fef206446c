"""Shared fixtures. Tests never touch the network: hub access is switched off for the session."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fixtures_mt", "tests.fixtures_teacher"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip is a failure unless it needs a CUDA GPU: an extra whose install failed
    (importorskip) or a missing browser must not leave CI green with the tests not run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if "CUDA GPU" not in reason:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which runs every test but the GPU ones: {reason}"


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory):
    """A lingualift cache shared by the session: the demo model is converted into it once."""
    return tmp_path_factory.mktemp("lingualift-cache")


@pytest.fixture()
def use_demo_cache(demo_cache, monkeypatch):
    monkeypatch.setenv("LINGUALIFT_CACHE", str(demo_cache))
    return demo_cache


@pytest.fixture(scope="session")
def demo_model_path(demo_cache):
    """Path of the converted demo model (converts on first use, ~20 s on a 2-core CPU)."""
    previous = os.environ.get("LINGUALIFT_CACHE")
    os.environ["LINGUALIFT_CACHE"] = str(demo_cache)
    try:
        from lingualift.demo.model import demo_model_dir

        return demo_model_dir()
    finally:
        if previous is None:
            os.environ.pop("LINGUALIFT_CACHE", None)
        else:
            os.environ["LINGUALIFT_CACHE"] = previous


CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"  # noqa: E501
)


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory):
    """A tiny Llama-style chat model with a BPE tokenizer trained here and a ChatML template.

    Random weights: for testing data paths and training mechanics, not for output quality.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from lingualift.demo.sample import sample_rows

    corpus = [row["text"] for row in sample_rows()]
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHATML
    )
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny-chat-model")
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def talkative_chat_model(tiny_chat_model, tmp_path_factory):
    """The tiny chat model with larger random weights and its special tokens' (tied) embeddings
    zeroed, so that greedy decoding writes text, different per prompt, instead of ending at once
    (tiny_chat_model answers blank lines: a test comparing its replies compares nothing)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    torch.manual_seed(1)
    with torch.no_grad():
        for weight in (p for p in model.parameters() if p.dim() > 1):
            weight.normal_(0, 0.5)
        model.get_input_embeddings().weight[tokenizer.all_special_ids] = 0
    path = tmp_path_factory.mktemp("talkative-chat-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


ARTIFACTS = os.environ.get("LINGUALIFT_TEST_ARTIFACTS") or os.path.join(
    os.path.dirname(__file__), "..", "test-artifacts"
)
CHROMIUM = os.environ.get("LINGUALIFT_CHROMIUM", "/usr/bin/chromium")
# Chromium on a closed network: no background connections, no sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where browser tests keep their screenshots (test-artifacts/, or $LINGUALIFT_TEST_ARTIFACTS)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return os.path.abspath(ARTIFACTS)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright. Skipped where either is missing, except in CI
    (`CI=true`), where .ci/run installs both and a missing one is a failure, not a silent skip."""
    import importlib.util

    needs = [
        ("Debian's chromium (apt-get install chromium)", os.path.exists(CHROMIUM)),
        ("playwright (the dev extra)", importlib.util.find_spec("playwright") is not None),
    ]
    missing = [name for name, ok in needs if not ok]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need {' and '.join(missing)}; .ci/run installs them")
        pytest.skip(f"browser tests need {' and '.join(missing)}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def save_random_lora(
    base,
    path,
    *,
    seed: int = 0,
    r: int = 4,
    target_modules="all-linear",
    scale_b: float = 1.0,
    with_tokenizer: bool = False,
):
    """A LoRA adapter on `base` with random (non-zero) B matrices, so it changes the model; B is
    multiplied by `scale_b` (large values wreck the model on purpose). Returns `path`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=r, target_modules=target_modules, init_lora_weights=False),
    )
    if scale_b != 1.0:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.mul_(scale_b)
    model.save_pretrained(path)
    if with_tokenizer:
        AutoTokenizer.from_pretrained(base).save_pretrained(path)
    return path
