"""`lingualift train`: arguments first, then data (train/inputs.py), model (train/model.py) and
trainer; train (resuming from the last checkpoint); save the adapter or weights with the tokenizer
and chat template; write the report and loss curve.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from lingualift.train import inputs
from lingualift.train.config import TrainConfig
from lingualift.train.report import TrainingReport


def _check_device(config: TrainConfig) -> str:
    from lingualift.hardware import distributed_kind, unsupported_combination
    from lingualift.models import default_device, require_cuda_for_quantization

    require_cuda_for_quantization(config.quant4, config.quant8)
    _check_trainer_options(config)
    refusal = unsupported_combination(distributed_kind(), quant4=config.quant4, quant8=config.quant8)
    if refusal:
        from lingualift.errors import ConfigError

        raise ConfigError(refusal)
    return default_device()


def _check_trainer_options(config: TrainConfig) -> None:
    """Options whose package or GPU is missing, one line each before anything loads."""
    import importlib.util

    from lingualift.errors import ConfigError
    from lingualift.hardware import Machine, flash_attention_refusal

    if ("8bit" in config.optimizer or "paged" in config.optimizer) and not importlib.util.find_spec(
        "bitsandbytes"
    ):
        raise ConfigError(f"--optimizer {config.optimizer} needs bitsandbytes: pip install 'lingualift[gpu]'")
    if config.attn_implementation == "flash_attention_2":
        refusal = flash_attention_refusal(
            Machine.here(), installed=importlib.util.find_spec("flash_attn") is not None
        )
        if refusal:
            raise ConfigError(refusal)
    if config.report_to != "none" and not importlib.util.find_spec(config.report_to):
        extra = "tracking" if config.report_to == "tensorboard" else "wandb"
        raise ConfigError(
            f"--report-to {config.report_to} needs the {config.report_to} package: pip install 'lingualift[{extra}]'"
        )


def _last_checkpoint(directory: Path) -> str | None:
    """The newest complete checkpoint. The trainer writes trainer_state.json last, so a kill in the
    middle of a save leaves a directory without it, which must not be resumed from."""
    if not directory.is_dir():
        return None
    complete = [p for p in directory.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    return str(max(complete, key=lambda p: int(p.name.split("-")[-1]))) if complete else None


def run_training(config: TrainConfig, *, echo=print) -> TrainingReport | None:
    """Arguments (which set up the launch's processes) → tokenizer and data → model and adapters →
    trainer → train (resuming) → save and report."""
    device = _check_device(config)  # before anything loads
    if config.push_to_hub:
        from lingualift.io import hub_token

        hub_token()  # a missing token is an error now, not after hours of training
    if config.accelerate_config:
        from lingualift.train.launch import launch

        return launch(config, echo=echo)
    started = time.perf_counter()
    out = Path(config.out)
    from transformers import set_seed

    from lingualift.hardware import Machine, distributed_kind, training_precision
    from lingualift.train import model as parts

    # before anything draws from the random generators: a new tokenizer's embedding rows and the LoRA
    # adapter (get_peft_model) are initialised before the Trainer seeds, and were drawn from whatever
    # state the process was in (the demo's tuned usable rate moved 57-83% between identical runs)
    set_seed(config.seed)
    machine, distributed = Machine.here(), distributed_kind()
    from lingualift.models import family_bf16_only

    precision = training_precision(machine, device, bf16_only=family_bf16_only(config.model))
    _estimate_memory(config, device, echo)
    args = _training_arguments(config, device, precision, distributed, echo)
    tokenizer, added = parts.load_tokenizer(config)
    if added:
        echo(
            f"--chat-template {config.chat_template}: {', '.join(added)} added to the vocabulary; "
            "their embedding rows train with the model"
        )
    tokenizer.padding_side = "right"
    dataset, eval_dataset, stats = inputs.training_data(config, tokenizer, echo)
    model, setup = parts.load_model(config, tokenizer, device, machine, distributed, grow=bool(added))
    peft_config = None if config.full else parts.lora_config(config, model, new_tokens=bool(added))
    model = parts.attach_adapters(
        model, config, peft_config, setup, distributed, _reentrant(config, distributed)
    )
    trainer = _trainer(config, args, model, tokenizer, dataset, eval_dataset)
    trainer.embedding_lr = parts.embedding_lr(config, peft_config)
    from lingualift.hardware import trainable_dtype

    quantized = config.quant4 or config.quant8
    setup.trainable_dtype = parts.cast_trainable(
        trainer.model, trainable_dtype(precision, distributed, quantized)
    )
    from lingualift.models import resolve_model

    model_path = resolve_model(config.model)
    stats.update(_vocabulary_stats(config, tokenizer, peft_config, model_path, added))
    result = _train(config, trainer, device, echo)
    setup.optimizer_groups = parts.optimizer_groups(trainer.optimizer, trainer.model)
    name = _checkpointing_name()  # the report says what the trainer really did, not what the flag asked
    if not getattr(trainer.args, name):
        setup.gradient_checkpointing = None
    elif setup.gradient_checkpointing is None:
        reentrant = (getattr(trainer.args, f"{name}_kwargs") or {}).get("use_reentrant", True)
        setup.gradient_checkpointing = "reentrant" if reentrant else "non-reentrant"
    ranks_in_save = _save(trainer, out)
    if not trainer.is_world_process_zero():  # rank 0 writes everything but the weights
        return None
    _record_adapter_base(out, model_path)
    tokenizer.padding_side = "left"  # for generation with the saved tokenizer
    tokenizer.save_pretrained(str(out))
    from lingualift.chat_model import save_generation_config

    save_generation_config(out, trainer.model, tokenizer)  # stops at the template's end of turn
    if added and not config.full:  # the base grows to these rows when the adapter is attached
        from lingualift.models import GROWN_BY_TEMPLATE

        rows = trainer.model.get_input_embeddings().weight.shape[0]
        (out / GROWN_BY_TEMPLATE).write_text(json.dumps({"added_tokens": added, "rows": int(rows)}, indent=2))
    report = _report(config, trainer, result, stats, started, device)
    report.precision, report.distributed, report.ranks_in_save = precision, distributed, ranks_in_save
    report.setup = setup.as_dict()
    report.write(out / "training_report.json")
    _loss_curve(trainer.state.log_history, out / "loss_curve.png", title=f"{config.method} {config.model}")
    echo(
        f"{config.method}: {report.steps} steps, final loss {report.final_loss}, "
        f"{report.non_pad_tokens_per_second} tokens/s → {out}"
    )
    if config.push_to_hub:
        from lingualift.train.hub import push_model

        url = push_model(out, config.push_to_hub, report.model_dump(), private=config.private)
        echo(f"pushed to {url}")
    return report


def _estimate_memory(config: TrainConfig, device: str, echo) -> None:
    from lingualift.models import adapter_base, resolve_model
    from lingualift.train.memory import check_fits
    from lingualift.train.model import mode, trains_embeddings

    model_path = resolve_model(config.model)
    check_fits(
        resolve_model(adapter_base(model_path) or model_path),
        batch=config.batch_size,
        seq=config.max_seq_length,
        mode=mode(config),
        device=device,
        echo=echo,
        trains_embeddings=not config.full and trains_embeddings(config),
        checkpointing=config.gradient_checkpointing,
    )


def _reentrant(config: TrainConfig, distributed: str) -> bool:
    from lingualift.hardware import reentrant_checkpointing

    return reentrant_checkpointing(distributed, not config.full)


def _training_arguments(config: TrainConfig, device: str, precision: str, distributed: str, echo):
    """The Trainer's arguments, built before the model loads: building them starts the launch's
    process group and sets this process's GPU, which sharded loading needs."""
    evaluates = bool(config.eval_split or config.eval_ratio or config.eval_size)
    common = dict(
        output_dir=str(Path(config.out) / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=1,
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to=[] if config.report_to == "none" else [config.report_to],
        optim=config.optimizer,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup_ratio or config.warmup_steps,  # a float below 1 is a ratio
        adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        use_cpu=device == "cpu",
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        ddp_find_unused_parameters=False,  # every LoRA/full parameter is used
        eval_strategy=("steps" if config.eval_steps else "epoch") if evaluates else "no",
        eval_steps=config.eval_steps,
    )
    common.update(_sampling_arguments(config.group_by_length))
    # always passed: trl's DPO/ORPO configs default to checkpointing on, whatever the flag says
    common.update(
        _checkpointing_arguments(config.gradient_checkpointing, reentrant=_reentrant(config, distributed))
    )
    if config.method in ("sft", "cpt"):
        from transformers import TrainingArguments as ArgsClass
    elif config.method == "dpo":
        from trl import DPOConfig as ArgsClass

        common["max_length"] = config.max_seq_length
    else:
        from trl.experimental.orpo import ORPOConfig as ArgsClass

        common["max_length"] = config.max_seq_length
    args = ArgsClass(**common)
    from lingualift.hardware import one_gpu_note

    note = one_gpu_note(args.n_gpu, distributed)
    if note:  # no nn.DataParallel: one process trains on one GPU
        args._n_gpu = 1
        echo(f"note: {note}")
    return args


def _trainer(config: TrainConfig, args, model, tokenizer, dataset, eval_dataset):
    """The Trainer for the method, its optimizer able to give trained embeddings their own rate. The
    adapters are already attached, so trl's trainers get no peft_config (their reference model is
    the base with the adapters disabled, as when they attach them)."""
    from lingualift.train.model import with_embedding_lr

    if config.method in ("sft", "cpt"):
        from transformers import Trainer

        from lingualift.train.data import PackedCollator, PadCollator

        collator = PackedCollator(tokenizer) if config.packing else PadCollator(tokenizer)
        trainer_class = with_embedding_lr(_counting_packed_tokens(Trainer, tokenizer.pad_token_id))
        trainer = trainer_class(
            model=model, args=args, train_dataset=dataset, eval_dataset=eval_dataset, data_collator=collator
        )
    else:
        if config.method == "dpo":
            from trl import DPOTrainer as TrainerClass
        else:
            from trl.experimental.orpo import ORPOTrainer as TrainerClass
        trainer = with_embedding_lr(TrainerClass)(
            model=model,
            args=args,
            train_dataset=dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
        )
    from lingualift import terminal

    if terminal.quiet():  # one bar of ours instead of the Trainer's bar and a dict line per step
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(TrainingProgress(config.method))
    return trainer


def _counting_packed_tokens(trainer_class, pad_id: int):
    """`trainer_class` whose non-pad token count also holds for packed batches (no attention mask,
    so the Trainer would count their padding): data.packed_real_tokens."""

    class PackedCount(trainer_class):
        def _track_num_input_tokens(self, inputs):
            if "attention_mask" in inputs or "position_ids" not in inputs:
                return super()._track_num_input_tokens(inputs)
            import torch

            from lingualift.train.data import packed_real_tokens

            real = packed_real_tokens(inputs["input_ids"], inputs["position_ids"], pad_id)
            count = torch.tensor(real, device=inputs["input_ids"].device, dtype=torch.int64)
            self.state.num_input_tokens_seen += int(self.accelerator.gather(count).sum().item())

    PackedCount.__name__ = PackedCount.__qualname__ = trainer_class.__name__
    return PackedCount


def _train(config: TrainConfig, trainer, device: str, echo):
    """trainer.train, resuming from the last complete checkpoint under OUT/checkpoints."""
    import torch

    from lingualift.hardware import is_cuda

    resume_from = _last_checkpoint(Path(config.out) / "checkpoints")
    if config.resume and resume_from is None:
        echo("no checkpoint to resume from: starting fresh")
    if resume_from:
        echo(f"resuming from {resume_from}")
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats()
    return trainer.train(resume_from_checkpoint=resume_from)


def _progress_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class TrainingProgress(_progress_callback_base()):
    """Steps, loss, non-pad tokens/s and ETA on one progress bar (rank 0 only)."""

    def __init__(self, method: str):
        self.method, self.bar, self.started = method, None, None

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        if state.is_world_process_zero:
            self.started, self.tokens_at_start = time.perf_counter(), state.num_input_tokens_seen or 0
            self.bar = tqdm(
                total=state.max_steps,
                initial=state.global_step,
                desc=f"train {self.method}",
                unit="step",
                disable=False,
                dynamic_ncols=True,
            )

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is None or not logs or "loss" not in logs:
            return
        seconds = max(time.perf_counter() - self.started, 1e-9)
        tokens = (state.num_input_tokens_seen or 0) - self.tokens_at_start
        self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", tokens_per_s=f"{tokens / seconds:.0f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()


def _vocabulary_stats(config: TrainConfig, tokenizer, peft_config, model_path: str, added: list) -> dict:
    """For the report: a vocabulary grown by `tokenizer extend` or --chat-template, and whether the
    embeddings learned."""
    from lingualift.vocabulary import extended_vocabulary

    extended = extended_vocabulary(model_path)
    whole = bool(peft_config is not None and peft_config.modules_to_save)
    if not extended and not whole and not added:
        return {}
    return {
        "vocabulary": {
            "tokens": len(tokenizer),
            "added_by_tokenizer_extend": extended["added_tokens"] if extended else 0,
            "embeddings_trained": config.full or whole,
            **({"added_by_chat_template": list(added)} if added else {}),
        }
    }


def _save(trainer, out: Path) -> int:
    """Every process takes part in the save: under FSDP and ZeRO-3 each holds one shard, and the
    trainer gathers the whole state dict (FSDP full state dict, ZeRO-3 16-bit consolidation) that
    rank 0 writes. Returns how many processes took part."""
    import torch

    model = trainer.model
    extra = [name for name in getattr(model, "peft_config", {}) if name != "default"]
    for name in extra:  # trl's DPO/ORPO add a `ref` copy of the adapter: training is over, save ours only
        model.delete_adapter(name)
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        (out / "training_args.bin").unlink(missing_ok=True)  # a pickle of the trainer's arguments: not ours
    accelerator = trainer.accelerator
    return int(accelerator.reduce(torch.ones(1, device=accelerator.device), reduction="sum").item())


def _record_adapter_base(out: Path, model_path: str) -> None:
    """An adapter trained on a merged adapter names that adapter as its base, so loading it (chat,
    eval, the next stage) rebuilds the whole stack instead of silently dropping the first stage."""
    from lingualift.models import adapter_base

    config_file = out / "adapter_config.json"
    if adapter_base(model_path) and config_file.is_file():
        settings = json.loads(config_file.read_text())
        settings["base_model_name_or_path"] = str(Path(model_path).resolve())
        config_file.write_text(json.dumps(settings, indent=2))


def _checkpointing_arguments(enabled: bool = True, *, reentrant: bool = False) -> dict:
    """Activation (gradient) checkpointing on or off, under the name this transformers version reads
    (the old name is only an alias there); non-reentrant (works with frozen LoRA bases) unless the
    launch needs the reentrant kind."""
    name = _checkpointing_name()
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": reentrant} if enabled else None}


def _sampling_arguments(group_by_length: bool) -> dict:
    """Batches of like length, under the name this transformers version reads (`group_by_length`
    became `train_sampling_strategy`)."""
    from transformers import TrainingArguments

    if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
        return {"train_sampling_strategy": "group_by_length" if group_by_length else "random"}
    return {"group_by_length": group_by_length}


def _checkpointing_name() -> str:
    from transformers import TrainingArguments

    new = "activation_checkpointing" in TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if new else "gradient_checkpointing"


# what each logged step keeps in training_report.json: the losses, the learning rate, and for
# preference training the chosen-over-rejected margin and how often chosen wins
HISTORY_KEYS = (
    "step",
    "epoch",
    "loss",
    "eval_loss",
    "learning_rate",
    "rewards/margins",
    "rewards/accuracies",
)


def _report(config, trainer, result, stats, started, device) -> TrainingReport:
    import resource

    import torch

    from lingualift.versions import versions

    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    eval_losses = [h["eval_loss"] for h in history if "eval_loss" in h]
    from lingualift.models import full_numel

    trainable = sum(full_numel(p) for p in trainer.model.parameters() if p.requires_grad)
    total = sum(full_numel(p) for p in trainer.model.parameters())
    seconds = result.metrics.get("train_runtime") or (time.perf_counter() - started)
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.startswith("cuda")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return TrainingReport(
        method=config.method,
        model=config.model,
        data=config.data,
        mode="full" if config.full else ("qlora" if config.quant4 or config.quant8 else "lora"),
        data_stats=stats,
        steps=trainer.state.global_step,
        world_size=trainer.args.world_size,
        epochs=round(trainer.state.epoch or 0, 3),
        first_loss=losses[0] if losses else None,
        final_loss=losses[-1] if losses else None,
        final_eval_loss=eval_losses[-1] if eval_losses else None,
        best_eval_loss=min(eval_losses) if eval_losses else None,
        non_pad_tokens_seen=tokens,
        non_pad_tokens_per_second=round(tokens / seconds, 1) if seconds else None,
        trainable_parameters=trainable,
        total_parameters=total,
        peak_memory_mb=round(peak, 1),
        train_seconds=round(seconds, 2),
        wall_seconds=round(time.perf_counter() - started, 2),
        loss_history=[
            {k: h[k] for k in HISTORY_KEYS if k in h} for h in history if "loss" in h or "eval_loss" in h
        ],
        config=config.model_dump(),
        versions={"python": platform.python_version(), **versions()},
    )


def _loss_curve(history: list[dict], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
