"""Positional arguments several commands share."""

import typer

SOURCE_ARGUMENT = typer.Argument(help="Dataset: hub id, save_to_disk dir, or jsonl/csv/parquet files.")
MODEL_ARGUMENT = typer.Argument(help="Chat model: `demo`, a hub id, a merged model, or an adapter directory.")
