"""Encoder-decoder MT models through transformers' generate, one spec per family.

Family differences are data: how the target language is chosen (forced BOS token, input prefix
or `tgt_lang`), whether the tokenizer needs `src_lang`, and the comfortable input length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lingualift.errors import LanguageError, ModelError
from lingualift.languages import Language, backend_code, opus_model
from lingualift.translate.backends.base import Translation, row_caps
from lingualift.translate.backends.early_stop import end_token_ids, stop_wasted, watch_flags


@dataclass(frozen=True)
class FamilySpec:
    family: str  # the language registry's family name
    default_model: str | None
    src_lang_on_tokenizer: bool = False
    forced_bos: Callable[[str], str] | None = None  # target code -> token generation starts with
    input_prefix: bool = False  # the target code is written before the text (MADLAD `<2nl> `)
    tgt_lang_on_generate: bool = False  # SeamlessM4T: generate(tgt_lang=...)
    max_input_tokens: int = 400
    ct2: bool = True  # CTranslate2 has a converter for it
    bfloat16: bool = False  # trained in bfloat16: float16 activations overflow (T5 family), so never float16


FAMILIES = {
    "opus": FamilySpec("opus", None),
    "m2m": FamilySpec(
        "m2m", "facebook/m2m100_418M", src_lang_on_tokenizer=True, forced_bos=lambda c: f"__{c}__"
    ),
    # NLLB was trained on short segments and degrades well before its 512-token limit.
    "nllb": FamilySpec(
        "nllb",
        "facebook/nllb-200-distilled-600M",
        src_lang_on_tokenizer=True,
        forced_bos=lambda c: c,
        max_input_tokens=200,
    ),
    "mbart": FamilySpec(
        "mbart",
        "facebook/mbart-large-50-many-to-many-mmt",
        src_lang_on_tokenizer=True,
        forced_bos=lambda c: c,
    ),
    "madlad": FamilySpec("madlad", "google/madlad400-3b-mt", input_prefix=True, bfloat16=True),
    "seamless": FamilySpec(
        "seamless",
        "facebook/seamless-m4t-v2-large",
        src_lang_on_tokenizer=True,
        tgt_lang_on_generate=True,
        ct2=False,
    ),
}


def gpu_dtype(spec: FamilySpec, machine=None):
    """float16 on a GPU (what the fairseq/Marian families were trained in), bfloat16 for the T5 family
    (float32 on a GPU without bfloat16: in float16 MADLAD writes only <unk>)."""
    import torch

    from lingualift.hardware import Machine, inference_dtype, torch_dtype

    if not spec.bfloat16:
        return torch.float16
    return torch_dtype(inference_dtype(machine or Machine.here(), "cuda", bf16_only=True))


def default_model(family: str, src: Language, tgt: Language) -> str:
    if family == "opus":
        return opus_model(src, tgt).model
    return FAMILIES[family].default_model


class Seq2SeqTranslator:
    """Any FAMILIES model (a hub id or a local directory) translating with greedy/beam search."""

    early_stop = True  # cut looping hypotheses (greedy search only), see early_stop.py

    def __init__(
        self,
        family: str,
        model: str,
        *,
        device: str = "cpu",
        num_beams: int = 1,
        quantization=None,
        trust_remote_code: bool = False,
    ):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.spec = FAMILIES[family]
        self.family = family
        self.model_id = model
        self.name = f"{family}:{model}"
        self.device = device
        self.num_beams = num_beams
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            if family == "seamless":
                from transformers import SeamlessM4Tv2ForTextToText

                loader = SeamlessM4Tv2ForTextToText
            else:
                loader = AutoModelForSeq2SeqLM
            # the layers bitsandbytes leaves unquantized take this dtype too (else float16, bad for T5)
            kwargs = {
                "trust_remote_code": trust_remote_code,
                "dtype": gpu_dtype(self.spec) if device.startswith("cuda") else torch.float32,
            }
            if quantization is not None:
                kwargs["quantization_config"] = quantization
            from lingualift.hardware import inference_device_map

            device_map = inference_device_map(device)
            if device_map is not None:  # straight onto the GPU, not a whole copy in host RAM first
                kwargs["device_map"] = device_map
            self.model = loader.from_pretrained(model, **kwargs)
        except OSError as error:
            raise ModelError(f"cannot load {family} model '{model}': {error}") from error
        self.model.eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = min(int(limit), 1024)
        self.max_input_tokens = min(self.spec.max_input_tokens, self.max_length // 2)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def target_token(self, tgt: Language) -> str | None:
        """The token that selects the target language, checked against the model's vocabulary."""
        if self.family == "opus":
            return opus_model_token(self.model_id, tgt, self.tokenizer)
        code = backend_code(tgt, self.family)
        token = None
        if self.spec.forced_bos:
            token = self.spec.forced_bos(code)
        elif self.spec.input_prefix:
            token = code
        if token is not None:
            _require_token(self.tokenizer, token, self.name)
        return token

    def prepare_inputs(self, texts: list[str], src: Language, tgt: Language) -> tuple[list[str], str | None]:
        """Texts as the family expects them (MADLAD/OPUS prefix the target token) and that token;
        sets the tokenizer's source language where the family needs it."""
        token = self.target_token(tgt)
        if self.spec.src_lang_on_tokenizer:
            self.tokenizer.src_lang = backend_code(src, self.family)
        prefixed = token and (self.spec.input_prefix or self.family == "opus")
        return [f"{token} {t}" if prefixed else t for t in texts], token

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        import torch
        from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteriaList

        caps = row_caps(max_new_tokens, len(texts))
        inputs, token = self.prepare_inputs(texts, src, tgt)
        encoded = self.tokenizer(
            inputs, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens * 2
        ).to(self.device)
        generate = {"max_new_tokens": max(caps), "num_beams": self.num_beams, "do_sample": False}
        if self.spec.forced_bos:
            generate["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(token)
        if self.spec.tgt_lang_on_generate:
            generate["tgt_lang"] = backend_code(tgt, self.family)
        if strict:  # no_repeat_ngram_size is slow Python per step. Generated tokens only: the decoder starts
            # with decoder_start_token_id, which is `</s>` for NLLB/M2M/mBART, and penalising it (generate's
            # repetition_penalty does) keeps retried segments from ever stopping
            penalty = RepetitionPenaltyLogitsProcessor(1.3, prompt_ignore_length=1)
            generate["logits_processor"] = LogitsProcessorList([penalty])
        stop = None
        if self.early_stop and self.num_beams == 1:
            end_ids = end_token_ids(getattr(self.model, "generation_config", None), self.tokenizer)
            stop = stop_wasted(texts, start=1, end_ids=end_ids, caps=caps)
            generate["stopping_criteria"] = StoppingCriteriaList([stop])
        with torch.inference_mode():
            output = self.model.generate(**encoded, **generate)
        decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        translations = [Translation(t.strip(), watch_flags(stop, i)) for i, t in enumerate(decoded)]
        if stop is None:  # beam search: a row that wrote to the cap without its end token was cut there
            eos = self.tokenizer.eos_token_id
            for row, ids in enumerate(output[:, 1:].tolist()):
                if len(ids) >= max(caps) and eos not in ids:
                    translations[row].flags.append("truncated_output")
        return translations


def _require_token(tokenizer, token: str, name: str) -> None:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise LanguageError(
            f"{name}: the model's vocabulary has no language token {token!r} — it does not support "
            "this language (or its tokenizer lost its language codes)"
        )


def opus_target_candidates(tgt: Language) -> list[str]:
    """The `>>xxx<<` tokens that may name `tgt` in a multi-target OPUS-MT model, most specific first.
    The published models mix conventions: ISO 639-3 individual languages with a script (`>>cmn_Hans<<`,
    opus-mt-en-zh), the macrolanguage's 639-3 code (`>>ara<<`, opus-mt-en-ar), 639-3 individual codes
    (`>>nld<<`, opus-mt-en-mul) and two-letter codes with a region (`>>pt_br<<`, `>>fr<<`, en-ROMANCE)."""
    import langcodes

    macro3 = langcodes.Language.get(tgt.macro).to_alpha3()
    region = [f">>{tgt.macro}_{tgt.region.lower()}<<"] if tgt.region else []
    candidates = [
        f">>{tgt.alpha3}_{tgt.script}<<",
        f">>{macro3}_{tgt.script}<<",
        f">>{tgt.alpha3}<<",
        f">>{macro3}<<",
        *region,
        f">>{tgt.macro}<<",
        f">>{tgt.raw}<<",
    ]
    return list(dict.fromkeys(candidates))


def opus_model_token(model_id: str, tgt: Language, tokenizer) -> str | None:
    """`>>xxx<<` for multilingual OPUS models (checked in the vocabulary), None for one-target ones."""
    codes = [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")]
    if not codes:
        return None
    for candidate in opus_target_candidates(tgt):
        if candidate in codes:
            return candidate
    raise LanguageError(
        f"opus:{model_id} has target tokens {', '.join(sorted(codes)[:8])}... but none for {tgt.name} "
        f"({tgt.tag}): choose another --model or --backend"
    )
