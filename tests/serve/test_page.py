"""`lingualift serve`'s web chat page in headless Chromium: type a message, watch the reply stream in,
a second turn carries the history; the screenshot is kept in test-artifacts/."""

import os
import threading

import pytest

from lingualift.chat import reply_once
from lingualift.serve.config import ServeConfig
from lingualift.serve.server import start_server

pytestmark = pytest.mark.slow

# Every text change of the newest reply, recorded in the page: more than one means it streamed.
WATCH = """() => { window.updates = 0; new MutationObserver(() => window.updates++)
  .observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true}); }"""


@pytest.fixture(scope="module")
def page_server(demo_model_path):
    # The real demo model: the tiny random one streams only newlines, which a page shows as nothing.
    # A max_tokens limit below the page's own old request (256) once broke the page: keep it low.
    instance = start_server(
        ServeConfig(model=str(demo_model_path), port=0, max_tokens_limit=64, default_max_tokens=24),
        echo=lambda *_: None,
    )
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _expected(server, messages):
    return reply_once(server.service.model, server.service.tokenizer, messages, max_new_tokens=24)[0].strip()


def _send(page, text):
    page.fill("#message", text)
    page.press("#message", "Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.turn.assistant')].every(t => t.dataset.state === 'done')",
        timeout=60_000,
    )
    return page.locator(".turn.assistant .text").last.inner_text().strip()


def test_the_chat_page_streams_a_reply_and_keeps_the_history(page_server, browser, artifacts_dir):
    host, port = page_server.server_address[:2]
    page = browser.new_page()
    try:
        page.goto(f"http://{host}:{port}/")
        assert page.title() == "lingualift chat"
        page.fill("#system", "Antwoord altijd in het Nederlands.")
        page.evaluate(WATCH)
        first = _send(page, "Hoi! Hoe gaat het?")
        system = {"role": "system", "content": "Antwoord altijd in het Nederlands."}
        history = [system, {"role": "user", "content": "Hoi! Hoe gaat het?"}]
        assert first and first == _expected(page_server, history)
        assert page.evaluate("window.updates") > 3  # user turn, empty reply, then the reply piece by piece

        second = _send(page, "Vertel me meer.")
        history += [{"role": "assistant", "content": first}, {"role": "user", "content": "Vertel me meer."}]
        assert second == _expected(page_server, history)  # the page sent the whole conversation
        assert page.locator(".turn").count() == 4 and page.locator(".turn.error").count() == 0
        shot = os.path.join(artifacts_dir, "serve-chat-page.png")
        page.screenshot(path=shot, full_page=True)
        assert os.path.getsize(shot) > 5_000

        page.click("#reset")
        assert page.locator(".turn").count() == 0
    finally:
        page.close()


def test_the_chat_page_shows_a_server_error_in_the_conversation(page_server, browser):
    host, port = page_server.server_address[:2]
    page = browser.new_page()
    try:
        page.goto(f"http://{host}:{port}/")
        page.route("**/v1/chat/completions", lambda route: route.continue_(post_data=b'{"messages": []}'))
        page.fill("#message", "Hallo")
        page.press("#message", "Enter")
        page.wait_for_selector(".turn.error", timeout=30_000)
        assert "messages" in page.locator(".turn.error .text").inner_text()
    finally:
        page.close()
