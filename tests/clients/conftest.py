"""Starts a real Atrium (the binary in ATRIUM_BIN) in front of `atrium mock-upstream`,
configured through the CLI, for the official SDKs to call."""
import json
import os
import shutil
import re
import subprocess
import tempfile

import pytest

BIN = os.environ.get("ATRIUM_BIN", "atrium")


class Atrium:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="atrium-sdk-")
        # Each tenant registers adapters from its own folder of the roots.
        self.adapters = os.path.join(self.dir, "adapters")
        self.env = dict(os.environ, DATABASE_URL=f"sqlite://{self.dir}/atrium.db",
                        ATRIUM_DATA_DIR=self.dir, ATRIUM_NO_DEMO="true", RUST_LOG="warn",
                        ATRIUM_ADAPTER_ROOTS=self.adapters)
        self.env.pop("REDIS_URL", None)
        self.procs = []

    def cli(self, *args, stdin=None):
        out = subprocess.run([BIN, *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self, args, marker, extra_env=None):
        p = subprocess.Popen([BIN, *args], env=dict(self.env, **(extra_env or {})),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        for line in p.stdout:
            m = re.search(marker + r"http://([0-9.:]+)", line)
            if m:
                return m.group(1)
        raise RuntimeError(f"{args[0]} exited before printing its address")

    def tenant_key(self, name, rpm, tpm=100000000):
        """A new tenant of its own and a key for it, so tests share no counters."""
        self.cli("tenant", "create", "--name", name, "--rpm", str(rpm), "--tpm", str(tpm))
        return json.loads(self.cli("key", "create", "--tenant", name, "--json"))["key"]

    def tenant_adapter(self, tenant, fixture):
        """`fixture` copied into the tenant's own folder of the adapter roots."""
        listed = json.loads(self.cli("tenant", "list", "--json"))
        rows = listed.get("items", listed) if isinstance(listed, dict) else listed
        tid = next(t["id"] for t in rows if t["name"] == tenant)
        dest = os.path.join(self.adapters, tid, os.path.basename(fixture))
        shutil.copytree(fixture, dest, dirs_exist_ok=True)
        return dest

    def stop(self):
        for p in self.procs:
            p.terminate()
            p.wait(timeout=20)


@pytest.fixture(scope="session")
def atrium():
    a = Atrium()
    mock = a.start(["mock-upstream", "--addr", "127.0.0.1:0"], "listening on ")
    a.cli("provider", "add", "--name", "up-anthropic", "--kind", "anthropic", "--base-url", f"http://{mock}",
          "--api-key-stdin", stdin="sk-ant-test\n")
    a.cli("provider", "add", "--name", "up-openai", "--kind", "openai", "--base-url", f"http://{mock}/v1",
          "--api-key-env", "ATRIUM_PROVIDER_KEY_SDK_TEST")
    a.cli("model", "add", "--name", "claude-test", "--provider", "up-anthropic",
          "--input-price-per-mtok", "3", "--output-price-per-mtok", "15")
    a.cli("model", "add", "--name", "gpt-test", "--provider", "up-openai",
          "--input-price-per-mtok", "0.15", "--output-price-per-mtok", "0.6")
    a.key = a.tenant_key("SDK", rpm=100000)
    addr = a.start(["serve"], "Atrium is running on ",
                   {"LEPTOS_SITE_ADDR": "127.0.0.1:0", "ATRIUM_PROVIDER_KEY_SDK_TEST": "sk-oai-test"})
    a.base = f"http://{addr}"
    a.mock = mock
    yield a
    a.stop()
