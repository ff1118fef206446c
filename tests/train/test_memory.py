import pytest

from lingualift.train.memory import check_fits, estimate

EIGHT_B = dict(parameters=8_000_000_000, hidden=4096, layers=32, heads=32, batch=4, seq=512)


# batch 4 x 512 tokens without activation checkpointing adds ~14.5 GiB of activations
@pytest.mark.parametrize("mode, low, high", [("full", 120, 150), ("lora", 25, 35), ("quant4", 15, 22)])
def test_an_8b_model_needs_what_practitioners_expect(mode, low, high):
    total = estimate(**EIGHT_B, mode=mode, device="cuda").total_gb
    assert low < total < high


def test_qlora_counts_the_float32_embeddings_peft_casts():
    # Llama-3-8B: 128,256 x 4,096 input embeddings and an untied output layer of the same size
    whole = 2 * 128_256 * 4096
    plain = estimate(**EIGHT_B, mode="quant4", device="cuda")
    upcast = estimate(**EIGHT_B, mode="quant4", device="cuda:1", unquantized=whole)
    assert 3.0 < upcast.weights_gb - plain.weights_gb < 4.0  # (4 - 0.55) bytes x 1.05 B parameters = 3.4 GiB
    assert estimate(**EIGHT_B, mode="lora", device="cuda", unquantized=whole) == estimate(
        **EIGHT_B, mode="lora", device="cuda"
    )


def test_more_tokens_need_more_activation_memory():
    small = estimate(**{**EIGHT_B, "seq": 256}, mode="lora", device="cuda")
    large = estimate(**{**EIGHT_B, "seq": 2048}, mode="lora", device="cuda")
    assert large.activations_gb > 8 * small.activations_gb


def test_warns_when_it_cannot_fit_and_is_quiet_when_it_can(tiny_chat_model):
    messages = []
    result = check_fits(
        str(tiny_chat_model),
        batch=4,
        seq=512,
        mode="full",
        device="cpu",
        echo=messages.append,
        available_gb=1e-6,
    )
    assert result.parameters > 0 and messages and messages[0].startswith("warning: training needs about")
    messages.clear()
    check_fits(
        str(tiny_chat_model),
        batch=4,
        seq=512,
        mode="lora",
        device="cpu",
        echo=messages.append,
        available_gb=64,
    )
    assert messages == []
