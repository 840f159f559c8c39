"""OFREP with the official OpenFeature Python SDK and its OFREP provider:
a tenant's own flags, evaluated through Atrium with the tenant's API key."""
import json
import time
import urllib.request

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason


def settle():
    """A CLI change reaches the running server within one cache poll (500 ms)."""
    time.sleep(1.0)


def client_for(atrium, key, domain):
    provider = OFREPProvider(atrium.base, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    api.set_provider(provider, domain)
    return api.get_client(domain)


def test_boolean_and_string_flags_targeting_rollout_and_kill_switch(atrium):
    key = atrium.tenant_key("OFREP", rpm=100000)
    atrium.cli("flag", "create", "--key", "new-checkout", "--tenant", "OFREP")
    atrium.cli("flag", "set-rollout", "new-checkout", "50", "--tenant", "OFREP")
    atrium.cli("flag", "create", "--key", "banner", "--tenant", "OFREP", "--type", "string",
               "--variant", "blue=Blue", "--variant", "green=Green")
    atrium.cli("flag", "target", "banner", "--tenant", "OFREP", "--keys", "vip-1,vip-2")
    settle()
    client = client_for(atrium, key, "ofrep-a")

    seen = [client.get_boolean_details("new-checkout", False, EvaluationContext(f"user-{i}")) for i in range(200)]
    on = [d for d in seen if d.value]
    assert all(d.reason == Reason.SPLIT and d.variant == "on" for d in on)
    assert 70 <= len(on) <= 130, len(on)  # about half, and stable:
    again = [client.get_boolean_value("new-checkout", False, EvaluationContext(f"user-{i}")) for i in range(200)]
    assert again == [d.value for d in seen]

    vip = client.get_string_details("banner", "none", EvaluationContext("vip-2"))
    assert (vip.value, vip.variant, vip.reason) == ("Green", "green", Reason.TARGETING_MATCH)
    other = client.get_string_details("banner", "none", EvaluationContext("someone"))
    assert (other.value, other.reason) == ("Blue", Reason.DEFAULT)

    atrium.cli("flag", "disable", "new-checkout", "--tenant", "OFREP")
    deadline = time.time() + 2
    while True:
        d = client.get_boolean_details("new-checkout", True, EvaluationContext("user-1"))
        if d.reason == Reason.DISABLED or time.time() > deadline:
            break
        time.sleep(0.05)
    assert (d.value, d.reason) == (False, Reason.DISABLED)


def test_missing_flags_and_other_tenants_flags_are_not_found(atrium):
    a = atrium.tenant_key("OFREP owner", rpm=100000)
    b = atrium.tenant_key("OFREP other", rpm=100000)
    atrium.cli("flag", "create", "--key", "secret-project", "--tenant", "OFREP owner")
    settle()
    owner = client_for(atrium, a, "ofrep-owner")
    other = client_for(atrium, b, "ofrep-other")
    assert owner.get_boolean_details("secret-project", True, EvaluationContext("u")).reason == Reason.STATIC
    for c, flag in ((other, "secret-project"), (owner, "no-such-flag")):
        d = c.get_boolean_details(flag, True, EvaluationContext("u"))
        assert d.value is True and d.error_code == ErrorCode.FLAG_NOT_FOUND, d


def test_bulk_evaluation_has_an_etag_and_answers_304(atrium):
    key = atrium.tenant_key("OFREP bulk", rpm=100000)
    atrium.cli("flag", "create", "--key", "one", "--tenant", "OFREP bulk")
    atrium.cli("flag", "create", "--key", "two", "--tenant", "OFREP bulk")
    settle()
    body = json.dumps({"context": {"targetingKey": "u1"}}).encode()

    def post(etag=None):
        req = urllib.request.Request(f"{atrium.base}/ofrep/v1/evaluate/flags", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                                              **({"If-None-Match": etag} if etag else {})})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.headers.get("ETag"), json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("ETag"), None

    status, etag, data = post()
    assert status == 200 and etag
    assert [f["key"] for f in data["flags"]] == ["one", "two"]
    assert post(etag)[0] == 304
    atrium.cli("flag", "disable", "one", "--tenant", "OFREP bulk")
    settle()
    status, new_etag, data = post(etag)
    assert status == 200 and new_etag != etag
    assert data["flags"][0]["reason"] == "DISABLED"
