"""`lingualift serve`: the OpenAI-compatible API through the official `openai` client, bad
requests, the queue limit, an API key; the server runs on 127.0.0.1 inside the test."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from lingualift.chat import reply_once
from lingualift.serve.config import ServeConfig
from lingualift.serve.server import start_server


@pytest.fixture(scope="module")
def server(talkative_chat_model):
    instance = start_server(  # a model whose replies carry text, different per prompt
        ServeConfig(model=str(talkative_chat_model), port=0, max_tokens_limit=64, max_queue=8),
        echo=lambda *_: None,
    )
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _url(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def _client(server, key="unused"):
    from openai import OpenAI

    return OpenAI(base_url=_url(server) + "/v1", api_key=key, max_retries=0, timeout=120)


def _post(server, body: bytes, headers=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        _url(server) + "/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


MESSAGES = [{"role": "system", "content": "Antwoord in het Nederlands."}, {"role": "user", "content": "Hoi!"}]


def test_models_and_a_plain_completion_through_the_openai_client(server):
    client = _client(server)
    assert [m.id for m in client.models.list().data] == [server.service.name]
    completion = client.chat.completions.create(model="any", messages=MESSAGES, max_tokens=6)
    expected = reply_once(server.service.model, server.service.tokenizer, MESSAGES, max_new_tokens=6)
    assert expected[0]  # a reply with text: the comparison below means something
    assert (
        completion.choices[0].message.content.strip() == expected[0]
    )  # our decoding loop = generate's greedy
    assert completion.choices[0].finish_reason == expected[3]
    assert completion.usage.prompt_tokens == expected[1] and completion.usage.completion_tokens == expected[2]


def test_streamed_completion_arrives_in_pieces_and_equals_the_plain_one(server):
    client = _client(server)
    chunks = list(client.chat.completions.create(model="any", messages=MESSAGES, max_tokens=6, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    plain = (
        client.chat.completions.create(model="any", messages=MESSAGES, max_tokens=6)
        .choices[0]
        .message.content
    )
    assert text == plain  # exactly, whitespace included
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 2  # streamed, not one blob
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"{}", "messages: field required"),
        (b'{"messages": []}', "messages: list should have at least 1 item"),
        (b'{"messages": [{"role": "wizard", "content": "hi"}]}', "messages.0.role: input should be"),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000000}',
            "max_tokens: at most 64",
        ),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 9}',
            "temperature: input should be less",
        ),
    ],
)
def test_bad_requests_get_a_400_with_a_message_and_the_server_lives_on(server, body, message):
    status, payload = _post(server, body)
    assert status == 400 and message in payload["error"]["message"]
    assert _client(server).chat.completions.create(model="m", messages=MESSAGES, max_tokens=2).choices


def test_concurrent_requests_are_all_answered(server):
    client = _client(server)
    prompts = [f"Vraag {i}?" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda p: (
                    client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": p}], max_tokens=4
                    )
                    .choices[0]
                    .message.content
                ),
                prompts,
            )
        )
    assert all(r.strip() for r in replies) and len(set(replies)) == len(replies)  # crossing them would show
    for prompt, reply in zip(prompts, replies):
        alone = reply_once(
            server.service.model,
            server.service.tokenizer,
            [{"role": "user", "content": prompt}],
            max_new_tokens=4,
        )[0]
        assert reply.strip() == alone


def test_a_full_queue_answers_429_instead_of_piling_up(server):
    taken = 0
    while server.service.slots.acquire(blocking=False):  # every slot busy
        taken += 1
    try:
        status, payload = _post(server, json.dumps({"messages": MESSAGES}).encode())
        assert status == 429 and "too many requests" in payload["error"]["message"]
    finally:
        for _ in range(taken):
            server.service.slots.release()
    assert _post(server, json.dumps({"messages": MESSAGES, "max_tokens": 2}).encode())[0] == 200


def test_an_api_key_from_the_environment_is_required_when_configured(tiny_chat_model, monkeypatch):
    monkeypatch.setenv("LL_TEST_KEY", "s3cret")
    instance = start_server(
        ServeConfig(model=str(tiny_chat_model), port=0, api_key_env="LL_TEST_KEY"), echo=lambda *_: None
    )
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    try:
        from openai import AuthenticationError

        with pytest.raises(AuthenticationError):
            _client(instance, key="wrong").models.list()
        assert _client(instance, key="s3cret").chat.completions.create(
            model="m", messages=MESSAGES, max_tokens=2
        )
    finally:
        instance.shutdown()
        instance.server_close()


def test_a_missing_api_key_variable_is_an_error_before_loading(monkeypatch, capsys):
    from lingualift.cli import main

    monkeypatch.delenv("LL_MISSING_KEY", raising=False)
    assert main(["serve", "no/such-model", "--api-key-env", "LL_MISSING_KEY"]) == 2
    assert "LL_MISSING_KEY: the variable is not set" in capsys.readouterr().err


def test_the_chat_page_is_served(server):
    with urllib.request.urlopen(_url(server) + "/", timeout=30) as response:
        page = response.read().decode()
    assert response.status == 200 and "/v1/chat/completions" in page and 'id="system"' in page


@pytest.mark.parametrize(
    "headers, reason",
    [
        (
            {"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "evil.example:{port}"},
            "Host 'evil",
        ),
        (
            {"Content-Type": "application/json", "Host": "rebound.example:{port}"},
            "is not this server's address",
        ),
        ({"Content-Type": "application/json", "Origin": "http://evil.example"}, "another web page"),
        ({"Content-Type": "text/plain"}, "Content-Type: application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type: application/json"),
    ],
)
def test_another_web_page_cannot_use_the_model(server, headers, reason):
    port = server.server_address[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    request = urllib.request.Request(
        _url(server) + "/v1/chat/completions",
        headers=headers,
        data=json.dumps({"messages": MESSAGES, "max_tokens": 2}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and reason in json.loads(refused.value.read())["error"]["message"]


def test_reading_through_a_rebound_name_is_refused_and_the_own_origin_is_let_in(server):
    port = server.server_address[1]
    request = urllib.request.Request(_url(server) + "/v1/models", headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):  # the page's own same-origin call
        status, _ = _post(
            server,
            json.dumps({"messages": MESSAGES, "max_tokens": 2}).encode(),
            {"Host": host, "Origin": f"http://{host}"},
        )
        assert status == 200


def test_listening_beyond_loopback_without_a_key_says_so(tiny_chat_model):
    said = []
    instance = start_server(ServeConfig(model=str(tiny_chat_model), host="0.0.0.0", port=0), echo=said.append)
    instance.server_close()
    assert any(line.startswith("warning: listening on 0.0.0.0 without --api-key-env") for line in said)


def _both(server, **request):
    """The reply's text and finish reason, plain and streamed, through the openai client."""
    client = _client(server)
    plain = client.chat.completions.create(model="m", **request).choices[0]
    chunks = list(client.chat.completions.create(model="m", stream=True, **request))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return (plain.message.content, plain.finish_reason), (streamed, chunks[-1].choices[0].finish_reason)


