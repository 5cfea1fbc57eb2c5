#!/usr/bin/python3
"""e2e_metrics: the HTTP server of [http] listen (API.md 1.4): /metrics, /healthz, /api/*.

A known workload (N sessions created over gRPC, one destroyed, M RTP packets relayed on one,
K malformed frames) and then: the scraped values equal the known counts, `promtool check
metrics` passes on the scrape, a real Prometheus server scraping it every second answers
rtpproxy_sessions_created_total == N from its query API, /healthz is 200 (503 from SIGTERM on,
while 3000 sessions close), the /api/* JSON matches gRPC's answers, dpdk-telemetry.py answers
/rtpproxy/stats, /rtpproxy/sessions and /rtpproxy/session,ID. A second appliance with [grpc] tokens_file needs a token on every path
but /healthz (401 without, 200 with a Bearer header or ?token=).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, CLI_IF, CLI_MAC, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

HTTP_PORT = 9464
N = 5           # sessions created
M = 50          # RTP packets relayed on the first
K = 10          # malformed frames
READER = "reader-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef0"


class NsHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection from a socket made in a network namespace."""

    def __init__(self, ns, host, port, timeout=10):
        super().__init__(host, port, timeout=timeout)
        self.ns = ns

    def connect(self):
        self.sock = lab.socket_in_netns(self.ns, socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))


def get(L, path, port=HTTP_PORT, headers=None, timeout=10):
    """GET path from 127.0.0.1:port in the dut namespace: (status, headers, body text)."""
    c = NsHTTPConnection(L.dut, "127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def parse_metrics(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def malformed_frame(mac, seq):
    payload = lab.rtp_packet(seq, seq * 160, 0xBAD, payload=lab.payload_for("mal", seq, 160))
    f = lab.ipv4_udp_frame(CLI_MAC, mac, CLI_ADDR, DUT0_ADDR, 5004, 20000, payload, ident=seq)
    good = int.from_bytes(f[24:26], "big")
    return f[:24] + (good ^ 0x5A5A).to_bytes(2, "big") + f[26:]    # bad IPv4 header checksum


def workload(t, L, app, ctx):
    for i in range(N):
        app.stub.CreateSession(udp_session(
            f"m-{i}", (DUT0_ADDR, 20000 + 2 * i), (DUT1_ADDR, 30000 + 2 * i), (DST_ADDR, 40000),
            labels={"tenant": "a" if i % 2 == 0 else "b"}))
    app.stub.DestroySession(lab.pb2().DestroySessionRequest(session_id=f"m-{N - 1}"))
    rx = lab.udp_socket(L, "dst", bind=(DST_ADDR, 40000))
    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    pkts = [lab.rtp_packet(i, i * 160, 0x1234, payload=lab.payload_for("m", i)) for i in range(M)]
    got = lab.relay_exact(tx, rx, (DUT0_ADDR, 20000), pkts)
    t.eq(len(got), M, f"{M} RTP packets relayed on m-0")
    tx.close()
    rx.close()
    t.eq(lab.ping(L, DUT0_ADDR, ns="cli"), 3, "ping 198.18.1.1 from cli")
    mac = L.neigh_mac("cli", DUT0_ADDR, dev=CLI_IF)
    with L.netns("cli"):
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        raw.bind((CLI_IF, 0))
    for s in range(K):
        raw.send(malformed_frame(mac, 100 + s))
    raw.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        drops = dict(app.proxy_stats().drops)
        st = app.session("m-0").state
        if drops.get("malformed", 0) >= K and st == lab.pb2().SESSION_STATE_ACTIVE:
            break
        time.sleep(0.05)
    ctx["ready"] = True


def test_metrics(t, L, app, ctx):
    status, headers, text = get(L, "/metrics")
    t.eq(status, 200, "/metrics: 200")
    t.eq(headers.get("Content-Type"), "text/plain; version=0.0.4", "Content-Type")
    ctx["scrape"] = text
    m = parse_metrics(text)
    want = {
        "rtpproxy_sessions_created_total": N,
        'rtpproxy_sessions_closed_total{reason="destroyed"}': 1,
        'rtpproxy_sessions_closed_total{reason="idle_timeout"}': 0,
        'rtpproxy_sessions{state="active",transport="udp"}': 1,
        'rtpproxy_sessions{state="connecting",transport="udp"}': N - 2,
        'rtpproxy_sessions{state="closed",transport="udp"}': 0,     # destroyed: gone at once
        'rtpproxy_relayed_packets_total{worker="0"}': M,
        'rtpproxy_drops_total{reason="malformed"}': K,
        'rtpproxy_drops_total{reason="rate_limit"}': 0,
        'rtpproxy_grpc_requests_total{method="CreateSession",code="OK"}': N,
        'rtpproxy_grpc_requests_total{method="DestroySession",code="OK"}': 1,
        'rtpproxy_grpc_request_duration_seconds_count{method="CreateSession"}': N,
        'rtpproxy_rtp_packets_lost_total': 0,
        'rtpproxy_rtp_jitter_seconds_count': N - 1,
        'rtpproxy_event_streams': 0,
        'rtpproxy_tcp_connections': 0,
        'rtpproxy_port_tx_failed_total{port="port1"}': 0,
    }
    for k, v in want.items():
        t.eq(m.get(k), float(v), k)
    # ports also carry ARP and the kernel's own packets: at least the workload's
    t.check(m.get('rtpproxy_port_tx_packets_total{port="port1"}', 0) >= M,
            f"port1 tx_packets >= {M}", str(m.get('rtpproxy_port_tx_packets_total{port="port1"}')))
    t.check(m.get('rtpproxy_port_rx_packets_total{port="port0"}', 0) >= M + K,
            f"port0 rx_packets >= {M + K}", str(m.get('rtpproxy_port_rx_packets_total{port="port0"}')))
    t.check(any(k.startswith("rtpproxy_build_info{version=") and v == 1 for k, v in m.items()),
            "rtpproxy_build_info{version=...} 1")
    stats = app.proxy_stats()
    t.eq(m.get('rtpproxy_port_rx_bytes_total{port="port0"}', -1) <=
         {p.name: p for p in stats.ports}["port0"].rx_bytes, True, "port0 rx_bytes <= gRPC's later figure")
    for fam in ("sessions", "sessions_created_total", "drops_total", "worker_busy_ratio",
                "rtp_jitter_seconds", "grpc_request_duration_seconds"):
        t.check(f"# TYPE rtpproxy_{fam} " in text and f"# HELP rtpproxy_{fam} " in text,
                f"HELP and TYPE of rtpproxy_{fam}")


def test_promtool(t, ctx):
    if shutil.which("promtool") is None:
        t.check(False, "promtool installed (Debian's prometheus package)")
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=ctx["scrape"].encode(),
                       capture_output=True, timeout=30)
    t.eq((p.returncode, p.stdout.decode() + p.stderr.decode()), (0, ""),
         "promtool check metrics: clean")


