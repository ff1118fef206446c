"""Talking to a (tuned) chat model: streamed replies, a multi-turn session, batched generation.
Used by `lingualift chat`, `lingualift serve` and the fidelity evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

from pydantic import ConfigDict, Field

from lingualift.chat_model import stop_ids
from lingualift.errors import ModelError
from lingualift.models import ModelPlacement


class ChatConfig(ModelPlacement):
    """Options of `lingualift chat`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Chat model: hub id, local directory (merged or adapter), or `demo`")
    adapter: Optional[str] = Field(
        None, description="LoRA adapter on top of MODEL (lingualift train's output)"
    )
    system: Optional[str] = Field(None, description="System prompt")
    prompt: Optional[str] = Field(None, description="One-shot: answer this prompt and exit")
    input: Optional[str] = Field(None, description="Batch: a .jsonl of {prompt} or {messages} rows")
    out: Optional[str] = Field(None, description="Batch: where to write the .jsonl with a `reply` per row")
    max_new_tokens: int = Field(256, gt=0, le=8192, description="Reply length limit")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy)")
    batch_size: int = Field(8, gt=0, description="Batch: prompts generated together")


def _inputs(tokenizer, messages: list[dict], thinking: bool | None = False):
    from lingualift.chat_model import render

    _require_template(tokenizer)
    text = render(tokenizer, messages, generation_prompt=True, thinking=thinking)
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")


def _require_template(tokenizer) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            "the tokenizer has no chat template (a base model?): pass --chat-template chatml or a Jinja file"
        )


def _sampling(temperature: float) -> dict:
    return {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}


def stream_reply(
    model, tokenizer, messages: list[dict], *, max_new_tokens: int = 256, temperature: float = 0.0
) -> Iterator[str]:
    """Yield the reply's text piece by piece as it is generated (generation runs in a thread)."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    inputs = _inputs(tokenizer, messages).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            with torch.inference_mode():
                model.generate(
                    **inputs,
                    streamer=streamer,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=sorted(stop_ids(model, tokenizer)),
                    **_sampling(temperature),
                )
        except BaseException as error:  # noqa: BLE001 — re-raised in the caller's thread below
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    yield from (piece for piece in streamer if piece)
    worker.join()
    if failure:
        raise failure[0]


def reply_once(
    model, tokenizer, messages: list[dict], *, max_new_tokens: int = 256, temperature: float = 0.0
) -> tuple[str, int, int, str]:
    """(reply, prompt tokens, completion tokens, finish reason 'stop' or 'length')."""
    import torch

    inputs = _inputs(tokenizer, messages).to(model.device)
    end_ids = stop_ids(model, tokenizer)
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(end_ids),
            **_sampling(temperature),
        )
    new = output[0][inputs["input_ids"].shape[1] :]
    ended = len(new) and int(new[-1]) in end_ids
    text = tokenizer.decode(new, skip_special_tokens=True).strip()
    return (
        text,
        int(inputs["input_ids"].shape[1]),
        len(new),
        "stop" if ended or len(new) < max_new_tokens else "length",
    )


def generate_batch(
    model,
    tokenizer,
    chats: list[list[dict]],
    *,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    temperature: float = 0.0,
    progress: bool = False,
    cut_off: list | None = None,
    thinking: bool | None = False,
) -> list[str]:
    """Replies to many chats: sorted by length so each batch pads little, returned in the input
    order. `cut_off`, a list, receives per reply whether it stopped at max_new_tokens.

    Greedy (temperature 0) runs the translator's pruned loop: a finished reply leaves its batch, and
    the tokens every chat starts with (template, system prompt) are forwarded once. Sampling, and a
    model whose generation config changes greedy decoding (a repetition penalty, ...), run
    transformers' generate. `thinking` goes to a thinking template: off unless asked (a model we tuned
    learned to answer after an empty reasoning block), None for the template's own default."""
    from tqdm.auto import tqdm

    from lingualift.chat_model import render, thinks, without_reasoning

    _require_template(tokenizer)
    texts = [render(tokenizer, c, generation_prompt=True, thinking=thinking) for c in chats]
    thinks_now = thinks(tokenizer)
    prompts = tokenizer(texts, add_special_tokens=False)["input_ids"]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    replies: list[str] = [""] * len(prompts)
    stopped = [False] * len(prompts)
    end_ids = stop_ids(model, tokenizer)
    pruned = temperature <= 0 and plain_greedy(getattr(model, "generation_config", None))
    prefix = _shared_prefix(prompts) if pruned else None
    bar = tqdm(total=len(prompts), desc="generate", unit="reply", disable=not progress)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        if pruned:
            new = _greedy(model, tokenizer, [prompts[i] for i in chunk], max_new_tokens, end_ids, prefix)
        else:
            new = _sampled(
                model, tokenizer, [prompts[i] for i in chunk], max_new_tokens, temperature, end_ids
            )
        for index, ids in zip(chunk, new):
            replies[index] = tokenizer.decode(ids, skip_special_tokens=True).strip()
            if thinks_now:  # the answer, never the reasoning (Qwen3's <think> is not a special token)
                replies[index] = without_reasoning(replies[index]).text
            stopped[index] = bool(ids) and ids[-1] in end_ids
        bar.update(len(chunk))
    bar.close()
    if cut_off is not None:
        cut_off[:] = [not done for done in stopped]
    return replies


# generation-config settings under which greedy generate is not plain argmax (value: what leaves it plain)
GREEDY_CHANGERS = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "num_beams": (None, 1),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "exponential_decay_length_penalty": (None,),
    "bad_words_ids": (None, []),
    "suppress_tokens": (None, []),
    "begin_suppress_tokens": (None, []),
    "sequence_bias": (None, {}),
}


def plain_greedy(generation_config) -> bool:
    """Whether greedy generate under this config is plain argmax, which the pruned loop reproduces
    (Qwen2.5's config, for one, carries repetition_penalty 1.05 that generate applies)."""
    return generation_config is None or all(
        getattr(generation_config, key, None) in plain for key, plain in GREEDY_CHANGERS.items()
    )


def _shared_prefix(prompts: list[list[int]]):
    """The PromptPrefix of the tokens every prompt starts with (one short of the shortest, so each
    goes on after it), or None when they share too little to be worth a cache."""
    from lingualift.translate.backends.pruned import PromptPrefix

    if len(prompts) < 2:
        return None
    size = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for other in prompts[1:]:
        size = next((i for i in range(size) if other[i] != first[i]), size)
    return PromptPrefix(first[:size]) if size >= 8 else None


def _greedy(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, end_ids: set[int], prefix):
    """Generated ids per prompt (pruned.greedy_pruned: the same tokens as greedy generate)."""
    from lingualift.hardware import pack_prefill
    from lingualift.translate.backends.pruned import greedy_pruned

    if prefix is not None:
        prompts = [p[len(prefix.ids) :] for p in prompts]
    encoded = tokenizer.pad({"input_ids": prompts}, return_tensors="pt", padding_side="left").to(model.device)
    return greedy_pruned(
        model,
        encoded["input_ids"],
        encoded["attention_mask"],
        max_new_tokens=[max_new_tokens] * len(prompts),
        end_ids=end_ids,
        prefix=prefix,
        packed=pack_prefill(str(model.device)),
    )


def _sampled(
    model, tokenizer, prompts: list[list[int]], max_new_tokens: int, temperature: float, end_ids: set[int]
):
    """Generated ids per prompt from transformers' generate (left-padded batch), each up to and
    including the token that ended it, as greedy_pruned returns them."""
    import torch

    encoded = tokenizer.pad({"input_ids": prompts}, return_tensors="pt", padding_side="left").to(model.device)
    with torch.inference_mode():
        output = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(end_ids),
            **_sampling(temperature),
        )
    rows = output[:, encoded["input_ids"].shape[1] :].tolist()
    return [row[: next((i + 1 for i, t in enumerate(row) if t in end_ids), len(row))] for row in rows]


