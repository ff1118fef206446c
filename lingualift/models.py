"""One place that turns a model id into a loaded model: hub id, local directory, or `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field, model_validator

from lingualift.demo.model import DEMO_MODEL_ID, demo_model_dir
from lingualift.errors import ConfigError, ModelError


class ModelPlacement(BaseModel):
    """Where a command's model runs and in how many bits: the same --device/--quant4/--quant8 for
    every command that loads a chat model to generate or score (chat, serve, eval, generate)."""

    device: Optional[str] = Field(
        None, description="cpu, cuda, cuda:1 ...; default: the GPU when there is one, else cpu"
    )
    quant4: bool = Field(
        False,
        description="Load the model in 4 bits (bitsandbytes NF4): an 8B model on a 16 GB card; on the CPU "
        "too (slow: small models and tests)",
        json_schema_extra={"flag": "--quant4"},
    )
    quant8: bool = Field(
        False,
        description="Load the model in 8 bits (bitsandbytes, CUDA only)",
        json_schema_extra={"flag": "--quant8"},
    )
    chat_template: Optional[str] = Field(
        None,
        description="For a model without one (a base checkpoint): chatml, llama3, gemma, or a Jinja file "
        "(a tuned model keeps the template it was trained with)",
    )

    @model_validator(mode="after")
    def _one_quantization(self):
        if self.quant4 and self.quant8:
            raise ValueError("quant4 and quant8 exclude each other")
        return self

    def quantization(self):
        """The BitsAndBytesConfig asked for (None for none), refused in one line where it cannot run."""
        require_cuda_for_quantization(self.quant4, self.quant8, self.device)
        return quantization_config(self.quant4, self.quant8)


def require_cuda_for_quantization(quant4: bool, quant8: bool, device: str | None = None) -> None:
    """--quant4/--quant8 refused in one line before anything loads where they cannot run here
    (hardware.quantization_refusal); 4-bit on the CPU runs, slowly, with one line saying so."""
    if not (quant4 or quant8):
        return
    import sys
    from importlib.metadata import PackageNotFoundError, version

    from lingualift import hardware

    machine = hardware.Machine.here()
    device = hardware.default_device(machine, device)
    try:
        bnb = version("bitsandbytes")
    except PackageNotFoundError:
        bnb = None
    refusal = hardware.quantization_refusal(machine, device, quant4=quant4, quant8=quant8, bnb_version=bnb)
    if refusal:
        raise ConfigError(refusal)
    if not hardware.is_cuda(device) and not _said_slow:
        _said_slow.append(True)
        print(
            "note: 4-bit on the CPU (bitsandbytes' CPU backend) is slow: meant for small models and tests",
            file=sys.stderr,
        )


_said_slow: list[bool] = []


def quantization_config(
    quant4: bool, quant8: bool, machine=None, distributed: str = "single", *, bf16_only: bool = False
):
    """The BitsAndBytesConfig for --quant4 (NF4, 16-bit compute) or --quant8; None for neither."""
    if not (quant4 or quant8):
        return None
    from transformers import BitsAndBytesConfig

    from lingualift.hardware import Machine, quant_compute_dtype, quant_storage_dtype, torch_dtype

    machine = machine or Machine.here()
    if quant4:
        storage = quant_storage_dtype(machine, distributed)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype(quant_compute_dtype(machine, bf16_only=bf16_only)),
            **({"bnb_4bit_quant_storage": torch_dtype(storage)} if storage else {}),
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def default_device(requested: str | None = None) -> str:
    """The device asked for, else this process's GPU when there is one, else cpu (see hardware.py)."""
    from lingualift import hardware

    return hardware.default_device(hardware.Machine.here(), requested)


def inference_dtype(device: str, *, bf16_only: bool = False):
    """The torch dtype a model generates in on `device` (see hardware.inference_dtype)."""
    from lingualift import hardware

    return hardware.torch_dtype(
        hardware.inference_dtype(hardware.Machine.here(), device, bf16_only=bf16_only)
    )


