"""Render `messages` to training text: the tokenizer's own chat template, or a Jinja file.

LLaMa2lang's `threads/template_*.txt` files are Jinja chat templates; they render unchanged.
"""

from __future__ import annotations

from pathlib import Path

from lingualift.errors import ConfigError


def load_template(path: str | Path) -> str:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: template file not found")
    text = file.read_text(encoding="utf-8")
    if "{%" not in text and "{{" not in text:
        raise ConfigError(f"{file}: not a Jinja chat template (no {{% %}} or {{{{ }}}} tags)")
    return text


def render(messages: list[dict], *, tokenizer=None, template: str | None = None) -> str:
    """Render one conversation. With a tokenizer, its chat template (or `template`) is used
    through transformers itself; without one, `template` renders with transformers' Jinja
    environment and empty bos/eos tokens."""
    try:
        if tokenizer is not None:
            if template is None and not getattr(tokenizer, "chat_template", None):
                raise ConfigError("the tokenizer has no chat template: pass --template FILE")
            # Templates written for Llama-2 use bos_token; tokenizers without one render it empty.
            tokens = {"bos_token": tokenizer.bos_token or "", "eos_token": tokenizer.eos_token or ""}
            return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, **tokens)
        if template is None:
            raise ConfigError("rendering needs a chat template: pass --template FILE or --model ID")
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(
            conversations=[messages], chat_template=template, bos_token="", eos_token=""
        )
        return rendered[0]
    except ConfigError:
        raise
    except Exception as error:  # a template's raise_exception or a Jinja error
        raise ConfigError(f"chat template failed on a conversation: {error}") from error
