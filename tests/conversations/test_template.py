import pytest

from lingualift.conversations.template import load_template, render
from lingualift.errors import ConfigError

MESSAGES = [
    {"role": "system", "content": "Always answer in Dutch."},
    {"role": "user", "content": "Hoi"},
    {"role": "assistant", "content": "Hallo!"},
]

# A LLaMa2lang-style template file (Jinja chat template using bos/eos and raise_exception).
LLAMA2LANG_STYLE = """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}\
{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}\
{% set system_message = false %}{% endif %}{% for message in loop_messages %}\
{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\
{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
{% if loop.index0 == 0 and system_message != false %}\
{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}\
{% else %}{% set content = message['content'] %}{% endif %}\
{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}\
{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"""  # noqa: E501


def test_jinja_template_file_renders_without_a_tokenizer(tmp_path):
    path = tmp_path / "template_default.txt"
    path.write_text(LLAMA2LANG_STYLE)
    text = render(MESSAGES, template=load_template(path))
    assert text == "[INST] <<SYS>>\nAlways answer in Dutch.\n<</SYS>>\n\nHoi [/INST] Hallo! "


def test_template_errors_become_one_config_error(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(LLAMA2LANG_STYLE)
    with pytest.raises(ConfigError, match="Conversation roles must alternate"):
        render([{"role": "assistant", "content": "x"}], template=load_template(path))


def test_non_template_file_is_refused(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("just text")
    with pytest.raises(ConfigError, match="not a Jinja chat template"):
        load_template(path)


def test_tokenizer_own_template_and_a_file_template_through_the_tokenizer(tiny_chat_model, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    own = render(MESSAGES, tokenizer=tokenizer)
    assert own.startswith("<|im_start|>system\nAlways answer in Dutch.<|im_end|>")
    path = tmp_path / "t.txt"
    path.write_text(LLAMA2LANG_STYLE)
    via_tokenizer = render(MESSAGES, tokenizer=tokenizer, template=load_template(path))
    assert via_tokenizer.endswith("Hallo! <|im_end|>")  # the tokenizer's eos token filled in
