"""The web chat page that `kvinfer serve` serves at `/`, in headless Chromium driven by
Selenium: streamed replies, the settings panel and the KV cache panel fed from /stats.

Needs Debian's `chromium` and `chromium-driver` packages. The chat test saves a
screenshot to tests/artifacts/web-chat.png."""

import pathlib
import re
import time

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT
from server_process import ServerProcess

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

REPLY_TIMEOUT_S = 60
PANEL_TIMEOUT_S = 5

# With the chat template, the first prompt fills two KV blocks of 16 tokens, which the
# second turn must reuse.
SYSTEM_PROMPT = "You are a helpful assistant. You answer questions about geography in one short sentence, in English."

# Status line under a reply, e.g. "prompt 52 tokens · cached 48 · completion 9 · 180.2 tokens/s".
STATUS_LINE = re.compile(r"prompt (\d+) tokens · cached (\d+) · completion (\d+)")
RATE = re.compile(r"\d+(\.\d+)? tokens/s")

# Records every text that an assistant message shows, with the message's data-state at
# that moment, in window.replyTexts. A MutationObserver records each update however fast
# the tokens arrive, while polling from the test could miss short replies.
RECORD_REPLY_TEXTS = """
window.replyTexts = [];
if (window.replyObserver) {
  window.replyObserver.disconnect();
}
window.replyObserver = new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (!(target instanceof Element) || !target.matches(".message.assistant .message-content")) {
      continue;
    }
    for (const node of record.addedNodes) {
      window.replyTexts.push({ text: node.textContent, state: target.parentElement.dataset.state });
    }
  }
});
window.replyObserver.observe(document.getElementById("messages"), { childList: true, subtree: true });
"""


@pytest.fixture(scope="module")
def server():
    server = ServerProcess("-c", "2048")
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def driver():
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    assert CHROMEDRIVER.is_file(), (
        f"{CHROMEDRIVER} is missing: install Debian's chromium-driver package (apt-get install chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # Chromium does not start as root with its sandbox on, and the tests run as root.
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # Keep the browser from contacting any host other than the test server.
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    # An explicit driver path keeps Selenium Manager from looking for or downloading one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def wait_for(driver, condition, timeout, message):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda _: condition(), message)


def console_errors(driver):
    """Returns the SEVERE browser console entries logged since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def load_page(driver, base_url):
    driver.get(base_url + "/")
    driver.execute_script(RECORD_REPLY_TEXTS)


def set_field(driver, element_id, text):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def assistant_messages(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#messages .message.assistant")


def send_and_wait_for_reply(driver, *keys):
    """Types `keys` into the message box, presses Enter and waits for the reply to finish.

    Returns the finished assistant message element."""
    count_before = len(assistant_messages(driver))
    driver.execute_script("window.replyTexts = [];")
    driver.find_element(By.ID, "message-input").send_keys(*keys, Keys.ENTER)

    wait_for(driver, lambda: len(assistant_messages(driver)) > count_before, PANEL_TIMEOUT_S,
             "no assistant message appeared after pressing Enter")
    reply = assistant_messages(driver)[-1]
    wait_for(driver, lambda: reply.get_attribute("data-state") == "done", REPLY_TIMEOUT_S,
             f"the reply did not finish within {REPLY_TIMEOUT_S} s")
    return reply


def reply_status(reply):
    """Parses the status line under a finished reply into token counts."""
    status = reply.find_element(By.CLASS_NAME, "message-status").text
    match = STATUS_LINE.search(status)
    assert match, f"the status line shows no token counts: {status!r}"
    prompt, cached, completion = (int(group) for group in match.groups())
    return {"text": status, "prompt": prompt, "cached": cached, "completion": completion}


def assert_reply_streamed(driver, final_text):
    """Checks that the reply's text grew in more than one step while it streamed."""
    records = driver.execute_script("return window.replyTexts;")
    lengths = [len(record["text"]) for record in records]
    streaming_partials = [
        record for record in records
        if record["state"] == "streaming" and 0 < len(record["text"]) < len(final_text)
    ]
    assert lengths, "the observer recorded no text in the reply"
    assert streaming_partials, f"no partial text was shown while streaming: {records}"
    assert len(set(lengths)) > 1, f"the text appeared in one step, not streamed: {records}"
    assert lengths == sorted(lengths), f"the streamed text got shorter: {lengths}"
    assert records[-1]["text"] == final_text


def hit_rate_percent(driver):
    text = text_of(driver, "kv-hit-rate")
    match = re.fullmatch(r"(\d+(?:\.\d+)?) %", text)
    return float(match.group(1)) if match else None


def send_and_wait_for_error(driver, text, case):
    """Sends `text`, waits for an error message and a usable Send button, and returns the
    texts of the error messages in the conversation."""
    driver.find_element(By.ID, "message-input").send_keys(text, Keys.ENTER)
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#messages .message.error"), REPLY_TIMEOUT_S,
             f"no error message appeared for {case}")
    wait_for(driver, lambda: driver.find_element(By.ID, "send-button").is_enabled(), PANEL_TIMEOUT_S,
             "the Send button stayed disabled after the error")
    return [error.text for error in driver.find_elements(By.CSS_SELECTOR, "#messages .message.error .message-content")]


