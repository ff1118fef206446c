"""Push a trained adapter or model to the Hugging Face hub with a model card (never the token)."""

from __future__ import annotations

from pathlib import Path

from lingualift.errors import DataError
from lingualift.io import hub_token


def model_card(repo_id: str, report: dict) -> str:
    config = report.get("config", {})
    mode = report.get("mode")
    library = {"full": "transformers", "gguf": "gguf"}.get(mode, "peft")
    what = {"full": "full weights", "gguf": f"GGUF, {report.get('gguf_type')}"}.get(mode, "LoRA adapter")
    lines = [
        "---",
        f"base_model: {config.get('model')}",
        f"library_name: {library}",
        "tags:",
        "- lingualift",
        f"- {report.get('method')}",
        "---",
        "",
        f"# {repo_id}",
        "",
        f"{report.get('method', '').upper()} of `{config.get('model')}` with lingualift "
        f"({what}) on `{config.get('data')}`.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for key in (
        "steps",
        "epochs",
        "first_loss",
        "final_loss",
        "best_eval_loss",
        "non_pad_tokens_seen",
        "trainable_parameters",
        "train_seconds",
        "greedy_tokens_identical",
        "greedy_tokens_compared",
        "max_abs_logit_diff",
    ):
        if report.get(key) is not None:
            lines.append(f"| {key.replace('_', ' ')} | {report[key]} |")
    settings = {
        k: config.get(k)
        for k in (
            "lora_r",
            "lora_alpha",
            "max_seq_length",
            "lr",
            "batch_size",
            "grad_accum",
            "packing",
            "assistant_only_loss",
        )
    }
    lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), ""]
    return "\n".join(lines)


def push_model(out: Path, repo_id: str, report: dict, *, private: bool = True) -> str:
    """Upload OUT (without checkpoints) and a generated README.md; returns the repo URL."""
    from huggingface_hub import HfApi

    token = hub_token()
    card = model_card(repo_id, report)
    if token in card:
        raise DataError("refusing to push: the model card would contain the hub token")
    (Path(out) / "README.md").write_text(card)
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(out), repo_id=repo_id, ignore_patterns=["checkpoints/*", "launch_config.json"]
        )
    except Exception as error:  # noqa: BLE001 — network/auth failures become one line, without the token
        raise DataError(f"push to {repo_id} failed: {str(error).replace(token, '***')}") from error
    return str(url)