def family_bf16_only(model_id: str) -> bool:
    """Whether the model (or an adapter's base) is of a family that must not compute in float16
    (hardware.BF16_ONLY_FAMILIES), read from its config.json."""
    import json

    from lingualift.hardware import bf16_only

    path = resolve_model(model_id)
    while (base := adapter_base(path)) is not None:
        path = resolve_model(base)
    config = Path(path) / "config.json"
    if config.is_file():
        return bf16_only(json.loads(config.read_text()).get("model_type"))
    try:
        from transformers import AutoConfig

        return bf16_only(AutoConfig.from_pretrained(path).model_type)
    except (OSError, ValueError):  # not reachable now: the load that follows says why
        return False


def resolve_model(model_id: str) -> str:
    """A path or hub id transformers can load; `demo` becomes the cached demo model directory."""
    if model_id == DEMO_MODEL_ID:
        return str(demo_model_dir())
    return model_id


def adapter_base(path: str) -> str | None:
    """The base model a LoRA adapter directory was trained on, or None when `path` is no adapter."""
    import json

    config = Path(path) / "adapter_config.json"
    if not config.is_file():
        return None
    base = json.loads(config.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelError(f"{path}: adapter_config.json does not name its base model")
    return base


def adapter_stack(path: str) -> list[str]:
    """The LoRA adapters `path` stacks, outermost first (cpt → sft: the sft adapter, then the cpt
    one); empty for a plain model."""
    stack = []
    while (base := adapter_base(path)) is not None:
        stack.append(path)
        path = resolve_model(base)
    return stack


def refuse_stacked_on_quantized(path: str, adapter: str | None, quantized: bool) -> None:
    """A quantized base keeps its adapters unmerged, and peft names each one "default": a second
    would replace the first. One line before anything loads."""
    stack = ([adapter] if adapter else []) + adapter_stack(path)
    if quantized and len(stack) > 1:
        raise ConfigError(
            f"{stack[0]} stacks {len(stack)} LoRA adapters ({' on '.join(stack)}), which a 4/8-bit base "
            "cannot hold together: drop --quant4/--quant8, or `lingualift export merge` the first "
            "stage and use the merged model as the base"
        )


def load_causal_lm(path: str, **kwargs):
    """AutoModelForCausalLM.from_pretrained, where `path` may also be a LoRA adapter directory:
    its base (itself possibly an adapter, as after cpt → sft) is loaded and the adapter merged in,
    or kept unmerged on a quantized base."""
    from transformers import AutoModelForCausalLM

    base = adapter_base(path)
    if base is None:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model = attach_adapter(load_causal_lm(resolve_model(base), **kwargs), path)
    return model if "quantization_config" in kwargs else model.merge_and_unload()


def attach_adapter(model, adapter: str):
    """PeftModel.from_pretrained, where weights that do not fit the base (an adapter trained on a
    resized vocabulary, attached to the original base) are one line instead of a size-mismatch trace."""
    from peft import PeftModel

    grown = _adapter_vocabulary(adapter)
    if grown and grown > model.get_input_embeddings().weight.shape[0]:
        # trained with --chat-template's new tokens: the adapter holds the grown embeddings whole
        model.resize_token_embeddings(grown, mean_resizing=False)
    try:
        return PeftModel.from_pretrained(model, adapter)
    except RuntimeError as error:
        if "size mismatch" not in str(error):
            raise
        rows = model.get_input_embeddings().weight.shape[0]
        raise ModelError(
            f"{adapter}: its weights do not fit this base model (embeddings of {rows} rows); it was "
            "trained on a model with another vocabulary size — use that model as the base (for a "
            "`lingualift tokenizer extend` output, the directory it names in adapter_config.json)"
        ) from error


GROWN_BY_TEMPLATE = "lingualift_chat_template.json"  # written by train when --chat-template added tokens


def _adapter_vocabulary(adapter: str) -> int | None:
    """Embedding rows an adapter trained with --chat-template's new tokens has (saved whole in it);
    None for any other adapter (one trained on a `tokenizer extend` base names that base instead)."""
    import json

    record = Path(adapter) / GROWN_BY_TEMPLATE
    return json.loads(record.read_text())["rows"] if record.is_file() else None


def cache_argument(model) -> str:
    """The key-value cache's name in forward() and its output: `cache` (transformers 5.2x), formerly
    `past_key_values` (for our own decoding loops: serve's completions, translate's pruned batches)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def full_shape(parameter):
    """A parameter's real shape, also under ZeRO-3's zero.Init, which leaves an empty tensor in its
    place and the shape in `ds_shape`."""
    return getattr(parameter, "ds_shape", None) or parameter.shape


def full_numel(parameter) -> int:
    """A parameter's real element count (ZeRO-3: `ds_numel`)."""
    return int(getattr(parameter, "ds_numel", None) or parameter.numel())


def check_vocabulary(model, tokenizer, where: str) -> None:
    """A tokenizer with more tokens than the model has embedding rows produces ids the model cannot
    look up (an index error deep inside a forward pass): one line instead."""
    rows = full_shape(model.get_input_embeddings().weight)[0]
    if len(tokenizer) > rows:
        raise ModelError(
            f"{where}: the tokenizer has {len(tokenizer)} tokens but the model's embeddings only {rows} "
            "rows — the vocabulary was extended without resizing the model; `lingualift tokenizer "
            "extend` resizes both"
        )


def load_chat_model(
    model_id: str,
    *,
    device: str | None = None,
    trust_remote_code: bool = False,
    quantization=None,
    adapter: str | None = None,
    dtype: str | None = None,
    chat_template: str | None = None,
    needs_template: bool = True,
):
    """(model, tokenizer) for a causal chat LM (+ a LoRA adapter), in eval mode, padding on the left.

    `device` None: this machine's default (a GPU when there is one). Weights in the precision
    policy's dtype for that device (float32 on CPU, bfloat16 or float16 on a GPU) unless `dtype`
    names one, never the checkpoint's float32 on a GPU. With an adapter, its directory's tokenizer (saved by
    `lingualift train`, with the chat template used in training) is preferred over the base model's.
    """
    from transformers import AutoTokenizer

    from lingualift.hardware import inference_device_map, torch_dtype

    device = default_device(device)
    path = resolve_model(model_id)
    refuse_stacked_on_quantized(path, adapter, quantization is not None)
    local = Path(path).exists()
    tokenizer_path = adapter if adapter and (Path(adapter) / "tokenizer_config.json").exists() else path
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=trust_remote_code)
        # the layers bitsandbytes leaves unquantized take the same dtype
        kwargs = {
            "trust_remote_code": trust_remote_code,
            "dtype": torch_dtype(dtype)
            if dtype
            else inference_dtype(device, bf16_only=family_bf16_only(path)),
        }
        if quantization is not None:
            kwargs["quantization_config"] = quantization
        device_map = inference_device_map(device)
        if device_map is not None:  # straight onto the GPU, not a whole copy in host RAM first
            kwargs["device_map"] = device_map
        model = load_causal_lm(path, **kwargs)
    except OSError as error:
        where = "local directory" if local else "hub id (offline? gated? set HF_TOKEN)"
        raise ModelError(f"cannot load model '{model_id}' as a {where}: {error}") from error
    if adapter:
        if not (Path(adapter) / "adapter_config.json").exists():
            raise ModelError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json)")
        model = attach_adapter(model, adapter)
    from lingualift.chat_model import use_chat_template

    own = getattr(tokenizer, "chat_template", None)  # a tuned model keeps the template it learned
    if needs_template or chat_template:  # log-likelihood scoring (harness) takes a base model as it is
        if use_chat_template(tokenizer, None if own else chat_template, where=adapter or model_id):
            # an untrained base asked to chat in a template it lacks the tokens of (eval's "before"
            # run): rows at the mean embedding, as training starts them
            model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    check_vocabulary(model, tokenizer, model_id)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer
