"""`lingualift chat`: talk to a model (REPL, one prompt, or a batch file)."""

from __future__ import annotations

from typing import Annotated

import typer

from lingualift.chat import ChatConfig
from lingualift.stage import Stage
from lingualift.stages.arguments import MODEL_ARGUMENT


def command(config: ChatConfig, model: Annotated[str, MODEL_ARGUMENT]) -> None:
    """Talk to a model: an interactive REPL with streamed replies and multi-turn history (/reset,
    /system TEXT, /exit), a one-shot --prompt, or batched generation --input FILE.jsonl --out FILE.jsonl
    (rows with `prompt` or `messages`; sorted by length and batched; a `reply` added to each row).

    MODEL may be `demo`, a hub id, a merged model, or an adapter directory from `lingualift train`
    (its base is loaded and the adapter applied); --adapter puts an adapter on MODEL explicitly.
    """
    from lingualift.chat import run_chat

    run_chat(config, echo=typer.echo)


STAGE = Stage("chat", ChatConfig, command=command)
