"""`lingualift tokenizer extend`: new vocabulary for a language the base tokenizer splits into many
pieces, and a model whose embeddings have room for it.

1. Target-language text is split into training and held-out lines (seeded).
2. The `tokenizers` BPE trainer learns the language's pieces on the training lines, with the base
   tokenizer's own pre-tokenization (byte-level, or SentencePiece's `▁` word marks).
3. A learned piece is a candidate when the base tokenizer needs two or more tokens for it. Pieces
   are taken in the trainer's order (most frequent merges first). A candidate that the current
   vocabulary splits into exactly two tokens gets a merge of those two, appended after every base
   merge; rounds repeat (longer pieces become two-token pieces once their parts are in) until
   `--add` new tokens are in or no candidate is left. Characters the base vocabulary lacks (byte
   fallback in SentencePiece models) are added as single-character tokens first.
   Because the new merges rank after all base merges, the base segmentation is reached first and
   the new merges only join its tokens: decoding any text gives back the same text as before.
4. Fertility (tokens per word) before and after on the held-out lines; a round-trip check that the
   extended tokenizer decodes the held-out lines to exactly what the base tokenizer decoded.
5. The model's embeddings are resized; each new row is the mean of the rows of the base tokens that
   made up the piece (input and, when untied, output embeddings).

Supported: BPE tokenizers — byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM) and SentencePiece BPE
(Llama 2, Mistral, Gemma). Unigram (T5, XLM-R) and WordPiece tokenizers are refused in one line.

The output directory is a complete model (weights, extended tokenizer, `lingualift_tokenizer.json`).
`lingualift train --model DIR` trains its embedding and output layers too (LoRA `modules_to_save`, or
all weights with --full); adapters trained on it name DIR as their base, so merge and reload see the
resized vocabulary.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from lingualift.errors import ConfigError, DataError, ModelError
from lingualift.reports import Number, StageReport
from lingualift.vocabulary import BASE_TOKENIZER, MARKER


class ExtendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="Base model whose tokenizer is extended: hub id, local directory, or `demo`"
    )
    data: str = Field(
        description="Target-language text: .txt/.md file or folder, or a dataset with a text "
        "column (--text-field) or `messages` conversations"
    )
    lang: str = Field(description="Language of --data (recorded with the model; e.g. nl)")
    add: int = Field(1000, gt=0, description="New tokens to add at most (new embedding rows)")
    out: str = Field(description="Directory for the resized model, extended tokenizer and report")
    text_field: str = Field("text", description="Text column when --data is a dataset")
    held_out: float = Field(
        0.1, gt=0, lt=1, description="Share of lines kept out of training to measure fertility"
    )
    min_frequency: int = Field(2, ge=1, description="A piece must occur this often in the training lines")
    limit: Optional[int] = Field(None, gt=0, description="Use only the first N lines of --data")
    seed: int = Field(42, description="Seed of the held-out split")
    trust_remote_code: bool = Field(False, description="Allow custom model code from the hub")


def read_lines(config: ExtendConfig) -> list[str]:
    """Non-empty lines of text from files, a dataset's text column, or conversation turns."""
    path = Path(config.data)
    if path.is_dir() and any(p.suffix in (".txt", ".md") for p in path.rglob("*")):
        texts = [
            p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(path.rglob("*"))
            if p.suffix in (".txt", ".md")
        ]
    elif path.is_file() and path.suffix in (".txt", ".md"):
        texts = [path.read_text(encoding="utf-8", errors="replace")]
    else:
        from lingualift.io import first_split, load_source

        data = first_split(load_source(config.data, trust_remote_code=config.trust_remote_code))
        if config.text_field in data.column_names:
            texts = [t for t in data[config.text_field] if isinstance(t, str)]
        elif "messages" in data.column_names:
            texts = [m.get("content") or "" for row in data["messages"] for m in row or []]
        else:
            raise DataError(
                f"{config.data}: no '{config.text_field}' column (--text-field) and no `messages` "
                f"(it has: {', '.join(data.column_names)})"
            )
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    lines = lines[: config.limit] if config.limit else lines
    if len(lines) < 10:
        raise DataError(
            f"{config.data}: {len(lines)} non-empty lines of text; the trainer needs at least 10 "
            "(thousands for useful pieces)"
        )
    return lines