def test_kv_panel_shows_server_stats(server, driver):
    load_page(driver, server.base_url)
    stats = server.get_json("/stats")

    wait_for(driver, lambda: text_of(driver, "kv-blocks-total") == str(stats["kv_blocks_total"]), PANEL_TIMEOUT_S,
             f"the KV panel does not show kv_blocks_total={stats['kv_blocks_total']} from /stats")
    assert text_of(driver, "model-name") == stats["model"]
    assert text_of(driver, "kv-blocks-used") == str(stats["kv_blocks_used"])
    assert text_of(driver, "kv-running") == str(stats["requests_running"])
    assert text_of(driver, "kv-waiting") == str(stats["requests_waiting"])
    assert hit_rate_percent(driver) is not None, text_of(driver, "kv-hit-rate")
    assert text_of(driver, "kv-status") == ""
    assert console_errors(driver) == []


def test_chat_streams_two_turns(server, driver):
    load_page(driver, server.base_url)
    set_field(driver, "temperature", "0")
    set_field(driver, "max-tokens", "64")
    set_field(driver, "system-prompt", SYSTEM_PROMPT)

    started = time.monotonic()
    first = send_and_wait_for_reply(driver, "What is the capital of France?")
    first_seconds = time.monotonic() - started
    first_text = first.find_element(By.CLASS_NAME, "message-content").text
    assert first_text.strip() != ""
    assert_reply_streamed(driver, first_text)
    first_status = reply_status(first)
    assert first_status["prompt"] > 0
    assert first_status["completion"] > 0
    if first_status["completion"] > 1:
        assert RATE.search(first_status["text"]), first_status["text"]
    assert driver.find_element(By.ID, "send-button").is_enabled()
    assert not driver.find_element(By.ID, "stop-button").is_enabled()

    # Shift+Enter puts a line break in the message, and Enter sends it. The second request
    # repeats the system prompt and the first turn, which the prefix cache then holds.
    second = send_and_wait_for_reply(driver, "Thank you.", Keys.SHIFT, Keys.ENTER, Keys.SHIFT,
                                     "And what is the capital of Germany?")
    user_messages = driver.find_elements(By.CSS_SELECTOR, "#messages .message.user .message-content")
    assert len(user_messages) == 2
    assert user_messages[1].text == "Thank you.\nAnd what is the capital of Germany?"
    second_text = second.find_element(By.CLASS_NAME, "message-content").text
    assert second_text.strip() != ""
    second_status = reply_status(second)
    assert second_status["prompt"] > first_status["prompt"] + first_status["completion"], (
        "the second request did not contain the whole first turn", first_status, second_status)
    assert second_status["cached"] > 0, second_status
    assert len(assistant_messages(driver)) == 2

    wait_for(driver, lambda: (hit_rate_percent(driver) or 0) > 0, PANEL_TIMEOUT_S,
             f"the KV panel's prefix hit rate stayed at {text_of(driver, 'kv-hit-rate')!r} after the second turn")
    assert server.get_json("/stats")["prefix_cache_hit_rate"] > 0

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "web-chat.png"
    screenshot.unlink(missing_ok=True)
    assert driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 1000
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)

    # In a phone-sized window the page must not scroll sideways.
    driver.set_window_size(400, 800)
    try:
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        assert overflow <= 0, f"the page is {overflow} px wider than a 400 px window"
        assert driver.save_screenshot(str(ARTIFACTS / "web-chat-narrow.png"))
    finally:
        driver.set_window_size(1280, 1000)

    assert console_errors(driver) == []
    print(f"first reply finished {first_seconds:.2f} s after Enter: {first_status['text']}")


def test_stop_button_ends_reply(server, driver):
    load_page(driver, server.base_url)
    set_field(driver, "temperature", "0")
    set_field(driver, "max-tokens", "1500")

    driver.find_element(By.ID, "message-input").send_keys("Count from 1 to 1000, separated by commas.", Keys.ENTER)
    wait_for(driver, lambda: len(assistant_messages(driver)) == 1, PANEL_TIMEOUT_S, "no assistant message appeared")
    reply = assistant_messages(driver)[0]
    content = reply.find_element(By.CLASS_NAME, "message-content")
    wait_for(driver, lambda: content.text != "", REPLY_TIMEOUT_S, "the reply showed no text")
    stop_button = driver.find_element(By.ID, "stop-button")
    assert stop_button.is_enabled()
    stop_button.click()

    wait_for(driver, lambda: reply.get_attribute("data-state") == "done", PANEL_TIMEOUT_S,
             "the reply was still streaming after Stop")
    status = reply.find_element(By.CLASS_NAME, "message-status").text
    assert status.startswith("Stopped"), f"the reply finished before Stop took effect: {status!r}"
    assert content.text != ""
    assert driver.find_element(By.ID, "send-button").is_enabled()
    assert not stop_button.is_enabled()

    # Generating 1500 tokens takes several seconds, so an idle server this soon means it
    # cancelled the request when the browser closed the stream.
    server.wait_until_idle(timeout=5)

    driver.find_element(By.ID, "new-chat-button").click()
    assert driver.find_elements(By.CSS_SELECTOR, "#messages .message") == []
    assert console_errors(driver) == []


