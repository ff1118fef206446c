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


def test_lora_counts_the_embeddings_it_trains_whole():
    # Llama-3-8B after `tokenizer extend`: embed_tokens and lm_head trained whole (1.05 B parameters),
    # each with a float32 copy, its gradient and two Adam moments
    whole = 2 * 128_256 * 4096
    plain = estimate(**EIGHT_B, mode="lora", device="cuda")
    trained = estimate(**EIGHT_B, mode="lora", device="cuda", trained_whole=whole)
    assert trained.trainable == plain.trainable + whole
    assert 15 < trained.training_state_gb - plain.training_state_gb < 16.5
    assert plain.total_gb < 40 < trained.total_gb  # "fits" a 40 GB card only without them


def test_checkpointing_keeps_one_layer_of_activations_and_the_layer_inputs():
    full = estimate(**EIGHT_B, mode="quant4", device="cuda")
    checkpointed = estimate(**EIGHT_B, mode="quant4", device="cuda", checkpointing=True)
    assert checkpointed.activations_gb < full.activations_gb / 10
    assert checkpointed.weights_gb == full.weights_gb and checkpointed.activations_gb > 0


def test_the_warning_counts_trained_embeddings(tiny_chat_model):
    without = check_fits(
        str(tiny_chat_model), batch=1, seq=64, mode="lora", device="cpu", echo=lambda _: None
    )
    with_embeddings = check_fits(
        str(tiny_chat_model),
        batch=1,
        seq=64,
        mode="lora",
        device="cpu",
        echo=lambda _: None,
        trains_embeddings=True,
    )
    assert with_embeddings.trainable > without.trainable


@pytest.mark.parametrize("vocab, low, high", [(128_256, 3.0, 4.0), (262_144, 6.0, 7.5)])
def test_the_logits_of_a_large_vocabulary_are_counted(vocab, low, high):
    # Llama 3 (128k) and Gemma 3 (262k): batch 4 x 512 tokens of logits, their float32 copies and gradient
    without = estimate(**EIGHT_B, mode="lora", device="cuda")
    with_logits = estimate(**EIGHT_B, mode="lora", device="cuda", vocab=vocab)
    assert low < with_logits.activations_gb - without.activations_gb < high
