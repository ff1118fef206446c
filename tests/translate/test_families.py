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


@pytest.mark.parametrize(
    "family, fixture, where, first_token",
    [
        ("opus", "tiny_marian", "input", ">>{}<<"),  # the target token is the input's first piece
        ("m2m", "tiny_m2m", "output", "__{}__"),
        ("nllb", "tiny_nllb", "output", "{}_Latn"),
        ("mbart", "tiny_mbart", "output", "{}_XX"),
        ("madlad", "tiny_madlad", "input", "<2{}>"),
        ("seamless", "tiny_seamless", "output", "__{}__"),
    ],
)
def test_translate_selects_each_target_language(
    family, fixture, where, first_token, request, tmp_path, monkeypatch
):
    """Through `lingualift translate`: the same source into Dutch and into French comes out different,
    the target's language token is where the family wants it: the first generated token (forced
    BOS, tgt_lang) or the input's first piece — so dropping our own line that selects the target
    fails here, not in transformers."""
    import json

    import datasets
    from transformers import GenerationMixin

    from lingualift.cli import main

    first_ids = []
    real_generate = GenerationMixin.generate

    def watched(model, *args, **kwargs):  # the real generate, its output observed
        output = real_generate(model, *args, **kwargs)
        first_ids.append((output[0, 1:2] if where == "output" else kwargs["input_ids"][0, :2]).tolist())
        return output

    monkeypatch.setattr(GenerationMixin, "generate", watched)
    path = request.getfixturevalue(fixture)
    source = tmp_path / "en.jsonl"
    source.write_text(json.dumps({"text": TEXTS[0], "lang": "en"}) + "\n")
    outputs = {}
    three = {"nllb": ("nld", "fra"), "seamless": ("nld", "fra"), "opus": ("nld", "fra")}
    for index, target in enumerate(("nl", "fr")):
        out = tmp_path / target
        args = ["translate", str(source), "--to", target, "--backend", family, "--model", str(path)]
        assert main([*args, "--out", str(out), "--max-new-tokens", "8"]) == 0
        outputs[target] = datasets.load_from_disk(str(out))["train"][0]["text"]
        from transformers import AutoTokenizer

        expected = first_token.format(three[family][index] if family in three else target)
        # SentencePiece may put a lone "▁" before an input prefix (MADLAD)
        assert expected in AutoTokenizer.from_pretrained(path).convert_ids_to_tokens(first_ids[-1])
    if where == "output":  # the forced first token steers what follows
        assert outputs["nl"] != outputs["fr"]


# Target tokens as the OPUS-MT model cards list them (Helsinki-NLP/opus-mt-en-ar, -en-zh, -en-ROMANCE, -en-mul).
EN_AR = [">>afb<<", ">>apc<<", ">>ara<<", ">>ara_Latn<<", ">>arq<<", ">>arq_Latn<<", ">>ary<<", ">>arz<<"]
EN_ZH = [
    ">>cmn<<",
    ">>cmn_Hans<<",
    ">>cmn_Hant<<",
    ">>gan<<",
    ">>lzh<<",
    ">>nan<<",
    ">>wuu<<",
    ">>yue<<",
    ">>yue_Hant<<",
]
EN_ROMANCE = [">>fr<<", ">>es<<", ">>it<<", ">>pt<<", ">>pt_br<<", ">>ro<<", ">>ca<<", ">>gl<<"]
EN_MUL = [">>nld<<", ">>deu<<", ">>fra<<", ">>ara<<", ">>cmn_Hans<<", ">>rus<<", ">>hin<<"]


class _Vocab:
    def __init__(self, tokens):
        self.tokens = tokens

    def get_vocab(self):
        return {t: i for i, t in enumerate(["<pad>", "▁the", *self.tokens])}


@pytest.mark.parametrize(
    "tokens, lang, token",
    [
        (EN_AR, "ar", ">>ara<<"),
        (EN_AR, "arz", ">>arz<<"),
        (EN_ZH, "zh", ">>cmn_Hans<<"),
        (EN_ZH, "zh-Hant", ">>cmn_Hant<<"),
        (EN_ZH, "yue", ">>yue_Hant<<"),
        (EN_ROMANCE, "fr", ">>fr<<"),
        (EN_ROMANCE, "pt-BR", ">>pt_br<<"),
        (EN_ROMANCE, "pt", ">>pt<<"),
        (EN_MUL, "nl", ">>nld<<"),
        (EN_MUL, "ar", ">>ara<<"),
        (EN_MUL, "zh", ">>cmn_Hans<<"),
        ([], "nl", None),
    ],
)
def test_opus_target_tokens_match_the_published_model_lists(tokens, lang, token):
    from lingualift.languages import get_language
    from lingualift.translate.backends.seq2seq import opus_model_token

    assert opus_model_token("m", get_language(lang), _Vocab(tokens)) == token


def test_an_opus_model_without_the_language_names_its_tokens():
    from lingualift.errors import LanguageError
    from lingualift.languages import get_language
    from lingualift.translate.backends.seq2seq import opus_model_token

    with pytest.raises(LanguageError, match=r"has target tokens >>afb<<.* but none for Dutch"):
        opus_model_token("en-ar", get_language("nl"), _Vocab(EN_AR))


@pytest.mark.parametrize("fixture", ["tiny_nllb", "tiny_m2m"])
def test_retries_penalise_generated_tokens_never_the_decoder_start(fixture, request):
    """NLLB/M2M start decoding with `</s>`: a penalty on it would keep retried segments from stopping."""
    import torch

    family = {"tiny_nllb": "nllb", "tiny_m2m": "m2m"}[fixture]
    translator = Seq2SeqTranslator(family, str(request.getfixturevalue(fixture)))
    seen = {}
    real_generate = translator.model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real_generate(**kwargs)

    translator.model.generate = spy
    translator.translate(TEXTS[:1], EN, NL, max_new_tokens=6, strict=True)
    assert "repetition_penalty" not in seen
    start = translator.model.config.decoder_start_token_id
    assert start == translator.tokenizer.eos_token_id  # the trap this test is about
    word = 7
    ids = torch.tensor([[start, word]])
    scores = torch.full((1, translator.model.config.vocab_size), 2.0)
    processed = seen["logits_processor"](ids, scores.clone())
    assert processed[0, start] == 2.0 and processed[0, word] < 2.0
