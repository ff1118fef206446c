"""Tiny real models built from configs, with tokenizers trained here on the bundled sample: for the
tests (through their fixtures) and for scripts/gpu_check.py, which runs where there is no model hub
and no pytest may be needed. Nothing here imports pytest. See shared/TINY_MODELS.md."""

from __future__ import annotations

import io
import json

from lingualift.demo.sample import sample_rows


def preference_pairs(conversations: list[list[dict]]) -> list[dict]:
    """DPO/ORPO rows from conversations: the last user turn as the prompt, its answer chosen, a
    non-answer rejected."""
    return [
        {
            "prompt": [{"role": "user", "content": c[-2]["content"]}],
            "chosen": [{"role": "assistant", "content": c[-1]["content"]}],
            "rejected": [{"role": "assistant", "content": "I do not know."}],
        }
        for c in conversations
    ]


def corpus() -> list[str]:
    lines = []
    for row in sample_rows():
        lines.extend(line.strip() for line in row["text"].splitlines() if line.strip())
    return lines


def train_sentencepiece(vocab_size: int = 300, **options) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        **options,
    )
    return model.getvalue()


def _sp_processor(proto: bytes):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=proto)


def _bpe_vocab_and_merges(vocab_size: int = 400):
    """A Metaspace BPE trained here, as (vocab dict, merges list) for tokenizers taking vocab=/merges=."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def _save(model, tokenizer, path):
    model.eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_marian(path):
    """A multilingual-style OPUS-MT/Marian model: one SentencePiece model, `>>xxx<<` targets."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    proto = train_sentencepiece(300)
    for name in ("source.spm", "target.spm"):
        (path / name).write_bytes(proto)
    processor = spm.SentencePieceProcessor(model_proto=proto)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = {"</s>": 0, "<unk>": 1}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    for code in ("nld", "deu", "fra"):
        vocab[f">>{code}<<"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"),
        target_spm=str(path / "target.spm"),
        vocab=str(path / "vocab.json"),
    )
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        pad_token_id=vocab["<pad>"],
        eos_token_id=0,
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=None,
        init_std=1.0,
        scale_embedding=True,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# Llama-3's chat template (header tokens, <|eot_id|> after each turn), as its tokenizer_config.json has it.
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
LLAMA3_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


def build_tiny_llama3(path, *, hidden: int = 64, layers: int = 2, vocab_size: int = 640):
    """A Llama-3-shaped causal LM: grouped-query attention (4 heads, 2 key-value heads), rope_theta
    5e5, untied embeddings, Llama-3's special tokens and chat template, a byte-level BPE trained
    here. Dimensions are multiples of 64 so bitsandbytes' and CTranslate2's kernels take them.
    Random weights: for the mechanics of loading, quantizing, training and serving, not quality."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 64,
        special_tokens=LLAMA3_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator([row["text"] for row in sample_rows()], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
        chat_template=LLAMA3_TEMPLATE,
    )
    rows = -(-len(fast) // 64) * 64  # embedding rows padded to a multiple of 64, as Llama-3's are
    config = LlamaConfig(
        vocab_size=rows,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        rope_theta=500000.0,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=[fast.eos_token_id, fast.convert_tokens_to_ids("<|end_of_text|>")],
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def build_tiny_m2m(path):
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    from lingualift.language_codes import M2M100

    proto = train_sentencepiece(300)
    (path / "sentencepiece.bpe.model").write_bytes(proto)
    processor = _sp_processor(proto)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(i), len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = M2M100Tokenizer(
        vocab_file=str(path / "vocab.json"),
        spm_file=str(path / "sentencepiece.bpe.model"),
        src_lang="en",
        tgt_lang="nl",
        additional_special_tokens=[f"__{c}__" for c in M2M100],
    )
    config = M2M100Config(
        vocab_size=len(vocab) + 100 + tokenizer.num_madeup_words,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        decoder_start_token_id=2,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=0,
        init_std=1.0,
    )
    torch.manual_seed(0)
    return _save(M2M100ForConditionalGeneration(config), tokenizer, path)


def build_tiny_nllb(path):
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizerFast

    vocab, merges = _bpe_vocab_and_merges()
    tokenizer = NllbTokenizerFast(vocab=vocab, merges=merges, src_lang="eng_Latn", tgt_lang="nld_Latn")
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        decoder_start_token_id=2,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=0,
        init_std=1.0,
        tokenizer_class="NllbTokenizer",
    )
    torch.manual_seed(0)
    return _save(M2M100ForConditionalGeneration(config), tokenizer, path)


def build_tiny_mbart(path):
    import torch
    from transformers import MBart50TokenizerFast, MBartConfig, MBartForConditionalGeneration

    processor = _sp_processor(train_sentencepiece(300))
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [
        p for p in pieces if p[0] not in ("<s>", "</s>", "<unk>", "<pad>")
    ]
    tokenizer = MBart50TokenizerFast(vocab=pieces, bos_token="<s>", src_lang="en_XX", tgt_lang="nl_XX")
    config = MBartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        decoder_start_token_id=2,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=0,
        init_std=1.0,
        normalize_before=True,
        normalize_embedding=True,
    )
    torch.manual_seed(0)
    return _save(MBartForConditionalGeneration(config), tokenizer, path)


def build_tiny_madlad(path):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    proto = train_sentencepiece(
        300, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, user_defined_symbols=["<2en>", "<2nl>", "<2fr>"]
    )
    processor = _sp_processor(proto)
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        initializer_factor=5.0,
    )
    torch.manual_seed(0)
    return _save(T5ForConditionalGeneration(config), tokenizer, path)


def build_tiny_seamless(path):
    import torch
    from transformers import SeamlessM4TTokenizer, SeamlessM4Tv2Config, SeamlessM4Tv2ForTextToText

    vocab, merges = _bpe_vocab_and_merges()
    codes = ["__eng__", "__nld__", "__fra__"]
    tokenizer = SeamlessM4TTokenizer(
        vocab=vocab, merges=merges, src_lang="eng", tgt_lang="nld", additional_special_tokens=codes
    )
    config = SeamlessM4Tv2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        speech_encoder_layers=1,
        speech_encoder_attention_heads=2,
        speech_encoder_intermediate_size=64,
        t2u_encoder_layers=1,
        t2u_decoder_layers=1,
        t2u_encoder_attention_heads=2,
        t2u_decoder_attention_heads=2,
        t2u_encoder_ffn_dim=64,
        t2u_decoder_ffn_dim=64,
        initializer_range=1.0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = SeamlessM4Tv2ForTextToText(config)
    model.generation_config.text_decoder_lang_to_code_id = {
        c.strip("_"): tokenizer.convert_tokens_to_ids(c) for c in codes
    }
    model.generation_config._from_model_config = False
    return _save(model, tokenizer, path)


# the layer sizes of the tiny decoder-only models built for the tests (any Llama-like config class)
TINY_DECODER = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
)


def build_tiny_sentencepiece_llama(path):
    """A Llama-2-shaped model whose tokenizer is a SentencePiece BPE with byte fallback (tokenizer.model,
    as Llama 2, Mistral and Gemma ship it; transformers builds tokenizer.json from it), random weights."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    proto = train_sentencepiece(
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        split_digits=True,
    )
    (path / "tokenizer.model").write_bytes(proto)
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
            }
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = LlamaConfig(vocab_size=len(tokenizer), **TINY_DECODER, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    return _save(LlamaForCausalLM(config), tokenizer, path)
