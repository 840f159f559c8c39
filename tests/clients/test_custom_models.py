"""Custom models (issue 13) through the official SDKs: a tenant's LoRA
adapter, deployed to a pool of three `atrium mock-upstream --kind vllm`
engines, is called by its own name in both dialects, streaming included,
and reaches the engines under the adapter's engine name; another tenant's
key gets not-found, as for a model that does not exist."""
import json
import os
import time
import urllib.request

import anthropic
import openai
import pytest

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "lora-tiny")


def last_model(engine):
    with urllib.request.urlopen(f"http://{engine}/mock/last-request") as r:
        return ((json.load(r) or {}).get("body") or {}).get("model")


@pytest.fixture(scope="module")
def lora(atrium):
    engines = [atrium.start(["mock-upstream", "--kind", "vllm", "--base-model", "tiny-llama",
                             "--forget-on-restart", "--addr", "127.0.0.1:0"], "listening on ")
               for _ in range(3)]
    args = ["pool", "add", "--name", "sdk-lora", "--base-model", "tiny-llama", "--region", "any"]
    for e in engines:
        args += ["--endpoint", f"http://{e}"]
    atrium.cli(*args)
    key = atrium.tenant_key("Lora SDK", rpm=100000)
    atrium.cli("flag", "target", "models.custom", "--tenants", "Lora SDK")
    model = json.loads(atrium.cli("custom-model", "register", "--tenant", "Lora SDK", "--name", "support-bot",
                                  "--base-model", "tiny-llama", "--adapter",
                                  atrium.tenant_adapter("Lora SDK", os.path.abspath(FIXTURE)), "--json"))
    assert model["status"] == "ready", model
    deployed = json.loads(atrium.cli("custom-model", "deploy", "support-bot", "--tenant", "Lora SDK", "--json"))
    assert deployed["status"] == "deployed", deployed
    # The server follows the CLI's change within one cache poll.
    client = openai.OpenAI(api_key=key, base_url=f"{atrium.base}/v1", max_retries=0)
    deadline = time.time() + 5
    while True:
        try:
            client.chat.completions.create(model="support-bot", max_tokens=8,
                                           messages=[{"role": "user", "content": "ping"}])
            break
        except openai.APIStatusError:
            assert time.time() < deadline, "the server never routed the custom model"
            time.sleep(0.1)
    return {"key": key, "engines": engines, "engine_name": "atrium-" + deployed["id"]}


def reached_adapter(lora):
    return lora["engine_name"] in [last_model(e) for e in lora["engines"]]


@pytest.mark.parametrize("model", ["support-bot", "support-bot:1"])
def test_openai_sdk_reaches_the_adapter(atrium, lora, model):
    client = openai.OpenAI(api_key=lora["key"], base_url=f"{atrium.base}/v1", max_retries=0)
    r = client.chat.completions.create(model=model, max_tokens=32,
                                       messages=[{"role": "user", "content": "hello adapter"}])
    assert r.choices[0].message.content == "echo: hello adapter"
    assert r.model == model
    assert reached_adapter(lora)
    chunks = client.chat.completions.create(model=model, max_tokens=32, stream=True,
                                            messages=[{"role": "user", "content": "stream it"}])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream it"


def test_anthropic_sdk_reaches_the_adapter(atrium, lora):
    client = anthropic.Anthropic(api_key=lora["key"], base_url=atrium.base, max_retries=0)
    msg = client.messages.create(model="support-bot", max_tokens=32,
                                 messages=[{"role": "user", "content": "hello adapter"}])
    assert msg.content[0].text == "echo: hello adapter"
    assert reached_adapter(lora)
    with client.messages.stream(model="support-bot", max_tokens=32,
                                messages=[{"role": "user", "content": "stream it"}]) as s:
        assert "".join(s.text_stream) == "echo: stream it"


def test_another_tenant_gets_not_found(atrium, lora):
    other = atrium.tenant_key("Not Lora", rpm=1000)
    client = anthropic.Anthropic(api_key=other, base_url=atrium.base, max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="support-bot", max_tokens=8,
                               messages=[{"role": "user", "content": "hi"}])
    gpt = openai.OpenAI(api_key=other, base_url=f"{atrium.base}/v1", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        gpt.chat.completions.create(model="support-bot", max_tokens=8,
                                    messages=[{"role": "user", "content": "hi"}])
