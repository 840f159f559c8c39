"""Compliance reports from real SDK traffic, checked by a real JSON Schema
validator against the schema in the repository: the openai SDK's `user`
and the anthropic SDK's `metadata.user_id` find a subject's requests."""
import json
import os
import pathlib
import tempfile
import time

import anthropic
import jsonschema
import openai
import pytest

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "public", "compliance-report.schema.json")


@pytest.fixture(scope="module")
def logged(atrium):
    key = atrium.tenant_key("Compliance SDK", rpm=100000)
    atrium.cli("tenant", "request-log", "Compliance SDK", "--mode", "full")
    time.sleep(1.5)  # the server's key cache picks the setting up
    gpt = openai.OpenAI(api_key=key, base_url=f"{atrium.base}/v1", max_retries=0)
    gpt.chat.completions.create(model="gpt-test", user="end-user-9",
                                messages=[{"role": "user", "content": "write to zoe@example.com"}])
    claude = anthropic.Anthropic(api_key=key, base_url=atrium.base, max_retries=0)
    claude.messages.create(model="claude-test", max_tokens=16, metadata={"user_id": "end-user-9"},
                           messages=[{"role": "user", "content": "call +44 20 7946 0958"}])
    # The ledger writes behind the response: wait until both are stored
    # (a fixed pause was too short on a busy machine against the test build).
    deadline = time.time() + 10
    while len(requests_of(atrium, "end-user-9")) < 2 and time.time() < deadline:
        time.sleep(0.2)
    return atrium


def requests_of(atrium, subject):
    """The subject's requests in today's access report."""
    with tempfile.TemporaryDirectory() as tmp:
        doc, _ = report(atrium, pathlib.Path(tmp), "--kind", "access", "--tenant", "Compliance SDK",
                        "--subject", subject)
    return doc["body"]["requests"]


def report(atrium, tmp_path, *args):
    out = tmp_path / "report.json"
    day = time.strftime("%Y-%m-%d", time.gmtime())
    atrium.cli("compliance", "report", *args, "--from", day, "--to", day, "--format", "json", "--out", str(out))
    doc = json.loads(out.read_text())
    with open(SCHEMA) as f:
        jsonschema.validate(doc, json.load(f))
    return doc, out


def test_reports_validate_against_the_schema(logged, tmp_path):
    ropa, _ = report(logged, tmp_path, "--kind", "ropa", "--tenant", "Compliance SDK")
    classes = [c["class"] for c in ropa["body"]["personal_data"]]
    assert classes == ["EMAIL_ADDRESS", "PHONE_NUMBER"]
    providers = sorted(r["provider"] for r in ropa["body"]["recipients"])
    assert providers == ["up-anthropic", "up-openai"]
    soc2, _ = report(logged, tmp_path, "--kind", "soc2")
    assert soc2["body"]["scope"] == "platform"
    report(logged, tmp_path, "--kind", "processor")


def test_the_sdks_end_user_finds_both_requests(logged, tmp_path):
    access, path = report(logged, tmp_path, "--kind", "access", "--tenant", "Compliance SDK",
                          "--subject", "end-user-9")
    rows = access["body"]["requests"]
    assert len(rows) == 2 and all(r["request_id"].startswith("req_") for r in rows)
    assert "zoe@example.com" in rows[0]["prompt"] + rows[1]["prompt"]
    logged.cli("compliance", "verify", str(path))
    receipt = json.loads(logged.cli("compliance", "erase", "--tenant", "Compliance SDK",
                                    "--subject", "end-user-9", "--yes"))
    with open(SCHEMA) as f:
        jsonschema.validate(receipt, json.load(f))
    removed = {r["table"]: r["rows"] for r in receipt["body"]["removed"]}
    assert removed["request_log"] == 2 and removed["usage_events.end_user"] == 2
