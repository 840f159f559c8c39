"""OFREP with the official OpenFeature JavaScript server SDK and its OFREP
provider (npm), run by Node against the same Atrium: js/ofrep.mjs asserts
each evaluation; this test sets the flags up and checks it passed."""
import json
import os
import shutil
import subprocess
import time

import pytest

JS = os.path.join(os.path.dirname(__file__), "js")


@pytest.fixture(scope="module")
def node_modules():
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not os.path.isdir(os.path.join(JS, "node_modules", "@openfeature", "ofrep-provider")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True, timeout=300)


def test_openfeature_js_sdk_evaluates_every_kind(atrium, node_modules):
    a = atrium.tenant_key("OFREP JS", rpm=100000)
    b = atrium.tenant_key("OFREP JS other", rpm=100000)
    t = ("--tenant", "OFREP JS")
    atrium.cli("flag", "create", "--key", "js-checkout", *t)
    atrium.cli("flag", "set-rollout", "js-checkout", "50", *t)
    atrium.cli("flag", "create", "--key", "js-banner", *t, "--type", "string",
               "--variant", "blue=Blue", "--variant", "green=Green")
    atrium.cli("flag", "target", "js-banner", *t, "--keys", "vip-1,vip-2")
    atrium.cli("flag", "create", "--key", "js-limit", *t, "--type", "number",
               "--variant", "low=10", "--variant", "high=100")
    atrium.cli("flag", "rules", "js-limit", *t, "--set", json.dumps(
        [{"kind": "conditions", "all": [{"attribute": "plan", "operator": "eq", "values": ["pro"]}],
          "variant": "high"}]))
    atrium.cli("flag", "create", "--key", "js-theme", *t, "--type", "json",
               "--variant", 'plain={"accent": "#0a7", "dense": true}')
    atrium.cli("flag", "create", "--key", "js-killed", *t)
    atrium.cli("flag", "disable", "js-killed", *t)
    time.sleep(1.0)  # one cache poll (500 ms) and then some
    out = subprocess.run(["node", "ofrep.mjs"], cwd=JS, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, ATRIUM_BASE=atrium.base, KEY_A=a, KEY_B=b))
    assert out.returncode == 0, out.stderr + out.stdout
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["vip"] == "Green" and summary["limit"] == 100
    assert 70 <= summary["rollout_on"] <= 130
