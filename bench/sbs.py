"""Parts of bench/side_by_side.py: the servers it starts, the load it
drives (wrk when installed, else `atrium loadgen`) and the tables it
prints. Standard library only, so it runs on the machine's python3."""
import json
import os
import platform
import re
import shutil
import signal
import socket
import sys
import subprocess
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")
DIRECT_URL = "http://127.0.0.1:19599/v1/chat/completions"
MOCK_BASE = "http://127.0.0.1:19599/v1"
# A support chat with personal data in it, so the redact policy has work.
BODY = json.dumps({"model": "bench", "max_tokens": 16, "messages": [
    {"role": "system", "content": "You are a support assistant for ACME. Answer briefly."},
    {"role": "user", "content": "Hi, I am Jane (jane.doe@example.com, +1 415 555 0134). My order "
                                "from last week has not arrived and the tracking page shows nothing. Can you check?"}]})
LITELLM_KEY = "sk-bench-master"
PG_DB = f"atrium_bench_sbs_{os.getpid()}"


class Procs:
    """Every process the bench starts, stopped on the way out (a SIGTERM
    too takes the way out)."""

    def __init__(self):
        self.all = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def start(self, name, argv, work, env=None):
        log = open(os.path.join(work, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.all.append(p)
        return p

    def stop_all(self):
        for p in self.all:
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in self.all:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)


class Target:
    def __init__(self, name, url, auth, procs, messages_url=None, reason=None):
        self.name, self.url, self.auth, self.procs = name, url, auth, procs
        self.messages_url, self.reason = messages_url, reason
        self.rules_auth = None

    @classmethod
    def absent(cls, name, reason):
        return cls(name, None, None, [], reason=reason)

    def pids(self):
        """The target's processes and all their children (nginx's and
        LiteLLM's workers)."""
        out, todo = [], [p.pid for p in self.procs]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
        return out

    def cpu_ticks(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total

    def memory_kb(self, field):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += sum(int(l.split()[1]) for l in f if l.startswith(field + ":"))
            except OSError:
                pass
        return total


def port_free(port):
    """A bench refuses to start on a port something already answers on:
    it would measure that instead."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return
    sys.exit(f"port {port} is in use: stop what listens there first")


def wait_port(port, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_http(url, timeout=90.0, headers=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2)
            return True
        except Exception:
            time.sleep(0.3)
    return False


# --- the servers -------------------------------------------------------------

NGINX_CONF = """
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  upstream mock {{ server 127.0.0.1:19599; keepalive 64; }}
  server {{
    listen 127.0.0.1:19530;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def start_nginx(work, procs):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        return None
    port_free(19530)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work))
    p = procs.start("nginx", [nginx, "-c", conf, "-p", work, "-g", "daemon off;"], work)
    if not wait_port(19530):
        return Target.absent("nginx (reverse proxy, keepalive upstream)", "nginx did not start")
    return Target("nginx (reverse proxy, keepalive upstream)",
                  "http://127.0.0.1:19530/v1/chat/completions", None, [p])


def atrium_env(work, backend, db_url):
    data = os.path.join(work, backend)
    os.makedirs(data, exist_ok=True)
    env = dict(os.environ, ATRIUM_DATA_DIR=data, ATRIUM_NO_DEMO="true", RUST_LOG="warn",
               DATABASE_URL=db_url or f"sqlite://{data}/atrium.db")
    env.pop("REDIS_URL", None)
    return env


def cli(bin_, env, *args):
    return subprocess.run([bin_, *args], env=env, check=True, capture_output=True, text=True).stdout


def tenant_key(bin_, env, name, response_rules):
    """A tenant with every feature on: limits, a redact and a block
    policy, a hard budget; `response_rules` adds the same rules on answers."""
    cli(bin_, env, "tenant", "create", "--name", name, "--rpm", "100000000", "--tpm", "1000000000")
    directions = ["prompt", "response"] if response_rules else ["prompt"]
    for d in directions:
        cli(bin_, env, "policy", "add", "--tenant", name, "--entity", "EMAIL_ADDRESS", "--action", "redact", "--direction", d)
        cli(bin_, env, "policy", "add", "--tenant", name, "--entity", "CREDIT_CARD", "--action", "block", "--direction", d)
    cli(bin_, env, "budget", "set", "--tenant", name, "--limit-usd", "1000000", "--hard")
    return json.loads(cli(bin_, env, "key", "create", "--tenant", name, "--json"))["key"]


def start_atrium(bin_, work, procs, backend, port, db_url, shards=0):
    """Atrium on `backend`; `shards` > 0 serves on that many shards
    (ATRIUM_SERVE_SHARDS, opt-in), with a data directory of its own."""
    name = backend + (f"-shards{shards}" if shards else "")
    env = atrium_env(work, name, db_url)
    env["ATRIUM_SERVE_SHARDS"] = str(shards)
    cli(bin_, env, "provider", "add", "--name", "mock", "--kind", "openai", "--base-url", MOCK_BASE)
    cli(bin_, env, "model", "add", "--name", "bench", "--provider", "mock",
        "--input-price-per-mtok", "1", "--output-price-per-mtok", "2")
    key = tenant_key(bin_, env, "Bench", False)
    rules_key = tenant_key(bin_, env, "Rules", True)
    port_free(port)
    p = procs.start("atrium-" + name, [bin_, "serve"], work, dict(env, LEPTOS_SITE_ADDR=f"127.0.0.1:{port}"))
    if not wait_http(f"http://127.0.0.1:{port}/readyz"):
        raise SystemExit(f"atrium serve on {name} did not become ready")
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    if shards:
        label += f", {shards} shards"
    t = Target(f"**Atrium, {label}**", f"http://127.0.0.1:{port}/v1/chat/completions", f"Bearer {key}", [p],
               messages_url=f"http://127.0.0.1:{port}/v1/messages")
    t.rules_auth = f"Bearer {rules_key}"
    return t


LITELLM_CONF = """model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: {base}
      api_key: sk-mock
general_settings:
  master_key: {key}
"""


def start_litellm(litellm, work, procs):
    if not os.path.exists(litellm):
        return None
    port_free(19540)
    conf = os.path.join(work, "litellm.yaml")
    with open(conf, "w") as f:
        f.write(LITELLM_CONF.format(base=MOCK_BASE, key=LITELLM_KEY))
    env = dict(os.environ, LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False", NO_DOCS="True")
    p = procs.start("litellm", [litellm, "--config", conf, "--host", "127.0.0.1", "--port", "19540",
                                "--num_workers", "2"], work, env)
    if not wait_http("http://127.0.0.1:19540/health/liveliness", timeout=180):
        return Target.absent("LiteLLM proxy (2 workers, master key, no database)", "did not start (see its log)")
    return Target("LiteLLM proxy (2 workers, master key, no database)",
                  "http://127.0.0.1:19540/v1/chat/completions", f"Bearer {LITELLM_KEY}", [p])


def create_pg(admin):
    r = subprocess.run(["psql", "-q", admin, "-c", f"CREATE DATABASE {PG_DB}"], capture_output=True)
    return admin.rsplit("/", 1)[0] + "/" + PG_DB if r.returncode == 0 else None


def drop_pg(admin):
    subprocess.run(["psql", "-q", admin, "-c", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"],
                   capture_output=True)


class Report:
    """What the run printed, kept as Markdown for bench/RESULTS.md."""

    def __init__(self):
        self.lines = []

    def section(self, title):
        print(f"\n== {title} ==", flush=True)
        self.lines += ["", f"## {title}", ""]

    def table(self, rows):
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for n, r in enumerate(rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)), flush=True)
            self.lines.append("| " + " | ".join(str(c) for c in r) + " |")
            if n == 0:
                self.lines.append("|" + "|".join(" --- " for _ in r) + "|")

    def notes(self, notes):
        for n in notes:
            print(n, flush=True)
            self.lines.append(f"- {n}")

    def write(self, path, seconds):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        head = ["# Benchmark results", "",
                f"Written by `make bench` (bench/side_by_side.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"commit {commit}, runs of {seconds:.0f} s.", "",
                f"Machine: {machine()}.", "",
                "Load from wrk (one thread) when installed, else `atrium loadgen`, on the same machine; "
                "every row shares the same `atrium mock-upstream`. Atrium runs with API-key auth, rate limits, "
                "a redact and a block policy (PII scan of every string), a hard budget (a hold per request) "
                "and the spooled usage ledger."]
        with open(path, "w") as f:
            f.write("\n".join(head + self.lines) + "\n")
        print(f"\nwritten to {path}")


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 1024 / 1024
    except (OSError, AttributeError):
        mem = 0
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Linux {platform.release()}"