class Vocabulary:
    """The base tokenizer's BPE model as JSON, with new tokens and merges appended."""

    def __init__(self, backend_json: str, where: str):
        self.spec = json.loads(backend_json)
        model = self.spec.get("model") or {}
        kind = model.get("type")
        if kind != "BPE":
            raise ModelError(
                f"{where}: the tokenizer is a {kind} model; `tokenizer extend` supports BPE tokenizers "
                "(byte-level as GPT-2/Llama 3/Qwen/SmolLM, SentencePiece BPE as Llama 2/Mistral/Gemma)"
            )
        self.vocab: dict[str, int] = model["vocab"]
        self.byte_level = _uses(self.spec, "ByteLevel")
        self.metaspace = _metaspace(self.spec)
        if not self.byte_level and self.metaspace is None:
            raise ModelError(
                f"{where}: BPE without byte-level or SentencePiece (▁) word marks is not supported"
            )
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.pairs_as_strings = bool(model["merges"]) and isinstance(model["merges"][0], str)
        taken = list(self.vocab.values()) + [t["id"] for t in self.spec.get("added_tokens") or []]
        self.next_id = max(taken) + 1
        self.added: list[dict] = []  # {"piece", "id", "parts" (the merge, or [] for a character)}

    def tokenizer(self):
        from tokenizers import Tokenizer

        return Tokenizer.from_str(json.dumps(self.spec))

    def add(self, piece: str, parts: list[str]) -> None:
        self.vocab[piece] = self.next_id
        if parts:
            self.spec["model"]["merges"].append(" ".join(parts) if self.pairs_as_strings else list(parts))
        self.added.append({"piece": piece, "id": self.next_id, "parts": parts})
        self.next_id += 1


def _uses(spec: dict, kind: str) -> bool:
    return kind in json.dumps(spec.get("pre_tokenizer")) or kind in json.dumps(spec.get("decoder"))


def _metaspace(spec: dict) -> str | None:
    """The word mark of a SentencePiece-style tokenizer (`▁`), or None."""
    text = json.dumps(spec.get("pre_tokenizer")) + json.dumps(spec.get("normalizer"))
    return "▁" if "Metaspace" in text or "\\u2581" in text or "▁" in text else None


