"""Tiny real MT models built from configs, with SentencePiece trained here (see shared/TINY_MODELS.md)."""

from __future__ import annotations

import io
import json

import pytest

from lingualift.demo.sample import sample_rows


def corpus() -> list[str]:
    lines = []
    for row in sample_rows():
        lines.extend(line.strip() for line in row["text"].splitlines() if line.strip())
    return lines


def train_sentencepiece(vocab_size: int = 300, **options) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, vocab_size=vocab_size,
        hard_vocab_limit=False, character_coverage=1.0, **options,
    )  # fmt: skip
    return model.getvalue()


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    """A multilingual-style OPUS-MT/Marian model: one SentencePiece model, `>>xxx<<` targets."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    path = tmp_path_factory.mktemp("tiny-marian")
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
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=vocab["<pad>"], eos_token_id=0, decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=None, init_std=1.0, scale_embedding=True,
    )  # fmt: skip
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
