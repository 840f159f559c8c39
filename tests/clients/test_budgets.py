"""Budgets as the official SDKs and a webhook receiver see them: a hard budget
refuses with 429 budget_exceeded in both SDKs' error types, and a soft
budget's alert verifies with the Standard Webhooks library."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import anthropic
import openai
import pytest
from standardwebhooks.webhooks import Webhook

WORDS = " ".join(["word"] * 200)


def until(check, seconds=8):
    """Budgets set by the CLI reach the server within its cache poll."""
    deadline = time.time() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_hard_budget_refuses_in_both_sdks(atrium):
    key = atrium.tenant_key("Hard budget", rpm=100000)
    atrium.cli("budget", "set", "--tenant", "Hard budget", "--limit-usd", "0.01", "--hard")
    claude = anthropic.Anthropic(base_url=atrium.base, api_key=key, max_retries=0)
    gpt = openai.OpenAI(base_url=f"{atrium.base}/v1", api_key=key, max_retries=0)

    def refused_anthropic():
        try:
            claude.messages.create(model="claude-test", max_tokens=1000,
                                   messages=[{"role": "user", "content": "hi"}])
        except anthropic.RateLimitError as e:
            return e
        raise AssertionError("not refused yet")

    e = until(refused_anthropic)
    assert e.status_code == 429
    assert e.body["error"]["type"] == "budget_exceeded"
    assert "hard budget of $0.01" in e.body["error"]["message"]
    with pytest.raises(openai.RateLimitError) as o:
        gpt.chat.completions.create(model="gpt-test", max_tokens=100000,
                                    messages=[{"role": "user", "content": "hi"}])
    assert o.value.code == "budget_exceeded"
    assert o.value.type == "budget_exceeded"


class Hook(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_soft_budget_alert_verifies_with_standard_webhooks(atrium):
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    key = atrium.tenant_key("Soft budget", rpm=100000)
    out = json.loads(atrium.cli("budget", "set", "--tenant", "Soft budget", "--limit-usd", "0.01",
                                "--soft", "--period", "7d", "--webhook", url, "--json"))
    secret = out["webhook_secret"]
    claude = anthropic.Anthropic(base_url=atrium.base, api_key=key, max_retries=0)
    time.sleep(2.5)  # the cache poll: the budget must be known before spending
    for _ in range(4):  # about $0.0036 each: 50, 80 and 100% are crossed
        claude.messages.create(model="claude-test", max_tokens=300,
                               messages=[{"role": "user", "content": WORDS}])

    def three():
        assert len(Hook.received) == 3, Hook.received
        return Hook.received

    received = until(three, seconds=15)
    server.shutdown()
    seen = []
    for headers, body in received:
        payload = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
        assert payload["type"] == "budget.threshold_reached"
        seen.append(payload["data"]["threshold_percent"])
        with pytest.raises(Exception):
            Webhook("whsec_" + "A" * 32).verify(body, {k.lower(): v for k, v in headers.items()})
    assert sorted(seen) == [50, 80, 100]