def free_port(ns):
    s = lab.socket_in_netns(ns, socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_prometheus(t, L):
    if shutil.which("prometheus") is None:
        t.check(False, "prometheus installed")
        return
    d = tempfile.mkdtemp(prefix="rp-prom-")
    port = free_port(L.dut)
    cfg = Path(d) / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n  - job_name: rtpproxy\n    scrape_interval: 1s\n"
                   f"    static_configs:\n      - targets: ['127.0.0.1:{HTTP_PORT}']\n")
    log = open(Path(d) / "prometheus.log", "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", L.dut, "prometheus",
                             f"--config.file={cfg}", f"--storage.tsdb.path={d}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        value, deadline = None, time.monotonic() + 60
        q = "/api/v1/query?" + urllib.parse.urlencode({"query": "rtpproxy_sessions_created_total"})
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, _, body = get(L, q, port=port)
                res = json.loads(body).get("data", {}).get("result", []) if status == 200 else []
                if res:
                    value = res[0]["value"][1]
                    break
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.2)
        t.eq(value, str(N), "Prometheus' query API: rtpproxy_sessions_created_total == N")
        status, _, body = get(L, "/api/v1/targets", port=port)
        health = [tg.get("health") for tg in json.loads(body)["data"]["activeTargets"]] \
            if status == 200 else []
        t.eq(health, ["up"], "Prometheus sees the target up")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def test_api(t, L, app):
    status, h, body = get(L, "/healthz")
    t.eq((status, body), (200, "SERVING\n"), "/healthz: 200 SERVING")
    status, h, body = get(L, "/api/stats")
    t.eq((status, h.get("Content-Type")), (200, "application/json"), "/api/stats: 200 JSON")
    st = json.loads(body)
    t.eq((st["sessions_created_total"], st["sessions_closed_total"], st["sessions_active"]),
         (N, 1, N - 1), "/api/stats: created, closed, active")
    t.eq(st["drops"]["malformed"], K, '/api/stats: drops["malformed"]')
    t.eq([p["name"] for p in st["ports"]], ["port0", "port1"], "/api/stats: ports by name")
    t.eq(st["workers"][0]["relayed"], M, "/api/stats: worker 0 relayed")

    status, _, body = get(L, "/api/sessions")
    ids = [s["session_id"] for s in json.loads(body)["sessions"]]
    t.eq((status, ids), (200, [f"m-{i}" for i in range(N - 1)]), "/api/sessions: every session")
    status, _, body = get(L, "/api/sessions?state=active")
    t.eq([s["session_id"] for s in json.loads(body)["sessions"]], ["m-0"], "state=active")
    status, _, body = get(L, "/api/sessions?state=active&state=connecting&label=tenant%3Db")
    t.eq([s["session_id"] for s in json.loads(body)["sessions"]], ["m-1", "m-3"],
         "state=active&state=connecting&label=tenant=b")
    status, _, body = get(L, "/api/sessions?page_size=3")
    page = json.loads(body)
    t.eq(([s["session_id"] for s in page["sessions"]], bool(page["next_page_token"])),
         (["m-0", "m-1", "m-2"], True), "page_size=3: three and a next_page_token")
    status, _, body = get(L, "/api/sessions?page_size=3&page_token=" + page["next_page_token"])
    page = json.loads(body)
    t.eq(([s["session_id"] for s in page["sessions"]], page["next_page_token"]), (["m-3"], ""),
         "the next page: the last one, no token")
    status, _, body = get(L, "/api/sessions?page_size=1001")
    t.eq((status, json.loads(body)), (400, {"error": 'page_size: expected 0..1000, got "1001"'}),
         "page_size=1001: 400")
    status, _, body = get(L, "/api/sessions?state=running")
    t.eq((status, json.loads(body)["error"].startswith("state: expected created, connecting")),
         (400, True), "state=running: 400 naming the parameter")

    status, _, body = get(L, "/api/session?id=m-0")
    s = json.loads(body)["session"]
    g = app.session("m-0")
    t.eq(status, 200, "/api/session?id=m-0: 200")
    t.eq((s["session_id"], s["state"], s["listen_endpoint"], s["destination_endpoint"]),
         ("m-0", "SESSION_STATE_ACTIVE", {"address": DUT0_ADDR, "port": 20000},
          {"address": DST_ADDR, "port": 40000}), "its id, state and endpoints")
    t.eq((s["stats"]["packets_received"], s["stats"]["packets_sent"]),
         (g.stats.packets_received, M), "its stats as gRPC's")
    t.eq(s["labels"], {"tenant": "a"}, "its labels")
    status, _, body = get(L, "/api/session?id=nope")
    t.eq((status, json.loads(body)), (404, {"error": 'session_id: no session "nope"'}),
         "/api/session?id=nope: 404 with the error")
    status, _, _ = get(L, "/nope")
    t.eq(status, 404, "/nope: 404")
    status, _, body = get(L, "/")
    t.eq(status, 200, "/: 200")
    c = NsHTTPConnection(L.dut, "127.0.0.1", HTTP_PORT)
    c.request("POST", "/metrics", body=b"x")
    r = c.getresponse()
    t.eq(r.status, 405, "POST /metrics: 405")
    c.close()


