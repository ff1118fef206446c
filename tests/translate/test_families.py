"""Every seq2seq family translates through transformers' real generate path with its own
language-selection mechanism (forced BOS token, input prefix, tgt_lang), from tiny models."""

import pytest

from lingualift.languages import get_language
from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

EN, NL = get_language("en"), get_language("nl")
TEXTS = ["Hello there, how are you?", "A list can change after you create it."]


@pytest.mark.parametrize(
    "family, fixture, token",
    [
        ("opus", "tiny_marian", ">>nld<<"),
        ("m2m", "tiny_m2m", "__nl__"),
        ("nllb", "tiny_nllb", "nld_Latn"),
        ("mbart", "tiny_mbart", "nl_XX"),
        ("madlad", "tiny_madlad", "<2nl>"),
        ("seamless", "tiny_seamless", None),
    ],
)
def test_family_translates_and_selects_the_target_language(family, fixture, token, request):
    path = request.getfixturevalue(fixture)
    translator = Seq2SeqTranslator(family, str(path))
    assert translator.target_token(NL) == token
    outputs = translator.translate(TEXTS, EN, NL, max_new_tokens=8)
    assert len(outputs) == 2 and all(isinstance(o.text, str) for o in outputs)
    assert outputs[0].text != outputs[1].text  # input-dependent: the inputs really went through


def test_forced_bos_family_starts_generation_with_the_language_token(tiny_nllb):
    import torch

    translator = Seq2SeqTranslator("nllb", str(tiny_nllb))
    translator.tokenizer.src_lang = "eng_Latn"
    encoded = translator.tokenizer(TEXTS[:1], return_tensors="pt")
    forced = translator.tokenizer.convert_tokens_to_ids("nld_Latn")
    with torch.inference_mode():
        output = translator.model.generate(**encoded, forced_bos_token_id=forced, max_new_tokens=4)
    assert output[0, 1].item() == forced  # after the decoder start token
