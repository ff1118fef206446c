"""The family bench: one tiny model per family users bring, of the family's real transformers class,
with a byte-level BPE trained here and a chat template written here that reproduces the family's
traits (what ends a turn, where the system prompt goes, thinking, no template at all). Random
weights; the tests train them to answer. Nothing here imports pytest."""

from __future__ import annotations

from dataclasses import dataclass

from tests.builders import LLAMA3_TEMPLATE, corpus

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Qwen2.5's: a default system prompt when none is given.
QWEN25_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}" + CHATML
)
# Qwen3's traits: enable_thinking; the last assistant turn carries a (here empty) <think> block,
# earlier turns lose their reasoning, so renders are not prefix-stable over two turns.
QWEN3_TEMPLATE = (
    "{%- for message in messages %}{%- if message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{%- if loop.last %}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
# Gemma's: no system role (folded into the first user turn), `model` for the assistant.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\\n\\n' %}{% else %}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) + '\\n' + "
    "ns.system + message['content'] | trim + '<end_of_turn>\\n' }}{% set ns.system = '' %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)
# Mistral-7B-Instruct-v0.3's: the system prompt goes into the LAST user turn only; turns end in </s>.
MISTRAL_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}"
    "{%- if loop.last and system_message is defined %}"
    "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}{%- endif %}"
    "{%- endfor %}"
)


@dataclass(frozen=True)
class Family:
    """One row of the bench: the class, its special tokens, eos (what the tokenizer and generation
    config say), the template (None: a base model), and the end-of-turn token the template uses."""

    name: str
    special: list[str]
    bos: str | None
    eos: str
    pad: str
    template: str | None
    end_of_turn: str
    chat_template_option: str | None = None  # what a user passes for a base model
    thinks: bool = False
    drops_system: bool = False  # Mistral v0.3: a conversation ending in an assistant turn loses it


FAMILIES = [
    # Llama 3.0 Instruct as first published: eos <|end_of_text|> while turns end in <|eot_id|>
    Family(
        "llama3-instruct",
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|end_of_text|>",
        LLAMA3_TEMPLATE,
        "<|eot_id|>",
    ),
    Family("llama-base", ["<s>", "</s>", "<unk>"], "<s>", "</s>", "</s>", None, "<|im_end|>", "chatml"),
    Family(
        "qwen2.5-base",
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        None,
        "<|endoftext|>",
        "<|endoftext|>",
        QWEN25_TEMPLATE,
        "<|im_end|>",
    ),
    Family(
        "qwen3",
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        None,
        "<|im_end|>",
        "<|endoftext|>",
        QWEN3_TEMPLATE,
        "<|im_end|>",
        thinks=True,
    ),
    Family(
        "gemma3-text",
        ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
        "<bos>",
        "<eos>",
        "<pad>",
        GEMMA_TEMPLATE,
        "<end_of_turn>",
    ),
    Family(
        "gemma3-multimodal",
        [
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<start_of_image>",
            "<end_of_image>",
            "<image_soft_token>",
        ],
        "<bos>",
        "<eos>",
        "<pad>",
        GEMMA_TEMPLATE,
        "<end_of_turn>",
    ),
    Family(
        "mistral-v0.3",
        ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
        "<s>",
        "</s>",
        "</s>",
        MISTRAL_TEMPLATE,
        "</s>",
        drops_system=True,
    ),
]


def _tokenizer(family: Family, extra_text: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700, special_tokens=family.special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(corpus() + extra_text, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        chat_template=family.template,
    )
    if family.thinks:  # as in Qwen3's vocabulary: added, but not special (decoding keeps them)
        from tokenizers import AddedToken

        fast.add_tokens([AddedToken("<think>", special=False), AddedToken("</think>", special=False)])
    return fast


def _config(family: Family, tokenizer):
    import transformers

    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    small = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 512,
    }
    if family.name.startswith("gemma3"):
        text = transformers.Gemma3TextConfig(
            **ids, **small, sliding_window=64, query_pre_attn_scalar=16, tie_word_embeddings=True
        )
        if family.name == "gemma3-text":
            return transformers.Gemma3ForCausalLM, text
        vision = transformers.SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        )
        config = transformers.Gemma3Config(
            text_config=text.to_dict(),
            vision_config=vision.to_dict(),
            mm_tokens_per_image=1,
            boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"),
            eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
            image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
            tie_word_embeddings=True,
        )
        return transformers.Gemma3ForConditionalGeneration, config
    kind = {
        "llama": (transformers.LlamaForCausalLM, transformers.LlamaConfig, {"tie_word_embeddings": False}),
        "qwen2": (transformers.Qwen2ForCausalLM, transformers.Qwen2Config, {"tie_word_embeddings": True}),
        "qwen3": (transformers.Qwen3ForCausalLM, transformers.Qwen3Config, {"tie_word_embeddings": True}),
        "mistral": (
            transformers.MistralForCausalLM,
            transformers.MistralConfig,
            {"tie_word_embeddings": False},
        ),
    }
    prefix = {"llama3-instruct": "llama", "llama-base": "llama", "qwen2.5-base": "qwen2"}.get(
        family.name, family.name.split("-")[0]
    )
    model_class, config_class, more = kind[prefix]
    return model_class, config_class(**ids, **small, **more)


def build_family(family: Family, path, extra_text: list[str] = ()):
    """Save a tiny model of `family` under `path` (tokenizer trained on the sample + `extra_text`)."""
    import torch

    tokenizer = _tokenizer(family, list(extra_text))
    model_class, config = _config(family, tokenizer)
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id  # the trap: eos only, not end of turn
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
