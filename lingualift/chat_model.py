"""What a chat model is, in one place: its chat template (the tokenizer's, a Jinja file, or one we
ship for base models), the token(s) that end an assistant turn (found by rendering a one-turn
chat), whether its template thinks (`enable_thinking`), and what it writes into a saved
`generation_config.json` so transformers, vLLM and llama.cpp stop where training taught it to.

Training labels, every generation path's stop ids, saving, and the LLM translator, teacher and
judge ask this module; a new family is a template here, not edits in five files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lingualift.errors import ConfigError, ModelError

# Templates shipped for base models. Each uses only its own special tokens, added to the
# vocabulary (and their embedding rows trained) where a base lacks them.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
# Gemma's own: no system role, so a system prompt opens the first user turn.
GEMMA = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\\n\\n' %}{% else %}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) + '\\n' + "
    "ns.system + message['content'] | trim + '<end_of_turn>\\n' }}{% set ns.system = '' %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)
NAMED_TEMPLATES = {
    "chatml": (CHATML, ["<|im_start|>", "<|im_end|>"]),
    "llama3": (LLAMA3, ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]),
    "gemma": (GEMMA, ["<start_of_turn>", "<end_of_turn>"]),
}
# Special-token shapes a template file may use: <|...|> (ChatML, Llama 3, Phi) and <..._of_turn>.
TOKEN_SHAPES = re.compile(r"<\|[A-Za-z0-9_]+\|>|<(?:start|end)_of_turn>")
MARKER = "LINGUALIFTMARKER"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def template_and_tokens(spec: str) -> tuple[str, list[str]]:
    """(Jinja text, special tokens it needs) for a named template or a Jinja file."""
    if spec in NAMED_TEMPLATES:
        return NAMED_TEMPLATES[spec]
    from lingualift.conversations.template import load_template

    if not Path(spec).is_file():
        raise ConfigError(
            f"--chat-template {spec}: neither a file nor a template we ship ({', '.join(NAMED_TEMPLATES)})"
        )
    text = load_template(spec)
    return text, list(dict.fromkeys(TOKEN_SHAPES.findall(text)))


def use_chat_template(tokenizer, spec: str | None, *, where: str) -> list[str]:
    """Give `tokenizer` the chat template `spec` names (None: keep its own) and add the special tokens
    that template needs and the vocabulary lacks. Returns the tokens added (their embedding rows
    must be resized and trained). A tokenizer with no template and no `spec` is one line."""
    if spec is None:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"{where} has no chat template (a base model?): pass --chat-template chatml, another "
                f"template we ship ({', '.join(NAMED_TEMPLATES)}), or a Jinja file"
            )
        return []
    template, needed = template_and_tokens(spec)
    vocabulary = tokenizer.get_vocab()
    missing = [token for token in needed if token not in vocabulary]
    if missing:
        tokenizer.add_special_tokens({"extra_special_tokens": missing}, replace_extra_special_tokens=False)
    # tokens already in the vocabulary as plain text must not be split (a base's unused <|im_end|>)
    present = [t for t in needed if t not in missing and t not in tokenizer.all_special_tokens]
    if present:
        tokenizer.add_special_tokens({"extra_special_tokens": present}, replace_extra_special_tokens=False)
    tokenizer.chat_template = template
    return missing


def thinks(tokenizer) -> bool:
    """Whether the template takes `enable_thinking` (Qwen3, and the templates built like it)."""
    return "enable_thinking" in (getattr(tokenizer, "chat_template", None) or "")


def render(tokenizer, messages: list[dict], *, generation_prompt: bool, thinking: bool | None = None) -> str:
    """The template's text for `messages`; `thinking` False/True is passed to a thinking template
    (None leaves its default), ignored by others."""
    extra = {"enable_thinking": thinking} if thinking is not None and thinks(tokenizer) else {}
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt, **extra
    )


def turn_end_text(tokenizer) -> str:
    """The text the template writes right after an assistant turn's content, up to and including its
    last special token there ('<|im_end|>', '<|eot_id|>', '<end_of_turn>', '</s>'); empty when the
    template ends turns with plain text only."""
    rendered = render(
        tokenizer,
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": MARKER}],
        generation_prompt=False,
    )
    if MARKER not in rendered:
        raise ModelError("the chat template drops the assistant's reply: it cannot be used to train or chat")
    after = rendered[rendered.index(MARKER) + len(MARKER) :]
    special = sorted(
        set(tokenizer.all_special_tokens) | set(_added_special(tokenizer)), key=len, reverse=True
    )
    end, position = 0, 0
    while position < len(after):
        token = next((s for s in special if s and after.startswith(s, position)), None)
        if token is not None:
            position += len(token)
            end = position
        elif after[position].isspace():
            position += 1
        else:
            break
    return after[:end]


def _added_special(tokenizer) -> list[str]:
    return [t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if t.special]


def end_of_turn_ids(tokenizer) -> list[int]:
    """Ids of the special tokens that close an assistant turn in this template."""
    text = turn_end_text(tokenizer)
    if not text:
        return []
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids) | {
        i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special
    }
    return [i for i in ids if i in special]


def stop_ids(model, tokenizer) -> set[int]:
    """Every id that ends a reply of `model` (its generation config's, see ending_ids)."""
    return ending_ids(getattr(model, "generation_config", None), tokenizer)


def ending_ids(generation_config, tokenizer) -> set[int]:
    """Every id that ends a reply: the generation config's eos (one or several), the tokenizer's,
    and the template's end of turn (a base model's eos is not where its chat template ends a turn)."""
    eos = getattr(generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    if getattr(tokenizer, "chat_template", None):
        ids.update(end_of_turn_ids(tokenizer))
    return ids


def save_generation_config(directory: str | Path, model, tokenizer) -> list[int]:
    """Write DIR/generation_config.json with every stop id as eos_token_id (the model's own config
    otherwise kept), so transformers, vLLM and llama.cpp's converter stop at the end of a turn.
    Returns the ids written."""
    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None)
    config = GenerationConfig.from_dict(base.to_dict()) if base is not None else GenerationConfig()
    ids = sorted(stop_ids(model, tokenizer))
    config.eos_token_id = ids[0] if len(ids) == 1 else ids
    if config.pad_token_id is None and tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    config.save_pretrained(str(directory))
    return ids


@dataclass(frozen=True)
class Answer:
    """A reply with its reasoning taken out: the answer, whether a reasoning block was removed, and
    why the reply is no answer at all (None when it is one)."""

    text: str
    had_reasoning: bool = False
    problem: str | None = None


def without_reasoning(reply: str) -> Answer:
    """The answer part of a thinking model's reply: a leading `<think>…</think>` block removed (also
    a block whose opening tag was in the prompt, as Qwen3's and R1's templates put it). An unclosed
    block is `unclosed_reasoning`; a reply that is only reasoning is `only_reasoning`."""
    stripped = reply.lstrip()
    opened = stripped.startswith(THINK_OPEN)
    if THINK_CLOSE in stripped and (opened or THINK_OPEN not in stripped):
        answer = stripped.split(THINK_CLOSE, 1)[1].strip()
        return Answer(answer, True, None if answer else "only_reasoning")
    if opened:
        return Answer("", True, "unclosed_reasoning")
    return Answer(reply)
