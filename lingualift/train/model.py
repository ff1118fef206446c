"""The model side of `lingualift train`: load the base where the launch needs it, attach the LoRA
adapters, put every trained parameter in a dtype the precision policy can train, and give trained
embeddings their own learning rate. What was decided is returned as `Setup`, for the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lingualift.errors import ConfigError
from lingualift.train.config import TrainConfig

# Parameter names of embeddings saved whole by peft (modules_to_save) contain this component.
SAVED_WHOLE = "modules_to_save"


@dataclass
class Setup:
    """What ran, as training_report.json's `setup`: where and how the weights were loaded, the
    checkpointing kind, the trained dtype and the optimizer's groups."""

    load_dtype: str
    device_map: str | None
    process_group_ready: bool
    kbit_upcast: bool | None = None
    gradient_checkpointing: str | None = None
    trainable_dtype: str | None = None
    optimizer_groups: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def mode(config: TrainConfig) -> str:
    return "full" if config.full else ("quant4" if config.quant4 else "quant8" if config.quant8 else "lora")


def load_tokenizer(config: TrainConfig):
    """(tokenizer, special tokens added for --chat-template). Conversations need a chat template:
    the model's own, or --chat-template for a base model (cpt trains on raw text and needs none)."""
    from transformers import AutoTokenizer

    from lingualift.chat_model import use_chat_template
    from lingualift.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))
    added = []
    if config.method != "cpt" or config.chat_template:
        own = getattr(tokenizer, "chat_template", None)
        spec = config.chat_template if config.chat_template or not own else None
        added = use_chat_template(tokenizer, spec, where=config.model)
    if tokenizer.pad_token is None:  # never a real token id like 0 (LLaMa2lang's trap): use the eos token
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, added


def load_model(config: TrainConfig, tokenizer, device: str, machine, distributed: str, *, grow: bool = False):
    """(model, Setup) in the precision policy's dtype for this GPU and mode, placed by
    hardware.load_device_map. Called after the TrainingArguments exist, so that a launch's process
    group, FSDP's cpu_ram_efficient_loading and ZeRO-3's zero.Init are in force while it loads.
    A LoRA adapter directory as --model (e.g. the output of `train cpt`) is merged into its base
    first, so the new run trains on top of it. `grow`: the tokenizer gained a chat template's special
    tokens, whose embedding rows are added (at the mean of the others) to be trained."""
    import torch

    from lingualift.hardware import load_device_map, torch_dtype, training_load_dtype
    from lingualift.models import (
        adapter_base,
        check_vocabulary,
        family_bf16_only,
        load_causal_lm,
        quantization_config,
        resolve_model,
    )

    path = resolve_model(config.model)
    quantized = config.quant4 or config.quant8
    if adapter_base(path) and quantized:
        raise ConfigError(
            f"{config.model} is a LoRA adapter: a quantized base cannot take it merged; train the "
            "first stage with --full, or without --quant4/--quant8"
        )
    only_bf16 = family_bf16_only(config.model)
    dtype = training_load_dtype(machine, device, mode(config), bf16_only=only_bf16)
    device_map = load_device_map(machine, device, distributed, quantized=quantized)
    kwargs = {"dtype": torch_dtype(dtype)}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    if quantized:
        kwargs["quantization_config"] = quantization_config(
            config.quant4, config.quant8, machine, distributed, bf16_only=only_bf16
        )
    if device_map is not None:
        kwargs["device_map"] = device_map
    ready = torch.distributed.is_available() and torch.distributed.is_initialized()
    model = load_causal_lm(path, **kwargs)
    if grow and len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    check_vocabulary(model, tokenizer, config.model)
    return model, Setup(dtype, str(device_map) if device_map is not None else None, ready)


def lora_config(config: TrainConfig, model=None, *, new_tokens: bool = False):
    """LoRA settings; with `model` and embeddings to train, its embedding and output layers are saved
    whole (modules_to_save), tied ones kept tied. `new_tokens`: a chat template's tokens were added,
    whose rows must learn (unless --no-train-embeddings)."""
    from peft import LoraConfig

    targets = config.target_modules
    trains = trains_embeddings(config) or (new_tokens and config.train_embeddings is not False)
    whole = embedding_modules(model) if model is not None and trains else []
    tied = bool(whole) and getattr(model.config, "tie_word_embeddings", False)
    if targets == "all-linear":
        targets = (text_only_targets(model) if model is not None else None) or targets
    else:
        targets = [t.strip() for t in targets.split(",")]
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
        modules_to_save=whole or None,
        ensure_weight_tying=tied,
    )


# Submodules of multimodal checkpoints (Gemma 3 4B+, Llava-style) that see no text-only gradient.
NOT_TEXT = (
    "vision_tower",
    "vision_model",
    "multi_modal_projector",
    "audio_tower",
    "embed_vision",
    "embed_audio",
)


def text_only_targets(model) -> str | None:
    """For a multimodal checkpoint, a regex of its language model's linear layers: `all-linear` would
    put LoRA on the vision tower, which gets no gradient on text (and fails DDP at step 2). None for a
    text model."""
    import torch

    names = dict(model.named_modules())
    if not any(part in name.split(".") for name in names for part in NOT_TEXT):
        return None
    leaves = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in names.items()
            if isinstance(module, torch.nn.Linear) and "language_model" in name.split(".")
        }
    )
    if not leaves:
        return None
    return rf".*\.language_model\..*\.({'|'.join(leaves)})$"


