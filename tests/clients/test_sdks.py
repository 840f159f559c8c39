"""The official anthropic and openai SDKs against Atrium: both dialects, both
provider kinds (so translation runs both ways), streaming, 429 and 401."""
import json
import time
import urllib.request

import anthropic
import openai
import pytest

MODELS = ["claude-test", "gpt-test"]


def upstream_request(atrium):
    with urllib.request.urlopen(f"http://{atrium.mock}/mock/last-request") as r:
        return json.load(r)


@pytest.fixture
def claude(atrium):
    return anthropic.Anthropic(api_key=atrium.key, base_url=atrium.base, max_retries=0)


@pytest.fixture
def gpt(atrium):
    return openai.OpenAI(api_key=atrium.key, base_url=f"{atrium.base}/v1", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_message(claude, atrium, model):
    msg = claude.messages.create(model=model, max_tokens=64, system="Be terse.",
                                 messages=[{"role": "user", "content": "hello from the sdk"}])
    assert msg.content[0].text == "echo: hello from the sdk"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens == 5
    up = upstream_request(atrium)
    if model == "claude-test":
        assert up["x_api_key"] == "sk-ant-test"
    else:
        assert up["authorization"] == "Bearer sk-oai-test"
        assert up["body"]["messages"][0] == {"role": "system", "content": "Be terse."}


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_stream(claude, model):
    with claude.messages.stream(model=model, max_tokens=64,
                                messages=[{"role": "user", "content": "stream this back"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream this back"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_tool_use(claude, model):
    tools = [{"name": "lookup", "description": "Look something up",
              "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    msg = claude.messages.create(model=model, max_tokens=64, tools=tools,
                                 messages=[{"role": "user", "content": "weather in Oslo"}])
    assert msg.stop_reason == "tool_use"
    call = next(b for b in msg.content if b.type == "tool_use")
    assert call.name == "lookup" and call.input == {"query": "weather in Oslo"}


@pytest.mark.parametrize("model", MODELS)
def test_openai_sdk_completion(gpt, model):
    r = gpt.chat.completions.create(model=model, max_tokens=64,
                                    messages=[{"role": "system", "content": "sys"},
                                              {"role": "user", "content": "hi there"}])
    assert r.choices[0].message.content == "echo: hi there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 3
    assert r.model == model


@pytest.mark.parametrize("model", MODELS)
def test_openai_sdk_stream_with_usage(gpt, model):
    stream = gpt.chat.completions.create(model=model, stream=True, stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": "one two"}])
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == "echo: one two"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 3


@pytest.mark.parametrize("model", MODELS)
def test_openai_sdk_tool_calls(gpt, model):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    r = gpt.chat.completions.create(model=model, tools=tools, messages=[{"role": "user", "content": "find x"}])
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"query": "find x"}


def test_models_list(gpt, claude):
    # Other tests share this server and may add catalog models (a custom
    # model pool adds its base model): ours are listed, in name order.
    for ids in ([m.id for m in gpt.models.list()], [m.id for m in claude.models.list()]):
        assert set(MODELS) <= set(ids) and ids == sorted(ids), ids


def test_401_in_both_sdks(atrium):
    bad = "atr_000000000000_" + "0" * 48
    with pytest.raises(anthropic.AuthenticationError) as e:
        anthropic.Anthropic(api_key=bad, base_url=atrium.base, max_retries=0).messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key=bad, base_url=f"{atrium.base}/v1", max_retries=0).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}])


def test_429_in_both_sdks(atrium):
    tiny_key = atrium.tenant_key("Tiny", rpm=2, tpm=100000)
    claude = anthropic.Anthropic(api_key=tiny_key, base_url=atrium.base, max_retries=0)
    gpt = openai.OpenAI(api_key=tiny_key, base_url=f"{atrium.base}/v1", max_retries=0)
    for _ in range(2):
        claude.messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.RateLimitError) as e:
        claude.messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert int(e.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.RateLimitError):
        gpt.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])


def test_usage_report_matches(atrium):
    # A tenant of its own, so the count does not depend on which other tests ran.
    key = atrium.tenant_key("Usage", rpm=100000)
    claude = anthropic.Anthropic(api_key=key, base_url=atrium.base, max_retries=0)
    gpt = openai.OpenAI(api_key=key, base_url=f"{atrium.base}/v1", max_retries=0)
    for model in MODELS:
        claude.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "x"}])
        gpt.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    # The ledger writes asynchronously, so give it a moment.
    for _ in range(50):
        report = json.loads(atrium.cli("usage", "report", "--tenant", "Usage", "--json"))
        if report["requests"] >= 4:
            break
        time.sleep(0.1)
    assert report["requests"] == 4
    assert set(report["by_model"]) == set(MODELS)
    assert report["cost_usd"] > 0