@pytest.fixture(scope="module")
def demo_server(demo_model_path):
    """The real demo model: the tiny random one writes only newlines, too little to cut at a string."""
    instance = start_server(
        ServeConfig(model=str(demo_model_path), port=0, max_tokens_limit=64), echo=lambda *_: None
    )
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    yield instance
    instance.shutdown()
    instance.server_close()


@pytest.mark.slow
def test_stop_strings_end_the_reply_before_them_plain_and_streamed(demo_server):
    count = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    free, streamed_free = _both(demo_server, messages=count, max_tokens=40)
    assert free == streamed_free and "4, 5" in free[0]
    expected = free[0][: free[0].find("5")]  # "1, 2, 3, 4, " — what llama.cpp's server returns
    for given in ("5", ["5"], ["never-in-a-reply", "5"], [", 5", "5,"]):
        plain, streamed = _both(demo_server, messages=count, max_tokens=40, stop=given)
        cut = free[0][
            : min(free[0].find(s) for s in ([given] if isinstance(given, str) else given) if s in free[0])
        ]
        assert plain == streamed == (cut, "stop"), given
        assert plain[0] in (expected, expected.rstrip(", "))
    assert _both(demo_server, messages=count, max_tokens=40, stop="never-in-a-reply")[0] == free


def test_content_as_text_parts_is_read_like_a_string(server):
    parts = [
        {"role": "system", "content": [{"type": "text", "text": "Antwoord in het Nederlands."}]},
        {"role": "user", "content": [{"type": "text", "text": "Hoi!"}]},
    ]
    as_parts, as_strings = (
        _both(server, messages=parts, max_tokens=6),
        _both(server, messages=MESSAGES, max_tokens=6),
    )
    other = _both(server, messages=[{"role": "user", "content": "Iets anders."}], max_tokens=6)
    assert as_parts == as_strings and as_parts != other  # text that depends on the content read


