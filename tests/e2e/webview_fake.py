#!/usr/bin/python3
"""A stand-in for the appliance's HTTP server, for the web view alone: serves the built page at
/ and the JSON endpoints of API.md 1.4 in control/pb_json.c's shapes (proto field names, enums
by name, 64-bit integers as numbers; GetProxyStats's as strings, to hold the page to both)
from sessions a test adds, moves and removes. Loopback only.

    python3 tests/e2e/webview_fake.py [PORT] [--token T]   # a few canned sessions, to look at

    with FakeAppliance(page_bytes) as fake:
        fake.add_session("s1", labels={"call": "a"}); fake.traffic("s1", 200); fake.remove("s1")
"""
import copy
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATES = ("created", "connecting", "active", "error", "closed")


def _stats():
    return {"packets_received": 0, "packets_sent": 0, "bytes_received": 0, "bytes_sent": 0,
            "packets_lost": 0, "loss_rate": 0, "packets_dropped": 0, "avg_latency_ms": 0,
            "max_latency_ms": 0, "jitter_ms": 0, "last_activity_unix_ms": 0}


class FakeAppliance:
    def __init__(self, page, token=None, csp=None):
        self.page, self.token, self.csp = page, token, csp
        self.lock = threading.Lock()
        self.sessions = {}            # id -> SessionInfo as a dict
        self.started = time.monotonic()
        self.ports = [{"port_id": i, "name": f"port{i}", "rx_packets": 0, "tx_packets": 0,
                       "rx_bytes": 0, "tx_bytes": 0, "rx_missed": 0, "tx_failed": 0,
                       "exception_packets": 0} for i in range(2)]
        self.drops = {"no_session": 0, "malformed": 0, "rate_limit": 0}
        self.worker = {"index": 0, "lcore": 1, "relayed": 0, "iterations": 0,
                       "busy_iterations": 0, "busy_cycles": 0, "tsc_hz": 2_000_000_000}
        self.created = self.closed = 0
        self.requests = []            # (path, authorization header) of every request
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    # --- what a test does to the "appliance" ---
    def add_session(self, sid, listen=("198.18.1.1", 20000), forward=("198.18.2.1", 30000),
                    destination=("198.18.2.2", 40000), labels=None, state="connecting",
                    bidirectional=False):
        ep = lambda a: {"address": a[0], "port": a[1]}
        with self.lock:
            self.sessions[sid] = {
                "session_id": sid, "state": "SESSION_STATE_" + state.upper(),
                "transport": "TRANSPORT_UDP", "listen_endpoint": ep(listen),
                "forward_endpoint": ep(forward), "destination_endpoint": ep(destination),
                "enable_rtcp": False, "bidirectional": bidirectional, "idle_timeout_secs": 300,
                "created_unix_ms": int(time.time() * 1000), "stats": _stats(),
                "reverse_stats": _stats(), "rtcp_stats": _stats(), "error_message": "",
                "labels": dict(labels or {}), "latched_source": ep(("", 0)),
                "latch_mode": "LATCH_MODE_SSRC", "strict_source": False}
            self.created += 1

    def traffic(self, sid, n, size=172):
        """N packets relayed forward through SID (and counted on the ports and the worker)."""
        with self.lock:
            s = self.sessions[sid]
            st = s["stats"]
            for k, v in (("packets_received", n), ("packets_sent", n),
                         ("bytes_received", n * size), ("bytes_sent", n * size)):
                st[k] += v
            st["jitter_ms"], st["avg_latency_ms"], st["max_latency_ms"] = 0.42, 0.021, 0.090
            st["last_activity_unix_ms"] = int(time.time() * 1000)
            s["state"] = "SESSION_STATE_ACTIVE"
            s["latched_source"] = {"address": "198.18.1.2", "port": 41000}
            for p, k in ((self.ports[0], "rx"), (self.ports[1], "tx")):
                p[k + "_packets"] += n
                p[k + "_bytes"] += n * (size + 42)
            self.worker["relayed"] += n
            self.worker["busy_cycles"] += n * 900

    def remove(self, sid):
        with self.lock:
            del self.sessions[sid]
            self.closed += 1

    # --- the endpoints ---
    def stats_json(self):
        with self.lock:
            up = int((time.monotonic() - self.started) * 1000)
            w = dict(self.worker, iterations=up * 10, busy_iterations=up)
            w["busy_cycles"] += up * 200_000    # a little idle polling work
            as_str = lambda d: {k: (str(v) if isinstance(v, int) and k not in ("port_id", "index", "lcore") else v)
                                for k, v in d.items()}
            return {"sessions_active": str(len(self.sessions)),
                    "sessions_created_total": str(self.created),
                    "sessions_closed_total": str(self.closed),
                    "ports": [as_str(p) for p in self.ports],
                    "drops": {k: str(v) for k, v in self.drops.items()},
                    "uptime_ms": str(up), "version": "0.1.0-fake", "workers": [as_str(w)]}

    def list_json(self, q):
        states = q.get("state", [])
        bad = [s for s in states if s not in STATES]
        if bad:
            return 400, {"error": f"state: unknown value {bad[0]!r}"}
        labels = []
        for l in q.get("label", []):
            k, eq, v = l.partition("=")
            if not eq or not k:
                return 400, {"error": f"label: expected key=value, got {l!r}"}
            labels.append((k, v))
        size = int(q.get("page_size", ["1000"])[0] or 1000)
        start = int(q.get("page_token", ["0"])[0] or 0)
        with self.lock:
            picked = [copy.deepcopy(s) for _, s in sorted(self.sessions.items())
                      if (not states or s["state"][len("SESSION_STATE_"):].lower() in states)
                      and all(s["labels"].get(k) == v for k, v in labels)]
        page = picked[start:start + size]
        nxt = str(start + size) if start + size < len(picked) else ""
        return 200, {"sessions": page, "next_page_token": nxt}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send(self, code, body, ctype="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                if ctype.startswith("text/html") and fake.csp:
                    self.send_header("Content-Security-Policy", fake.csp)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                auth = self.headers.get("Authorization")
                fake.requests.append((self.path, auth))
                if fake.token is not None:
                    given = auth if u.path != "/" else f"Bearer {q.get('token', [''])[0]}"
                    if given != f"Bearer {fake.token}":
                        return self.send(401, {"error": "unauthenticated: a read token is needed"})
                if u.path == "/":
                    return self.send(200, fake.page, "text/html; charset=utf-8")
                if u.path == "/api/stats":
                    return self.send(200, fake.stats_json())
                if u.path == "/api/sessions":
                    return self.send(*fake.list_json(q))
                if u.path == "/api/session":
                    sid = q.get("id", [""])[0]
                    with fake.lock:
                        s = copy.deepcopy(fake.sessions.get(sid))
                    if s is None:
                        return self.send(404, {"error": f"session {sid!r} not found"})
                    return self.send(200, {"session": s})
                return self.send(404, {"error": "not found"})

        return Handler


def main():
    from pathlib import Path
    args = sys.argv[1:]
    token = None
    if "--token" in args:
        i = args.index("--token")
        token = args[i + 1]
        del args[i:i + 2]
    build = Path(__file__).resolve().parents[2] / "build"
    page = (build / "control" / "webview_page.html").read_bytes()
    fake = FakeAppliance(page, token=token)
    if args:
        fake.server.server_close()
        fake.server = ThreadingHTTPServer(("127.0.0.1", int(args[0])), fake._handler())
        fake.port = int(args[0])
        fake.thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    with fake:
        for i in range(6):
            fake.add_session(f"call-{i}", listen=("198.18.1.1", 20000 + 2 * i),
                             forward=("198.18.2.1", 30000 + 2 * i), labels={"tenant": "ab"[i % 2]})
        print(f"serving {fake.url}", flush=True)
        while True:
            for i in range(4):
                fake.traffic(f"call-{i}", 50)
            time.sleep(1)


if __name__ == "__main__":
    main()