def with_system(messages: list[dict], system: str | None) -> list[dict]:
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}, *messages]
    return messages


def read_batch(path: str) -> list[list[dict]]:
    """Rows of a .jsonl: `messages` (a chat) or `prompt` (one user turn); a bad row is one error line."""
    import json
    from pathlib import Path

    from lingualift.errors import DataError

    chats = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not JSON ({error.msg})") from error
        if isinstance(row, dict) and isinstance(row.get("messages"), list) and row["messages"]:
            chats.append(row["messages"])
        elif isinstance(row, dict) and isinstance(row.get("prompt"), str) and row["prompt"].strip():
            chats.append([{"role": "user", "content": row["prompt"]}])
        else:
            raise DataError(f"{path}:{number}: expected a non-empty `prompt` string or `messages` list")
    if not chats:
        raise DataError(f"{path}: no rows")
    return chats


def repl(model, tokenizer, config: ChatConfig, *, read=input, write=print) -> None:
    """Multi-turn chat on the terminal: replies stream as they are generated.
    /reset forgets the conversation, /system TEXT sets the system prompt, /exit (or Ctrl-D) quits."""
    system = config.system
    history: list[dict] = []
    write(
        "chat with "
        + config.model
        + (f" + {config.adapter}" if config.adapter else "")
        + " — /reset, /system TEXT, /exit"
    )
    while True:
        try:
            line = read("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return
        if line == "/reset":
            history = []
            write("(conversation cleared)")
            continue
        if line.startswith("/system"):
            system = line[len("/system") :].strip() or None
            history = []
            write(f"(system prompt: {system or 'none'}; conversation cleared)")
            continue
        history.append({"role": "user", "content": line})
        write("model> ", end="", flush=True)
        pieces = []
        for piece in stream_reply(
            model,
            tokenizer,
            with_system(history, system),
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
        ):
            pieces.append(piece)
            write(piece, end="", flush=True)
        write("")
        history.append({"role": "assistant", "content": "".join(pieces).strip()})


def run_chat(config: ChatConfig, *, echo=print) -> None:
    import json
    from pathlib import Path

    from lingualift.errors import ConfigError
    from lingualift.models import load_chat_model

    if bool(config.input) != bool(config.out):
        raise ConfigError("batch mode needs both --input FILE.jsonl and --out FILE.jsonl")
    if config.prompt and config.input:
        raise ConfigError("--prompt and --input exclude each other")
    chats = read_batch(config.input) if config.input else None  # bad input is reported before loading
    model, tokenizer = load_chat_model(
        config.model,
        device=config.device,
        adapter=config.adapter,
        quantization=config.quantization(),
        chat_template=config.chat_template,
    )
    if config.prompt:
        for piece in stream_reply(
            model,
            tokenizer,
            with_system([{"role": "user", "content": config.prompt}], config.system),
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
        ):
            print(piece, end="", flush=True)
        print()
        return
    if chats is not None:
        replies = generate_batch(
            model,
            tokenizer,
            [with_system(c, config.system) for c in chats],
            max_new_tokens=config.max_new_tokens,
            batch_size=config.batch_size,
            temperature=config.temperature,
            progress=True,
        )
        rows = [
            json.loads(line)
            for line in Path(config.input).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        Path(config.out).parent.mkdir(parents=True, exist_ok=True)
        with open(config.out, "w", encoding="utf-8") as handle:
            for row, reply in zip(rows, replies):
                handle.write(json.dumps({**row, "reply": reply}, ensure_ascii=False) + "\n")
        echo(f"{len(replies)} replies → {config.out}")
        return
    repl(model, tokenizer, config)