def test_logprobs_are_the_model_own_and_cover_the_reply(server):
    import torch

    from lingualift.chat import _inputs

    client = _client(server)
    choice = client.chat.completions.create(
        model="m", messages=MESSAGES, max_tokens=6, logprobs=True, top_logprobs=3
    ).choices[0]
    entries = choice.logprobs.content
    assert "".join(e.token for e in entries) == choice.message.content and len(entries) >= 1
    for entry in entries:  # greedy: the chosen token is the most likely one
        assert len(entry.top_logprobs) == 3 and entry.logprob == entry.top_logprobs[0].logprob <= 0
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob >= entry.top_logprobs[2].logprob
    model, tokenizer = server.service.model, server.service.tokenizer
    with torch.no_grad():
        first = torch.log_softmax(model(**_inputs(tokenizer, MESSAGES)).logits[0, -1].float(), dim=-1)
    assert abs(entries[0].logprob - float(first.max())) < 1e-4
    chunks = list(
        client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=6, logprobs=True, stream=True)
    )
    streamed = [
        e.logprob
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content
    ]
    assert streamed == [e.logprob for e in entries]


def test_a_seed_makes_sampling_repeatable(server):
    def sample(seed):
        return (
            _client(server)
            .chat.completions.create(model="m", messages=MESSAGES, max_tokens=12, temperature=1.0, seed=seed)
            .choices[0]
            .message.content
        )

    assert sample(7) == sample(7)
    assert len({sample(7), sample(8), sample(9)}) > 1


def test_usage_arrives_last_in_a_stream_when_asked(server):
    chunks = list(
        _client(server).chat.completions.create(
            model="m", messages=MESSAGES, max_tokens=4, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"n": 2}, "n:"),
        ({"response_format": {"type": "json_object"}}, "response_format: this server cannot"),
        ({"response_format": "json"}, "response_format: this server cannot"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
            "tools: this server has no",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ]
            },
            "messages.0.content",
        ),
        ({"frequency_penalty": 0.5}, "frequency_penalty:"),
        ({"logit_bias": {"5": 10}}, "logit_bias:"),
        ({"top_logprobs": 2}, "top_logprobs: needs logprobs"),
    ],
)
def test_what_the_server_cannot_honour_is_refused_naming_the_field(server, extra, field):
    from openai import BadRequestError

    request = {"model": "m", "messages": MESSAGES, "max_tokens": 2, **extra}
    with pytest.raises(BadRequestError) as refused:
        _client(server).chat.completions.create(**request)
    assert field in str(refused.value)
    assert (
        _client(server).chat.completions.create(model="m", messages=MESSAGES, max_tokens=2).choices
    )  # lives on
