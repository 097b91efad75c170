"""The one secret scrubber (`memento.core.secrets`): every credential shape is masked, ordinary text is left alone."""

from __future__ import annotations

import logging
import time

import pytest

from memento.core.secrets import MASK, SecretsFilter, is_secret_name, scrub, scrub_text

CREDENTIALS = {
    "an Anthropic key": ("key sk-ant-api03-abcdefghijklmnop in use", "sk-ant-api03"),
    "an OpenAI project key": ("echo sk-proj-0123456789abcdefABCDEF", "sk-proj-0123"),
    "an OpenAI key": ("sk-0123456789abcdefghijklmn was refused", "sk-0123456789"),
    "a GitHub token": ("ghp_0123456789abcdefghijABCDEFGHIJ", "ghp_0123"),
    "a GitHub fine-grained token": ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11"),
    "a Slack token": ("xoxb-1234567890-abcdefghij", "xoxb-1234"),
    "an AWS access key id": ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7"),
    "a Google API key": ("AIzaSyA-0123456789abcdefghijklmnopqrstu", "AIzaSyA-0123"),
    "a Hugging Face token": ("hf_abcdefghijklmnopqrstuvwxyz0123456789", "hf_abcdefghij"),
    "a bearer token": ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGci"),
    "an environment assignment": ("ANTHROPIC_API_KEY=plainvalue123 memento run", "plainvalue123"),
    "a short password assignment": ("db_password=hunter2", "hunter2"),
    "a JSON secret": ('{"client_secret": "abcdef0123456789"}', "abcdef0123456789"),
    "a header line": ("x-api-key: 0123456789abcdef", "0123456789abcdef"),
    "basic credentials in a header": ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNz"),
    "a URL with a user and password": ("fetching https://alice:s3cr3t-pass@db.example.org/x", "s3cr3t-pass"),
    "a URL with a key in its query": ("GET https://serpapi.com/search?q=tea&api_key=abc123def456&num=10", "abc123def456"),
    "a URL with a bare key parameter": ("https://www.googleapis.com/customsearch/v1?key=abcd1234efgh&cx=1", "abcd1234efgh"),
    "a URL with a signature": ("https://bucket.example.com/o?X-Expires=60&sig=Zm9vYmFyYmF6", "Zm9vYmFyYmF6"),
    "an access token parameter": ("https://api.example.com/v1?access_token=tok_998877", "tok_998877"),
}


@pytest.mark.parametrize("text, secret", list(CREDENTIALS.values()), ids=list(CREDENTIALS))
def test_each_credential_shape_is_masked(text: str, secret: str) -> None:
    masked = scrub_text(text)
    assert secret not in masked
    assert MASK in masked


ORDINARY = [
    "max_tokens=4096, task-skim, a sketchy sk-",
    "input_tokens: 1200, output_tokens: 80, total_tokens: 1280",
    "The secret: the answer is 42.",
    "Token limits differ per model; see https://docs.example.org/models?lang=en&page=2",
    "Canberra is the capital of Australia (population 467,000).",
    "the key to the city; keyboard=qwerty; monkey=business",
    "https://example.org/search?q=what+is+a+password&page=1",
    "def f(x):\n    return x ** 2  # a comment: nothing secret",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_untouched(text: str) -> None:
    assert scrub_text(text) == text


def test_a_known_secret_is_masked_wherever_it_appears_but_a_short_one_is_not() -> None:
    assert scrub_text("the vendor said: bad key plainKEY-9988 (plainKEY-9988)", ["plainKEY-9988"]) == "the vendor said: bad key *** (***)"
    # A short value would mangle ordinary words: it is not taken as a secret.
    assert scrub_text("a test of the tester", ["test"]) == "a test of the tester"
    assert scrub_text("nothing to hide", [None, ""]) == "nothing to hide"


def test_a_user_and_password_in_a_url_go_but_the_host_stays() -> None:
    assert scrub_text("redis://default:hunter22@cache.internal:6379/0") == "redis://***@cache.internal:6379/0"


def test_keys_that_name_secrets_are_masked_at_any_depth_and_counts_are_not() -> None:
    settings = {
        "api_key": "anything",
        "Anthropic_ApiKey": "anything",
        "max_tokens": 1000,
        "providers": [{"headers": {"Authorization": "Basic x", "X-Trace": "keep"}}],
        "nested": {"deeper": {"client_secret": "a", "db_password": "b", "hf_token": "c", "token_url": "d"}},
        "note": "uses sk-proj-0123456789abcdefABCDEF",
    }
    clean = scrub(settings)
    assert clean["api_key"] == clean["Anthropic_ApiKey"] == MASK
    assert clean["max_tokens"] == 1000
    assert clean["providers"][0]["headers"] == {"Authorization": MASK, "X-Trace": "keep"}
    assert set(clean["nested"]["deeper"].values()) == {MASK}
    assert clean["note"] == "uses ***"
    assert settings["api_key"] == "anything"  # the caller's own data is left alone


@pytest.mark.parametrize("name", ["api_key", "OPENAI_API_KEY", "x-api-key", "Authorization", "client_secret", "password", "hf_token"])
def test_names_of_secrets_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["max_tokens", "input_tokens", "query", "url", "model", "keywords"])
def test_ordinary_names_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


def test_the_logging_filter_masks_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.secrets")
    handler = caplog.handler
    handler.addFilter(SecretsFilter(["my-own-configured-key"]))
    try:
        with caplog.at_level(logging.INFO, logger="tests.secrets"):
            log.info("calling %s with %s", "https://api.example.com/v1?api_key=abc123def456", "my-own-configured-key")
            try:
                raise RuntimeError("refused Bearer abcdefghijklmnopqrstuvwxyz")
            except RuntimeError:
                log.exception("the call failed")
    finally:
        handler.removeFilter(handler.filters[-1])
    shown = caplog.text
    assert "abc123def456" not in shown and "my-own-configured-key" not in shown
    assert "abcdefghijklmnopqrstuvwxyz" not in shown
    assert "calling https://api.example.com/v1?api_key=*** with ***" in shown
    assert "RuntimeError" in shown  # the traceback is kept, only masked


@pytest.mark.parametrize("unit", ["a-", "a.", "x_", "a+", "token ", "password", "http://a:"])
def test_a_long_text_is_scrubbed_in_linear_time_whatever_it_repeats(unit: str) -> None:
    # Tool output and log lines can be megabytes; a pattern that backtracks would hang the run for minutes.
    text = unit * (200_000 // len(unit))
    started = time.perf_counter()
    scrub_text(text)
    assert time.perf_counter() - started < 5.0  # linear: well under a second; quadratic: minutes
