"""Issue 23: a client generated from the checked-in OpenAPI document by
openapi-python-client (PyPI) creates a tenant, a key and a budget on a real
Atrium, and the key it made answers through the official Anthropic SDK."""
import importlib
import json
import os
import subprocess
import sys
import tempfile

import anthropic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "public", "openapi.json")


def generated_client():
    out = tempfile.mkdtemp(prefix="atrium-admin-client-")
    venv_bin = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run([os.path.join(venv_bin, "openapi-python-client"), "generate", "--path", SPEC,
                    "--meta", "none", "--output-path", os.path.join(out, "atrium_admin")],
                   env=env, check=True, capture_output=True, timeout=120)
    sys.path.insert(0, out)
    return importlib.import_module("atrium_admin")


def test_a_generated_client_creates_a_tenant_a_key_and_a_budget(atrium):
    gen = generated_client()
    from atrium_admin.api.tenants import create_tenant, get_tenant
    from atrium_admin.api.api_keys import create_api_key
    from atrium_admin.api.budgets import set_budget, list_budgets
    from atrium_admin.models import NewTenant, NewKey, BudgetSpec, Enforcement, Problem
    from atrium_admin.models.period_type_0 import PeriodType0

    made = json.loads(atrium.cli("admin-token", "create", "--scope", "platform:write", "--json"))
    client = gen.AuthenticatedClient(base_url=atrium.base + "/admin/v1", token=made["token"])

    tenant = create_tenant.sync(client=client, body=NewTenant(name="Generated Co"))
    assert tenant.name == "Generated Co"
    assert get_tenant.sync(id=tenant.id, client=client).revision == tenant.revision

    key = create_api_key.sync(id=tenant.id, client=client, body=NewKey(name="from the generated client"))
    assert key.key.startswith("atr_")

    budget = set_budget.sync(id=tenant.id, client=client, body=BudgetSpec(
        limit_micros=5_000_000, period=PeriodType0.MONTH, enforcement=Enforcement.HARD))
    assert budget.budget.limit_micros == 5_000_000
    listed = list_budgets.sync(id=tenant.id, client=client)
    assert [b.limit_micros for b in listed.data] == [5_000_000]

    # A refusal is a typed problem document, not an exception-shaped string.
    refused = create_tenant.sync(client=client, body=NewTenant(name="!"))
    assert isinstance(refused, Problem)
    assert refused.type_ == "urn:atrium:problem:invalid"

    # The key it made works on the gateway.
    sdk = anthropic.Anthropic(api_key=key.key, base_url=atrium.base)
    answer = sdk.messages.create(model="claude-test", max_tokens=16,
                                 messages=[{"role": "user", "content": "hello"}])
    assert answer.content

    # The rest of the platform is in the same document: the catalog the
    # key just went through, and the usage it left, read with the client.
    from atrium_admin.api.catalog import list_models
    from atrium_admin.api.billing import usage_report
    models = list_models.sync(client=client)
    assert "claude-test" in [m.name for m in models.data]
    import time
    for _ in range(50):
        report = usage_report.sync(id=tenant.id, client=client)
        if report.totals.requests >= 1:
            break
        time.sleep(0.1)
    assert report.totals.requests >= 1