def test_telemetry(t, app):
    """dpdk-telemetry.py, non-interactive: one JSON line per command read from stdin."""
    tool = shutil.which("dpdk-telemetry.py")
    if tool is None:
        t.check(False, "dpdk-telemetry.py installed (Debian's dpdk-dev)")
        return
    sock = f"/var/run/dpdk/{app.tag}/dpdk_telemetry.v2"
    t.check(os.path.exists(sock), f"the EAL's telemetry socket is {sock}")
    cmds = ["/rtpproxy/stats", "/rtpproxy/sessions", "/rtpproxy/session,m-0",
            "/rtpproxy/session,nope", "/rtpproxy/session"]
    p = subprocess.run(["/usr/bin/python3", tool, "-f", app.tag], input="\n".join(cmds) + "\n",
                       capture_output=True, text=True, timeout=30)
    lines = p.stdout.splitlines()
    t.eq((p.returncode, len(lines)), (0, len(cmds)), "dpdk-telemetry.py: one reply per command",)
    if len(lines) != len(cmds):
        print(p.stdout, p.stderr)
        return
    replies = [json.loads(x) for x in lines]
    stats = replies[0]["/rtpproxy/stats"]
    g = app.proxy_stats()
    t.eq((stats["sessions_created_total"], stats["sessions_closed_total"],
          stats["sessions_active"], stats["version"]),
         (N, 1, N - 1, g.version), "/rtpproxy/stats: sessions and version as GetProxyStats")
    t.eq(stats["drops"]["malformed"], K, '/rtpproxy/stats: drops["malformed"]')
    # repeated messages are dicts keyed by index: DPDK 22.11 nests no array of dicts
    t.eq({k: v["name"] for k, v in stats["ports"].items()}, {"0": "port0", "1": "port1"},
         "/rtpproxy/stats: ports by index")
    t.eq(stats["workers"]["0"]["relayed"], M, "/rtpproxy/stats: worker 0 relayed")
    t.eq(replies[1], {"/rtpproxy/sessions": [f"m-{i}" for i in range(N - 1)]},
         "/rtpproxy/sessions: the ids")
    s = replies[2]["/rtpproxy/session"]
    t.eq((s["session_id"], s["state"], s["listen_endpoint"], s["forward_endpoint"],
          s["destination_endpoint"]),
         ("m-0", "SESSION_STATE_ACTIVE", {"address": DUT0_ADDR, "port": 20000},
          {"address": DUT1_ADDR, "port": 30000}, {"address": DST_ADDR, "port": 40000}),
         "/rtpproxy/session,m-0: id, state, endpoints as {address, port}")
    t.eq((s["stats"]["packets_sent"], s["labels"], s["transport"]),
         (M, {"tenant": "a"}, "TRANSPORT_UDP"), "its stats, labels, transport")
    t.eq(replies[3], {"/rtpproxy/session": None}, "/rtpproxy/session,nope: null")
    t.eq(replies[4], {"/rtpproxy/session": None}, "/rtpproxy/session without an id: null")