def learn_pieces(vocabulary: Vocabulary, lines: list[str], *, size: int, min_frequency: int) -> list[str]:
    """Pieces of the language in the trainer's order, written as the base vocabulary writes them."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if vocabulary.byte_level:
        trainer_tokenizer = Tokenizer.from_str(
            json.dumps(
                {
                    **vocabulary.spec,
                    "added_tokens": [],
                    "post_processor": None,
                    "model": {"type": "BPE", "vocab": {}, "merges": []},
                }
            )
        )
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        trainer_tokenizer = Tokenizer(models.BPE())
        trainer_tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="always", split=True
        )
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=size, min_frequency=min_frequency, initial_alphabet=alphabet, show_progress=False
    )
    trainer_tokenizer.train_from_iterator(lines, trainer=trainer)
    learned = json.loads(trainer_tokenizer.to_str())["model"]["vocab"]
    return [piece for piece, _ in sorted(learned.items(), key=lambda item: item[1])]


def extend_vocabulary(vocabulary: Vocabulary, pieces: list[str], *, budget: int) -> None:
    """Add the pieces the current vocabulary splits badly, each as a merge of its two current tokens."""
    base_model = vocabulary.tokenizer().model
    candidates = [p for p in pieces if p not in vocabulary.vocab and len(base_model.tokenize(p)) >= 2]
    if vocabulary.metaspace and vocabulary.byte_fallback:  # characters the base only has as bytes
        for piece in [p for p in pieces if len(p) == 1 and p not in vocabulary.vocab][:budget]:
            vocabulary.add(piece, [])
    candidates = [p for p in candidates if p not in vocabulary.vocab]
    while len(vocabulary.added) < budget and candidates:
        model = vocabulary.tokenizer().model
        waiting, taken = [], 0
        for piece in candidates:
            tokens = [t.value for t in model.tokenize(piece)]
            if len(tokens) == 2 and not any(_is_byte(t) for t in tokens) and len(vocabulary.added) < budget:
                vocabulary.add(piece, tokens)
                taken += 1
            elif len(tokens) > 2:
                waiting.append(piece)
        if taken == 0:
            break
        candidates = waiting


def extended_sentencepiece(source: Path, vocabulary: Vocabulary, target: Path) -> bool:
    """The base's SentencePiece BPE model with the added pieces appended (ids continuing its own,
    scores below every earlier piece, so they merge after the base's, as the appended BPE merges do):
    llama.cpp's converter reads tokenizer.model for Llama 2, Mistral and Gemma, not tokenizer.json.
    False (nothing written) where the base has none, or its pieces do not line up with the ids."""
    if not source.is_file() or vocabulary.metaspace is None or not vocabulary.added:
        return False
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(source.read_bytes())
    bpe = model_pb2.TrainerSpec.ModelType.Value("BPE")
    if proto.trainer_spec.model_type != bpe or vocabulary.added[0]["id"] != len(proto.pieces):
        return False
    normal = model_pb2.ModelProto.SentencePiece.Type.Value("NORMAL")
    lowest = min((p.score for p in proto.pieces if p.type == normal), default=0.0)
    for index, added in enumerate(vocabulary.added):
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = added["piece"], lowest - 1 - index, normal
    proto.trainer_spec.vocab_size = len(proto.pieces)
    target.write_bytes(proto.SerializeToString())
    return True


def _is_byte(token: str) -> bool:
    return len(token) == 6 and token.startswith("<0x") and token.endswith(">")


def fertility(tokenizer, lines: list[str]) -> dict:
    """Tokens per word and characters per token over `lines` (no special tokens)."""
    from lingualift.tools.check import word_count

    tokens = sum(len(ids) for ids in tokenizer(lines, add_special_tokens=False)["input_ids"])
    words = sum(word_count(line) for line in lines)
    chars = sum(len(line) for line in lines)
    return {
        "lines": len(lines),
        "words": words,
        "tokens": tokens,
        "tokens_per_word": round(tokens / max(words, 1), 4),
        "chars_per_token": round(chars / max(tokens, 1), 4),
    }


def round_trip_mismatches(base, extended, lines: list[str]) -> list[int]:
    """Lines the extended tokenizer does not decode to what the base tokenizer decodes."""
    before = base.batch_decode(base(lines, add_special_tokens=False)["input_ids"])
    after = extended.batch_decode(extended(lines, add_special_tokens=False)["input_ids"])
    return [i for i, (a, b) in enumerate(zip(before, after)) if a != b]


def _init_embeddings(model, vocabulary: Vocabulary, base_tokenizer) -> None:
    """Resize the embeddings and set each new row to the mean of its base sub-token rows."""
    import torch

    old_rows = model.get_input_embeddings().weight.shape[0]
    base_model = base_tokenizer.backend_tokenizer.model
    parts = {a["id"]: [t.id for t in base_model.tokenize(a["piece"])] for a in vocabulary.added}
    model.resize_token_embeddings(max(old_rows, vocabulary.next_id), mean_resizing=False)
    inputs, outputs = model.get_input_embeddings().weight, model.get_output_embeddings()
    tied = outputs is None or outputs.weight.data_ptr() == inputs.data_ptr()
    with torch.no_grad():
        for new_id, ids in parts.items():
            ids = [i for i in ids if i is not None and i < old_rows] or [base_tokenizer.unk_token_id or 0]
            inputs[new_id] = inputs[ids].mean(dim=0)
            if not tied:
                outputs.weight[new_id] = outputs.weight[ids].mean(dim=0)


class TokenizerReport(StageReport):
    """lingualift_tokenizer.json (beside the extended model): what was added and the fertility
    (tokens per word) on held-out lines before and after."""

    base_model: Optional[str] = None
    lang: Optional[str] = None
    language: Optional[str] = None
    data: Optional[str] = None
    kind: Optional[str] = None  # byte-level BPE, SentencePiece BPE
    lines: dict[str, int] = Field(default_factory=dict)  # training, held_out
    added_tokens: int = 0
    asked: Optional[int] = None
    base_vocab: Optional[int] = None
    new_vocab: Optional[int] = None
    embedding_rows: Optional[int] = None
    fertility: dict[str, Any] = Field(
        default_factory=dict
    )  # before, after (lines, words, tokens, ...), reduction
    held_out_round_trip_mismatches: int = 0
    pieces_used_on_held_out: Optional[int] = None
    pieces: list[dict[str, Any]] = Field(default_factory=list)  # piece, token, id, merge, base_tokens
    init: Optional[str] = None
    examples: list[str] = Field(default_factory=list)
    seconds: Optional[Number] = None


def extend_tokenizer(config: ExtendConfig, *, echo=print) -> TokenizerReport:
    """Train pieces on the target text, extend the tokenizer and the model, save both with a report."""
    import torch
    from transformers import AutoTokenizer

    from lingualift.languages import get_language
    from lingualift.models import adapter_base, load_causal_lm, resolve_model

    started = time.perf_counter()
    language = get_language(config.lang)  # an unknown code is one line, before anything loads
    path = resolve_model(config.model)
    if adapter_base(path):
        raise ConfigError(
            f"{config.model} is a LoRA adapter: merge it first (lingualift export merge), then extend "
            "the merged model's tokenizer"
        )
    lines = read_lines(config)
    shuffled = lines[:]
    random.Random(config.seed).shuffle(shuffled)
    n_held = max(1, round(len(lines) * config.held_out))
    held_out, training = shuffled[:n_held], shuffled[n_held:]
    try:
        base = AutoTokenizer.from_pretrained(path, trust_remote_code=config.trust_remote_code)
    except OSError as error:
        raise ModelError(f"cannot load the tokenizer of '{config.model}': {error}") from error
    if not getattr(base, "is_fast", False) or not hasattr(base, "backend_tokenizer"):
        raise ModelError(
            f"{config.model}: the tokenizer has no tokenizer.json (a slow-only tokenizer); "
            "`tokenizer extend` works on `tokenizers` BPE models"
        )
    vocabulary = Vocabulary(base.backend_tokenizer.to_str(), config.model)
    echo(f"training pieces on {len(training)} lines of {config.lang} ({len(held_out)} held out)")
    pieces = learn_pieces(vocabulary, training, size=256 + 4 * config.add, min_frequency=config.min_frequency)
    extend_vocabulary(vocabulary, pieces, budget=config.add)
    if not vocabulary.added:
        raise DataError(
            f"{config.data}: the base tokenizer already has every piece the trainer found (or the text is "
            "too small); nothing to add"
        )
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    base.save_pretrained(out)
    (out / "tokenizer.json").write_text(json.dumps(vocabulary.spec, ensure_ascii=False))
    kept = extended_sentencepiece(Path(path) / "tokenizer.model", vocabulary, out / "tokenizer.model")
    for stale in ("tokenizer.model", "vocab.json", "merges.txt", "spiece.model"):  # slow-tokenizer files
        if not (stale == "tokenizer.model" and kept):  # the old vocabulary, where not extended here
            (out / stale).unlink(missing_ok=True)
    extended = AutoTokenizer.from_pretrained(out)
    if len(extended) != len(base) + len(vocabulary.added):
        raise ModelError(
            f"{config.model}: the extended tokenizer reloads with {len(extended)} tokens, expected "
            f"{len(base) + len(vocabulary.added)}; this tokenizer class rebuilds its vocabulary"
        )
    mismatches = round_trip_mismatches(base, extended, held_out)
    if mismatches:
        raise ModelError(
            f"the extended tokenizer decodes {len(mismatches)} held-out lines differently from the base "
            f"(first: line {mismatches[0]}); nothing saved as a model"
        )
    before, after = fertility(base, held_out), fertility(extended, held_out)
    echo(f"loading {config.model} to resize its embeddings")
    model = load_causal_lm(path, dtype=torch.float32, trust_remote_code=config.trust_remote_code)
    _init_embeddings(model, vocabulary, base)  # new rows computed in float32, saved in the base's dtype
    from lingualift.export import saved_dtype

    model.to(getattr(torch, saved_dtype("auto", path))).save_pretrained(out)
    extended.save_pretrained(out)
    base.save_pretrained(out / BASE_TOKENIZER)
    used = _used_pieces(extended, vocabulary, held_out)
    report = TokenizerReport(
        base_model=config.model,
        lang=config.lang,
        language=language.name,
        data=config.data,
        kind="byte-level BPE" if vocabulary.byte_level else "SentencePiece BPE",
        lines={"training": len(training), "held_out": len(held_out)},
        added_tokens=len(vocabulary.added),
        asked=config.add,
        base_vocab=len(base),
        new_vocab=len(extended),
        embedding_rows=model.get_input_embeddings().weight.shape[0],
        fertility={
            "before": before,
            "after": after,
            "reduction": round(1 - after["tokens_per_word"] / before["tokens_per_word"], 4),
        },
        held_out_round_trip_mismatches=0,
        pieces_used_on_held_out=used,
        pieces=[
            {
                "piece": _readable(a["piece"], vocabulary, extended),
                "token": a["piece"],
                "id": a["id"],
                "merge": a["parts"],
                "base_tokens": len(base.backend_tokenizer.model.tokenize(a["piece"])),
            }
            for a in vocabulary.added
        ],
        init="mean of the base sub-token embeddings",
        examples=held_out[:3],
        seconds=round(time.perf_counter() - started, 2),
    )
    report.write(out / MARKER)
    echo(
        f"added {len(vocabulary.added)} tokens ({len(base)} → {len(extended)}); tokens per word on held-out "
        f"{config.lang}: {before['tokens_per_word']} → {after['tokens_per_word']} "
        f"({report.fertility['reduction']:.0%} fewer tokens) → {out}"
    )
    return report


def _readable(token: str, vocabulary: Vocabulary, tokenizer) -> str:
    """A piece as text: `▁` (SentencePiece) or `Ġ` (byte-level) become the space they stand for."""
    return (
        token.replace("▁", " ") if not vocabulary.byte_level else tokenizer.convert_tokens_to_string([token])
    )


def _used_pieces(tokenizer, vocabulary: Vocabulary, lines: list[str]) -> int:
    new_ids = {a["id"] for a in vocabulary.added}
    return len(
        {i for ids in tokenizer(lines, add_special_tokens=False)["input_ids"] for i in ids if i in new_ids}
    )