def trains_embeddings(config: TrainConfig) -> bool:
    """--train-embeddings as given, else on for a model whose vocabulary `tokenizer extend` grew."""
    if config.train_embeddings is not None:
        return config.train_embeddings
    from lingualift.models import resolve_model
    from lingualift.vocabulary import extended_vocabulary

    return extended_vocabulary(resolve_model(config.model)) is not None


def embedding_modules(model) -> list[str]:
    """Names (last component) of the input embedding and output layer modules."""
    wanted = [model.get_input_embeddings(), model.get_output_embeddings()]
    names = [
        name.rsplit(".", 1)[-1] for name, module in model.named_modules() if any(module is w for w in wanted)
    ]
    return list(dict.fromkeys(names))


def attach_adapters(model, config: TrainConfig, peft_config, setup: Setup, distributed: str, reentrant: bool):
    """The model to train: for LoRA the PeftModel (a quantized base prepared first), else `model`.

    peft's prepare_model_for_kbit_training is given our checkpointing choice: its default turns
    checkpointing on, reentrant, whatever --gradient-checkpointing says. Under FSDP/ZeRO-3 it is not
    called at all (hardware.kbit_upcast): its float32 upcast would mix dtypes in a shard."""
    from lingualift.hardware import adapter_in_base_dtype, kbit_upcast

    if config.gradient_checkpointing:
        setup.gradient_checkpointing = "reentrant" if reentrant else "non-reentrant"
    if peft_config is None:
        return model
    from peft import get_peft_model, prepare_model_for_kbit_training

    quantized = config.quant4 or config.quant8
    if quantized:
        setup.kbit_upcast = kbit_upcast(distributed)
        if setup.kbit_upcast:
            model = prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=config.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": reentrant},
            )
    model = get_peft_model(
        model, peft_config, autocast_adapter_dtype=not adapter_in_base_dtype(distributed, quantized)
    )
    if config.gradient_checkpointing:  # inputs that need grad, for the reentrant kind over a frozen base
        model.enable_input_require_grads()
    return model


def cast_trainable(model, dtype_name: str | None) -> str | None:
    """Every parameter that trains, in `dtype_name` (hardware.trainable_dtype; None leaves them).
    Called on the trainer's model once the trainer is built: trl's DPO trainer casts a quantized
    model's adapters to bfloat16 in its constructor, which a T4's fp16 scaler cannot train."""
    if dtype_name is None:
        return None
    from lingualift.hardware import torch_dtype

    dtype = torch_dtype(dtype_name)
    for param in model.parameters():
        if param.requires_grad and param.dtype != dtype:
            param.data = param.data.to(dtype)
    return dtype_name


def embedding_lr(config: TrainConfig, peft_config) -> float | None:
    """The learning rate of embeddings LoRA trains whole (--embedding-lr, default a tenth of --lr, as
    the continued-pretraining recipes for new vocabulary give them); None when none are trained."""
    if peft_config is None or not peft_config.modules_to_save:
        return None
    return config.embedding_lr if config.embedding_lr is not None else config.lr / 10


def with_embedding_lr(trainer_class):
    """`trainer_class` whose optimizer puts parameters saved whole (modules_to_save) in groups of
    their own at `self.embedding_lr`; the rest keep the Trainer's groups (weight decay included)."""

    class EmbeddingRate(trainer_class):
        embedding_lr: float | None = None

        def create_optimizer(self, model=None):
            fresh = self.optimizer is None
            optimizer = super().create_optimizer(model) if model is not None else super().create_optimizer()
            if fresh and self.embedding_lr is not None:
                split_embedding_groups(
                    optimizer, model if model is not None else self.model, self.embedding_lr
                )
            return optimizer

    EmbeddingRate.__name__ = EmbeddingRate.__qualname__ = f"{trainer_class.__name__}WithEmbeddingLR"
    return EmbeddingRate


def split_embedding_groups(optimizer, model, lr: float) -> None:
    """Move the saved-whole embedding parameters of each group into a copy of that group at `lr`
    (before the first step: no optimizer state to move)."""
    whole = {id(p) for name, p in model.named_parameters() if SAVED_WHOLE in name.split(".")}
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in whole]
        if not moved:
            continue
        group["params"] = [p for p in group["params"] if id(p) not in whole]
        optimizer.add_param_group(
            {**{k: v for k, v in group.items() if k != "params"}, "params": moved, "lr": lr}
        )
    optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]


def optimizer_groups(optimizer, model) -> list[dict]:
    """The optimizer's groups as the report records them: learning rate at the start, weight decay,
    parameters, and whether they are embeddings trained whole."""
    whole = {id(p) for name, p in model.named_parameters() if SAVED_WHOLE in name.split(".")}
    return [
        {
            "lr": group.get("initial_lr", group["lr"]),
            "weight_decay": group.get("weight_decay", 0.0),
            "parameters": sum(p.numel() for p in group["params"]),
            "embeddings": bool(group["params"]) and all(id(p) in whole for p in group["params"]),
        }
        for group in optimizer.param_groups
    ]