def test_shutdown(t, L, app):
    """SIGTERM with 3000 sessions to close (about a second here): /healthz turns 503 at once
    (health STOPPING) and stays so until the HTTP server goes, after the sessions."""
    ctl = Path(lab.BUILD_DIR) / "control" / "rtpproxyctl"
    r = subprocess.run([str(ctl), "--server", f"unix:{app.sock}", "bench", "--sessions", "3000",
                        "--keep", "--listen", DUT0_ADDR, "--forward", DUT1_ADDR,
                        "--destination", f"{DST_ADDR}:40000", "--port-base", "40000"],
                       capture_output=True, text=True, timeout=120)
    t.eq(r.returncode, 0, "3000 more sessions (rtpproxyctl bench --keep)")
    t.eq(get(L, "/healthz")[0], 200, "/healthz before SIGTERM: 200")
    app.proc.send_signal(signal.SIGTERM)
    seen, deadline = [], time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            status = get(L, "/healthz", timeout=2)[0]
        except (OSError, http.client.HTTPException):
            status = "refused"
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "refused":
            break
    # a 200 may come before the signal is handled; after the first 503 only 503, then nothing
    t.eq(seen[seen.index(503):] if 503 in seen else seen, [503, "refused"],
         "after SIGTERM: 503 (NOT_SERVING) until the server goes")
    t.eq(app.proc.wait(30), 0, "exit code")
    app.returncode = app.proc.returncode


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L, config={"http": {"listen": f"127.0.0.1:{HTTP_PORT}"}}) as app:
            ctx = {}
            t.run("workload: N sessions, M packets, K malformed frames", workload, t, L, app, ctx)
            if ctx.get("ready"):
                t.run("/metrics equals the workload", test_metrics, t, L, app, ctx)
                t.run("/healthz and /api/*", test_api, t, L, app)
                t.run("DPDK telemetry: /rtpproxy/ commands", test_telemetry, t, app)
            if "scrape" in ctx:
                t.run("promtool check metrics", test_promtool, t, ctx)
            t.run("a real Prometheus scrapes it", test_prometheus, t, L)
            t.run("/healthz during shutdown", test_shutdown, t, L, app)
        tokens(t, L)


def tokens(t, L):
    d = tempfile.mkdtemp(prefix="rp-tok-")
    tok = Path(d) / "tokens"
    tok.write_text(f"{ADMIN} admin ops\n{READER} read monitor\n")
    tok.chmod(0o600)
    try:
        with lab.Appliance(L, name="secured", config={"grpc": {"tokens_file": str(tok)}},
                           metadata=(("authorization", f"Bearer {ADMIN}"),)) as app:
            def step():
                for path in ("/metrics", "/api/stats", "/api/sessions", "/"):
                    t.eq(get(L, path)[0], 401, f"{path} without a token: 401")
                    t.eq(get(L, path, headers={"Authorization": "Bearer nope-nope-nope-nope"})[0],
                         401, f"{path} with a wrong token: 401")
                    t.eq(get(L, path, headers={"Authorization": f"Bearer {READER}"})[0], 200,
                         f"{path} with a read token: 200")
                t.eq(get(L, f"/api/stats?token={ADMIN}")[0], 200, "?token=ADMIN: 200")
                t.eq(get(L, "/api/sessions?token=wrong-wrong-wrong-wrong")[0], 401,
                     "?token=WRONG: 401")
                t.eq(get(L, "/healthz")[0], 200, "/healthz needs no token: 200")
            t.run("tokens on every path but /healthz", step)
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "exit code"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    lab.main_wrapper("metrics", body)