def test_server_error_shown_in_conversation(server, driver):
    load_page(driver, server.base_url)

    # A system prompt of about 3000 tokens does not fit the 2048-token context, so the
    # server rejects the request, and the page must show the server's own message.
    system_prompt = "word " * 3000
    model = server.get_json("/v1/models")["data"][0]["id"]
    status, body = server.post("/v1/chat/completions", {
        "model": model,
        "messages": [{"role": "system", "content": system_prompt.strip()}, {"role": "user", "content": "Hello"}],
        "max_tokens": 8,
    })
    assert status == 400, body
    expected = f"{body['error']['message']} (HTTP 400)"

    # Typing 15000 characters key by key would take long, so the value is set directly.
    driver.execute_script("document.getElementById('system-prompt').value = arguments[0];", system_prompt)
    errors = send_and_wait_for_error(driver, "Hello", "a prompt longer than the context")
    assert errors == [expected]
    assert assistant_messages(driver) == []
    user_message = driver.find_element(By.CSS_SELECTOR, "#messages .message.user")
    assert "discarded" in user_message.get_attribute("class").split()
    assert driver.find_element(By.ID, "message-input").get_attribute("value") == "Hello"
    # Chromium logs the failed request (status 400) in the console, so the log is read and dropped.
    console_errors(driver)


def test_api_key_sent_as_bearer_token(driver):
    api_key = "web-page-test-key"
    keyed_server = ServerProcess("-c", "512", "--api-key", api_key)
    try:
        load_page(driver, keyed_server.base_url)
        set_field(driver, "temperature", "0")
        set_field(driver, "max-tokens", "16")
        status, body = keyed_server.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hello"}]})
        assert status == 401, body
        expected = f"{body['error']['message']} (HTTP 401)"

        # Without the key the server rejects the request and the page shows why.
        errors = send_and_wait_for_error(driver, "Hello", "a request without the API key")
        assert errors == [expected]
        console_errors(driver)  # Chromium logs the failed request (status 401), so the log is dropped.

        # With the key the same message, which the page put back into the input, gets a reply.
        set_field(driver, "api-key", api_key)
        reply = send_and_wait_for_reply(driver)
        assert reply.find_element(By.CLASS_NAME, "message-content").text.strip() != ""
        assert reply_status(reply)["completion"] > 0

        # The key is kept in localStorage, so it survives a reload.
        driver.refresh()
        assert driver.find_element(By.ID, "api-key").get_attribute("value") == api_key
        driver.find_element(By.ID, "api-key").clear()
        assert driver.execute_script("return localStorage.getItem('kvinfer.apiKey');") is None
        assert console_errors(driver) == []
    finally:
        assert keyed_server.stop() == 0, keyed_server.log


def test_kv_panel_when_server_stops(driver):
    stopping_server = ServerProcess("-c", "512")
    try:
        load_page(driver, stopping_server.base_url)
        wait_for(driver, lambda: text_of(driver, "kv-blocks-total") not in ("", "–"), PANEL_TIMEOUT_S,
                 "the KV panel never showed the server's stats")
    finally:
        assert stopping_server.stop() == 0, stopping_server.log

    wait_for(driver, lambda: text_of(driver, "kv-status") == "server unreachable", PANEL_TIMEOUT_S,
             f"the KV panel shows {text_of(driver, 'kv-status')!r}, not 'server unreachable'")

    # The chat still works: the failed request shows an error and the text returns to the input.
    message_input = driver.find_element(By.ID, "message-input")
    message_input.send_keys("Are you there?", Keys.ENTER)
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#messages .message.error"), PANEL_TIMEOUT_S,
             "no error message appeared for a request to a stopped server")
    wait_for(driver, lambda: driver.find_element(By.ID, "send-button").is_enabled(), PANEL_TIMEOUT_S,
             "the Send button stayed disabled after the failed request")
    assert assistant_messages(driver) == []
    error_text = driver.find_element(By.CSS_SELECTOR, "#messages .message.error").text
    assert "cannot reach the server" in error_text
    assert message_input.get_attribute("value") == "Are you there?"
    assert driver.find_element(By.ID, "send-button").is_enabled()
    # Connection errors are expected in the console here, so they are read and dropped.
    console_errors(driver)
