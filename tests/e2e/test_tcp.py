#!/usr/bin/python3
"""e2e_tcp: TCP sessions through the kernel exception path (issue 4; API.md 1.1 "TCP").

Kernel TCP peers on both sides: clients in the cli namespace connect to the session's listen
endpoint on port0 (198.18.1.1); rtpproxy's relay connects from the forward endpoint on port1
(198.18.2.1) to echo servers in the dst namespace (198.18.2.2). Two appliances, one after the
other in the same lab: the main one with `[tcp] connect_timeout_ms = 5000` (the shipped
default), and one with `connect_timeout_ms = 1000` for the connect-timeout step only (with 1 s,
TCP's own 1 s SYN retransmission cannot recover a SYN lost on the exception path: under the
1000-connection burst of step 7 the TAP drops some, and a session whose destination connect
fails goes to ERROR). Every client loop and every server loop is bounded in bytes and in time
(DEADLINE per step).

1. 50 clients at once through ONE session (forward port 0), each 1 MiB of random data: each
   gets exactly its own bytes back (sha256), then EOF; the session is ACTIVE and
   stats.bytes_received == stats.bytes_sent == reverse_stats.bytes_* == 50 MiB, reads bounded
   by the relay's buffer (>= 16 per MiB); the echo server saw 50 connections from 198.18.2.1,
   each from its own port.
2. Half-close: 256 KiB then shutdown(SHUT_WR) at once; the destination (which answers only
   after it sees EOF) gets it all and EOF, and the client still receives all of it plus a
   trailer written after that EOF, then EOF.
3. Destination port closed (nobody on 198.18.2.2:40009): the client is closed (RST or EOF)
   within 3 s; the session goes to ERROR with error_message naming destination_endpoint and
   "refused".
4. Destination that never answers (198.18.2.77: ARP fails): ERROR within connect_timeout_ms +
   margin, error_message names destination_endpoint and says "timed out" (or "No route to
   host"); the client is closed.
5. DestroySession mid-transfer (a client streaming up to 64 MiB / 10 s through an echo): the
   client sees RST/EOF, the echo server's side is closed too, the final counters are consistent
   with what each end saw, and rtpproxy's fd count returns exactly to its value before the
   session was created.
   RST from either side mid-transfer: a client that resets -> the destination's side is reset;
   a destination that resets after 1 MiB -> the client is reset; both legs' fds are closed
   (fd count: the listener only), the session stays ACTIVE.
6. Fixed forward port 31000: one client works (the destination sees 198.18.2.1:31000); a
   second concurrent client is closed at once; the first still works, the session stays
   ACTIVE; after the first closes, a later client is served again (one client *at a time*).
7. Scale: 100 sessions (listen port 0: allocated) x 10 concurrent connections = 1000
   connections, 1 KiB echo each, exact per-session counters; fd count back to its baseline
   after destroying them all.
8. Idle timeout (idle_timeout_secs 2, no connection): CLOSED within 2..3 s, its listener is
   gone (no answer: the exception filter drops SYNs to a port no session listens on). Stats across the run: for every session the bytes the test sent
   and received == the session's final counters (DestroySession).
9. The control loop keeps time while TCP data flows: during a 2.5 s bulk transfer a
   StreamSessionEvents call (stats_interval_ms 100) gets a StatsUpdate every ~100 ms (>= 15 in
   2 s, no gap over 300 ms) and another TCP session's 1 s idle timeout fires within 1.3 s
   (server timestamps: timestamp_unix_ms against created_unix_ms).

States follow the relay's events, which the control loop drains after serving gRPC, so a state
is awaited (GetSessionStatus, bounded) rather than read once.
"""
import hashlib
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import DST_ADDR, DUT0_ADDR, DUT1_ADDR  # noqa: E402

CONNECT_TIMEOUT_MS = 1000     # the connect-timeout step's appliance
CONFIG = {"tcp": {"connect_timeout_ms": "5000"}}
CONFIG_CT = {"tcp": {"connect_timeout_ms": str(CONNECT_TIMEOUT_MS)}}
DEADLINE = 30                   # seconds any one client/server exchange may take at most
MiB = 1 << 20

ECHO_PORT, DEFER_PORT, STREAM_PORT, FIXED_PORT, SCALE_PORT = 40000, 40001, 40002, 40003, 40004
RST_PORT = 40005                # resets each connection after RST_AFTER bytes
RST_AFTER = MiB
CLOSED_PORT = 40009             # nobody listens there
BLACKHOLE = "198.18.2.77"       # on the dst subnet, owned by nobody: ARP never answers
TRAILER = b"--EOF-SEEN--"


def pb():
    return lab.pb2()


def ep(addr, port):
    return pb().Endpoint(address=addr, port=port)


def tcp_session(sid, listen_port, dest, forward_port=0, **kw):
    return pb().CreateSessionRequest(
        session_id=sid, transport=pb().TRANSPORT_TCP, listen_endpoint=ep(DUT0_ADDR, listen_port),
        forward_endpoint=ep(DUT1_ADDR, forward_port), destination_endpoint=ep(*dest), **kw)


def state_name(s):
    return pb().SessionState.Name(s)


def wait_state(app, sid, name, timeout):
    """GetSessionStatus until the session is in state NAME or TIMEOUT seconds pass (bounded);
    the last SessionInfo. (The state follows the relay's events, which the control loop drains
    after serving gRPC: the first call after a burst may still show the previous state.)"""
    want = pb().SessionState.Value("SESSION_STATE_" + name)
    last = [None]

    def get():
        last[0] = app.session(sid)
        return last[0].state == want
    lab.wait_until(get, timeout, interval=0.02)
    return last[0]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def stats_tuple(s):
    """(stats.bytes_received, stats.bytes_sent, reverse.bytes_received, reverse.bytes_sent)"""
    return (s.stats.bytes_received, s.stats.bytes_sent,
            s.reverse_stats.bytes_received, s.reverse_stats.bytes_sent)


# ---- a destination: echo server(s) in the dst namespace, one thread, non-blocking ----

class _SrvConn:
    def __init__(self, sock, peer):
        self.sock, self.peer = sock, peer
        self.out = bytearray()          # to send
        self.held = bytearray()         # "defer" mode: what came in before EOF
        self.rx = self.tx = 0
        self.eof = self.shut = False
        self.end = None                 # "eof" (orderly) or "reset"


class EchoServer:
    """Listens on DST_ADDR:port in the dst namespace. mode "echo": sends back what it reads as
    it reads it; on EOF, once flushed, shuts down writing and closes. mode "defer": holds
    everything until EOF, then sends it back followed by TRAILER (so the reply proves that the
    client's half-close arrived while the other direction stayed open)."""

    MAX_OUT = 1 * MiB                   # stop reading while this much waits to be sent

    def __init__(self, L, port, mode="echo", rst_after=None, addr=DST_ADDR):
        self.port, self.mode, self.rst_after = port, mode, rst_after
        self.lsock = L.socket_in("dst", lab.family_of(addr), socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((addr, port))
        self.lsock.listen(2048)
        self.lsock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.conns = set()
        self.accepted = []              # peer addresses, in order
        self.ended = []                 # _SrvConn, once closed
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"echo-{port}", daemon=True)
        self.thread.start()

    def open_count(self):
        with self.lock:
            return len(self.conns)

    def close(self, timeout=5):
        self.stop_ev.set()
        self.thread.join(timeout)
        for c in list(self.conns):
            c.sock.close()
        self.lsock.close()
        self.sel.close()

    def _run(self):
        # bounded: the test stops it; and never longer than the whole file may take
        end = time.monotonic() + 300
        while not self.stop_ev.is_set() and time.monotonic() < end:
            for key, ev in self.sel.select(timeout=0.05):
                if key.data is None:
                    self._accept()
                else:
                    self._service(key.data, ev)

    def _accept(self):
        for _ in range(256):
            try:
                s, peer = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            s.setblocking(False)
            c = _SrvConn(s, peer)
            with self.lock:
                self.conns.add(c)
                self.accepted.append(peer)
            self.sel.register(s, selectors.EVENT_READ, c)

    def _finish(self, c, how):
        c.end = how
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        with self.lock:
            self.conns.discard(c)
            self.ended.append(c)

    def _service(self, c, ev):
        try:
            if ev & selectors.EVENT_READ and not c.eof:
                d = c.sock.recv(262144)
                if d:
                    c.rx += len(d)
                    (c.held if self.mode == "defer" else c.out).extend(d)
                    if self.rst_after is not None and c.rx >= self.rst_after:
                        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
                        self._finish(c, "rst_sent")
                        return
                else:
                    c.eof = True
                    if self.mode == "defer":
                        c.out += c.held + TRAILER
                        c.held = bytearray()
            if c.out:
                try:
                    n = c.sock.send(c.out[:262144])
                    c.tx += n
                    del c.out[:n]
                except (BlockingIOError, InterruptedError):
                    pass
            if c.eof and not c.out and not c.shut:
                c.sock.shutdown(socket.SHUT_WR)
                c.shut = True
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            self._finish(c, "reset")
            return
        except OSError as e:
            self._finish(c, f"error {e.errno}")
            return
        if c.shut:
            self._finish(c, "eof")
            return
        want = 0
        if not c.eof and len(c.out) < self.MAX_OUT:
            want |= selectors.EVENT_READ
        if c.out:
            want |= selectors.EVENT_WRITE
        if want == 0:           # cannot happen (eof and nothing out means shut above)
            want = selectors.EVENT_READ
        self.sel.modify(c.sock, want, c)


# ---- clients: many non-blocking connections driven by one loop ----

class Client:
    """One connection from the cli namespace: sends DATA repeated REPEAT times (then
    shutdown(SHUT_WR) when SHUT), reads until EOF/RST, keeps a sha256 of what came back and
    checks that it is a prefix of the stream it sent."""

    def __init__(self, sock, to, data, repeat=1, shut=True):
        self.sock, self.to, self.data, self.repeat, self.shut = sock, to, data, repeat, shut
        self.total = len(data) * repeat
        self.sent = 0
        self.rx = 0
        self.rx_hash = hashlib.sha256()
        self.rx_prefix_ok = True
        self.state = "connecting"
        self.end = None                 # "eof", "reset", "connect_error ...", "timeout", "error"
        self.end_at = None
        self.shut_done = False

    def _check_rx(self, d):
        n = len(self.data)
        off, i = self.rx % n, 0
        while i < len(d) and self.rx_prefix_ok:
            k = min(n - off, len(d) - i)
            if d[i:i + k] != self.data[off:off + k]:
                self.rx_prefix_ok = False
            i += k
            off = 0

    def events(self):
        if self.state == "connecting":
            return selectors.EVENT_WRITE
        ev = selectors.EVENT_READ
        if self.sent < self.total:
            ev |= selectors.EVENT_WRITE
        return ev


def make_clients(L, specs):
    """SPECS: [(to, data, repeat, shut)] -> [Client], sockets made in the cli namespace (of
    TO's family) and connecting (non-blocking)."""
    out = []
    with L.netns("cli"):
        socks = [socket.socket(lab.family_of(to[0]), socket.SOCK_STREAM) for to, *_ in specs]
    for s, (to, data, repeat, shut) in zip(socks, specs):
        s.setblocking(False)
        s.connect_ex(to)
        out.append(Client(s, to, data, repeat, shut))
    return out


def drive(clients, timeout=DEADLINE, stop=None, verify=True):
    """Run every client to its end (EOF/RST) or TIMEOUT seconds; sockets closed afterwards."""
    sel = selectors.DefaultSelector()
    live = 0
    for c in clients:
        if c.end is None:
            sel.register(c.sock, c.events(), c)
            live += 1
    deadline = time.monotonic() + timeout

    def finish(c, how):
        nonlocal live
        c.end, c.end_at = how, time.monotonic()
        sel.unregister(c.sock)
        c.sock.close()
        live -= 1

    while live and time.monotonic() < deadline and not (stop and stop.is_set()):
        for key, ev in sel.select(timeout=0.1):
            c = key.data
            if c.end is not None:
                continue
            try:
                if c.state == "connecting":
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(c, f"connect_error {os.strerror(err)}")
                        continue
                    c.state = "open"
                    ev = selectors.EVENT_WRITE | selectors.EVENT_READ
                if ev & selectors.EVENT_READ:
                    d = c.sock.recv(262144)
                    if not d:
                        finish(c, "eof")
                        continue
                    if verify:
                        c._check_rx(d)
                    c.rx_hash.update(d)
                    c.rx += len(d)
                if ev & selectors.EVENT_WRITE and c.sent < c.total:
                    n = len(c.data)
                    off = c.sent % n
                    try:
                        c.sent += c.sock.send(memoryview(c.data)[off:off + 262144])
                    except (BlockingIOError, InterruptedError):
                        pass
                if c.sent >= c.total and c.shut and not c.shut_done:
                    c.sock.shutdown(socket.SHUT_WR)
                    c.shut_done = True
            except (BlockingIOError, InterruptedError):
                pass
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                finish(c, "reset")
                continue
            except OSError as e:
                finish(c, f"error {e.strerror}")
                continue
            sel.modify(c.sock, c.events(), c)
    for c in clients:
        if c.end is None:
            finish(c, "timeout" if not (stop and stop.is_set()) else "stopped")
    sel.close()
    return clients


def blocking_client(L, port, timeout=5):
    s = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((DUT0_ADDR, port))
    return s


def recv_exact(s, n, timeout=5):
    s.settimeout(timeout)
    got = bytearray()
    while len(got) < n:
        d = s.recv(n - len(got))
        if not d:
            break
        got += d
    return bytes(got)


def closed_within(s, timeout):
    """How the peer ended S: "reset", "eof", "data" (something came instead) or "open"."""
    s.settimeout(timeout)
    try:
        d = s.recv(4096)
        return "eof" if d == b"" else "data"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "open"


# ---- the tests ----

def tap_tx_dropped(L):
    """{ifname: TX dropped} of the exception (TAP) interfaces in the dut namespace: what the
    kernel could not queue towards the data plane (-1: unknown)."""
    out = {}
    for ifc in ("rtp0", "rtp1"):
        txt = L.exec("dut", "cat", f"/sys/class/net/{ifc}/statistics/tx_dropped",
                     check=False).stdout.strip()
        out[ifc] = int(txt) if txt.isdigit() else -1
    return out


def diagnose(L, app):
    """What may have lost packets: the appliance's port and drop counters, the TAP interfaces'
    counters and the kernel's TCP counters in the dut and dst namespaces."""
    ps = app.proxy_stats()
    print("    ports:", [(p.name, p.rx_packets, p.tx_packets, p.rx_missed, p.tx_failed,
                          p.exception_packets) for p in ps.ports], "drops:", dict(ps.drops))
    for ns, cmd in (("dut", ["ip", "-s", "link", "show", "rtp1"]),
                    ("dut", ["nstat", "-az", "TcpExtListen*", "TcpExtTCPTimeouts",
                             "TcpRetransSegs", "TcpExtTCPSynRetrans", "TcpExtTW*"]),
                    ("dst", ["nstat", "-az", "TcpExtListen*", "TcpExtTCPTimeouts",
                             "TcpRetransSegs", "TcpExtTCPSynRetrans", "TcpExtTCPReqQFullDrop",
                             "TcpExtSyncookies*"])):
        out = L.exec(ns, *cmd, check=False).stdout
        print(f"    {ns}: {' '.join(cmd)}\n      " + "\n      ".join(out.splitlines()))
    errs = [ln for ln in app.log_text().splitlines() if "destination_endpoint" in ln]
    print(f"    {len(errs)} destination_endpoint lines in the log, first: {errs[:3]}")


def destroy(app, ctx, sid, expect):
    """DestroySession; its final counters are recorded with what the test expects of them."""
    r = app.stub.DestroySession(pb().DestroySessionRequest(session_id=sid)).session
    ctx["finals"][sid] = (stats_tuple(r), expect)
    return r


def test_many_clients(t, L, app, ctx):
    sid, port, n = "tcp-50x1M", 20000, 50
    srv = ctx["echo"]
    before = len(srv.accepted)
    s = app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, ECHO_PORT))).session
    t.eq(state_name(s.state), "SESSION_STATE_CONNECTING", "created: CONNECTING (listening)")
    t.eq((s.transport, s.listen_endpoint.port), (pb().TRANSPORT_TCP, port),
         "TCP, listen port as asked")
    datas = [os.urandom(MiB) for _ in range(n)]
    tap0 = tap_tx_dropped(L)
    t0 = time.monotonic()
    cl = drive(make_clients(L, [((DUT0_ADDR, port), d, 1, True) for d in datas]), timeout=60)
    dt = time.monotonic() - t0
    tap = tap_tx_dropped(L)
    print(f"    50 x 1 MiB echoed in {dt:.2f} s; TAP tx dropped meanwhile: "
          f"rtp0 {tap['rtp0'] - tap0['rtp0']}, rtp1 {tap['rtp1'] - tap0['rtp1']}", flush=True)
    t.eq([c.end for c in cl], ["eof"] * n, "every client: its echo then EOF")
    t.eq([c.sent for c in cl], [MiB] * n, "every client sent 1 MiB")
    t.eq([c.rx for c in cl], [MiB] * n, "every client received 1 MiB")
    bad = [i for i, (c, d) in enumerate(zip(cl, datas))
           if c.rx_hash.hexdigest() != hashlib.sha256(d).hexdigest()]
    t.eq(bad, [], "every client got exactly its own bytes back (sha256)")
    peers = srv.accepted[before:]
    t.eq(len(peers), n, "the destination accepted 50 connections")
    t.eq({p[0] for p in peers}, {DUT1_ADDR}, "all from the forward address 198.18.2.1")
    t.eq(len({p[1] for p in peers}), n, "each from its own (ephemeral) source port")
    g = wait_state(app, sid, "ACTIVE", 1)
    t.eq(state_name(g.state), "SESSION_STATE_ACTIVE", "session ACTIVE")
    t.eq(stats_tuple(g), (n * MiB,) * 4,
         "stats.bytes_received == bytes_sent == reverse bytes == 50 MiB")
    # a read returns at most buffer_kib (64 KiB): at least 16 per MiB, at most one per byte
    for what, st in (("stats", g.stats), ("reverse_stats", g.reverse_stats)):
        t.check(16 * n <= st.packets_received <= st.bytes_received
                and 16 * n <= st.packets_sent <= st.bytes_sent,
                f"{what}: packets (reads/writes) between 800 and the byte count",
                f"{st.packets_received} reads, {st.packets_sent} writes")
    t.check(g.stats.last_activity_unix_ms > 0, "last_activity_unix_ms set")
    ctx["sent"] += n * MiB
    ctx["received"] += sum(c.rx for c in cl)
    r = destroy(app, ctx, sid, (n * MiB,) * 4)
    t.eq(state_name(r.state), "SESSION_STATE_CLOSED", "DestroySession: CLOSED")
    t.eq(stats_tuple(r), (n * MiB,) * 4, "DestroySession returns the same final counters")


def test_half_close(t, L, app, ctx):
    sid, port = "tcp-halfclose", 20002
    srv = ctx["defer"]
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, DEFER_PORT)))
    data = os.urandom(256 * 1024)
    c, = make_clients(L, [((DUT0_ADDR, port), data, 1, True)])
    # the client writes and shuts down at once; reading goes on until EOF
    drive([c], verify=False)     # (the trailer is not part of what it sent)
    t.eq((c.sent, c.shut_done), (len(data), True), "client sent 256 KiB and shut down writing")
    t.eq(c.end, "eof", "client: EOF at the end (not RST)")
    want = data + TRAILER
    t.eq(c.rx, len(want), "client received all 256 KiB + the trailer sent after EOF")
    t.check(c.rx_hash.hexdigest() == hashlib.sha256(want).hexdigest(),
            "byte for byte (sha256): the reverse direction lived on after the half-close")
    ended = lab.wait_until(lambda: [x for x in srv.ended], 3)
    t.eq([(x.rx, x.tx, x.end) for x in ended], [(len(data), len(want), "eof")],
         "the destination got 256 KiB then EOF, sent it all back, ended orderly")
    ctx["sent"] += c.sent
    ctx["received"] += c.rx
    g = app.session(sid)
    t.eq(stats_tuple(g), (len(data), len(data), len(want), len(want)),
         "counters: 256 KiB each way (+ trailer back)")
    destroy(app, ctx, sid, (len(data), len(data), len(want), len(want)))


def test_refused(t, L, app, ctx):
    sid, port = "tcp-refused", 20004
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, CLOSED_PORT)))
    s = blocking_client(L, port)
    t0 = time.monotonic()
    how = closed_within(s, 3)
    s.close()
    t.check(how in ("reset", "eof"), "client closed (RST or EOF) within 3 s",
            f"{how} after {time.monotonic() - t0:.2f} s")
    g = wait_state(app, sid, "ERROR", 3)
    t.eq(state_name(g.state), "SESSION_STATE_ERROR", "session ERROR")
    t.check(g.error_message.startswith("destination_endpoint")
            and f"{DST_ADDR}:{CLOSED_PORT}" in g.error_message
            and "refused" in g.error_message.lower(),
            "error_message names destination_endpoint 198.18.2.2:40009 and 'refused'",
            repr(g.error_message))
    destroy(app, ctx, sid, (0, 0, 0, 0))


def test_connect_timeout(t, L, app, ctx):
    sid, port = "tcp-timeout", 20006
    app.stub.CreateSession(tcp_session(sid, port, (BLACKHOLE, ECHO_PORT)))
    s = blocking_client(L, port)
    t0 = time.monotonic()
    g = wait_state(app, sid, "ERROR", CONNECT_TIMEOUT_MS / 1000 + 4)
    dt = time.monotonic() - t0
    t.eq(state_name(g.state), "SESSION_STATE_ERROR", "session ERROR")
    t.check(dt <= CONNECT_TIMEOUT_MS / 1000 + 1.5,
            "ERROR within connect_timeout_ms (1000) + 1.5 s", f"after {dt:.2f} s")
    msg = g.error_message
    t.check(msg.startswith("destination_endpoint") and f"{BLACKHOLE}:{ECHO_PORT}" in msg
            and ("timed out" in msg or "No route to host" in msg),
            "error_message: destination_endpoint 198.18.2.77:40000 timed out / no route",
            repr(msg))
    print(f"    error_message: {msg!r} after {dt:.2f} s", flush=True)
    how = closed_within(s, 3)
    s.close()
    t.check(how in ("reset", "eof"), "client closed (RST or EOF)", how)
    destroy(app, ctx, sid, (0, 0, 0, 0))


def test_destroy_midstream(t, L, app, ctx):
    sid, port = "tcp-destroy", 20008
    srv = ctx["stream"]
    pid = app.proc.pid
    base = fd_count(pid)
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, STREAM_PORT)))
    t.eq(fd_count(pid), base + 1, "fd count +1 with the session (its listener)")
    block = os.urandom(MiB)
    c, = make_clients(L, [((DUT0_ADDR, port), block, 64, False)])    # up to 64 MiB
    stop = threading.Event()
    th = threading.Thread(target=drive, args=([c],), kwargs={"timeout": 10, "stop": stop},
                          daemon=True)
    th.start()
    moving = lab.wait_until(lambda: app.session(sid).stats.bytes_received >= 2 * MiB, 8)
    t.check(moving, "data is moving (>= 2 MiB relayed) before the destroy")
    t.eq(srv.open_count(), 1, "the destination has the connection open")
    fds_mid = fd_count(pid)
    t.eq(fds_mid, base + 3, "fd count mid-transfer: listener + client leg + destination leg")
    t0 = time.monotonic()
    r = destroy(app, ctx, sid, None)
    th.join(5)
    t.check(not th.is_alive() and c.end in ("reset", "eof"),
            "client's connection closed (RST/EOF) after DestroySession",
            f"{c.end} after {(c.end_at or time.monotonic()) - t0:.2f} s")
    t.check(c.end_at is not None and c.end_at - t0 <= 3, "within 3 s of the destroy")
    t.check(c.sent < c.total, "it was mid-transfer (not all 64 MiB sent)", f"{c.sent}")
    t.check(lab.wait_until(lambda: srv.open_count() == 0, 3), "the destination's side closed too")
    ends = [x.end for x in srv.ended]
    t.eq(ends, ["reset"], "... by RST")
    t.check(c.rx_prefix_ok, "what the client got back is a prefix of what it sent")
    srv_rx = sum(x.rx for x in srv.ended)
    srv_tx = sum(x.tx for x in srv.ended)
    st = r.stats
    rv = r.reverse_stats
    t.check(srv_rx <= st.bytes_sent <= st.bytes_received <= c.sent,
            "final counters: destination got <= bytes_sent <= bytes_received <= client sent",
            f"{srv_rx} <= {st.bytes_sent} <= {st.bytes_received} <= {c.sent}")
    t.check(c.rx <= rv.bytes_sent <= rv.bytes_received <= srv_tx,
            "reverse: client got <= bytes_sent <= bytes_received <= destination sent",
            f"{c.rx} <= {rv.bytes_sent} <= {rv.bytes_received} <= {srv_tx}")
    print(f"    client sent {c.sent}, got {c.rx}; counters {stats_tuple(r)}", flush=True)
    lab.wait_until(lambda: fd_count(pid) == base, 3)      # a short settle, then exact
    t.eq(fd_count(pid), base, "rtpproxy's fd count back to its value before the session")
    ctx["finals"].pop(sid, None)     # not exact by nature: checked above


def test_resets(t, L, app, ctx):
    pid = app.proc.pid
    # the client resets: the destination's side is reset too, nothing leaks
    sid, port = "tcp-client-rst", 20014
    srv = ctx["stream"]
    n_ended = len(srv.ended)
    base = fd_count(pid)
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, STREAM_PORT)))
    s = blocking_client(L, port)
    data = os.urandom(256 * 1024)
    s.sendall(data)
    got = recv_exact(s, 64 * 1024)
    t.eq(got, data[:len(got)], "client: 256 KiB sent, the first 64 KiB echoed")
    t.eq(fd_count(pid), base + 3, "fd count: listener + two legs")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()                               # RST
    t.check(lab.wait_until(lambda: len(srv.ended) > n_ended, 3),
            "the destination's side ended within 3 s")
    t.eq([x.end for x in srv.ended[n_ended:]], ["reset"], "... by RST")
    lab.wait_until(lambda: fd_count(pid) == base + 1, 3)
    t.eq(fd_count(pid), base + 1, "fd count: the listener only (both legs closed)")
    g = wait_state(app, sid, "ACTIVE", 1)
    t.check(g.state == pb().SESSION_STATE_ACTIVE and g.stats.bytes_received >= 64 * 1024,
            "session still ACTIVE, counted what came", f"{state_name(g.state)} {stats_tuple(g)}")
    r = destroy(app, ctx, sid, None)
    ctx["finals"].pop(sid, None)
    t.eq(state_name(r.state), "SESSION_STATE_CLOSED", "destroyed")
    t.eq(fd_count(pid), base, "fd count back to its baseline")

    # the destination resets after 1 MiB: the client is reset
    sid, port = "tcp-dest-rst", 20016
    base = fd_count(pid)
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, RST_PORT)))
    c, = make_clients(L, [((DUT0_ADDR, port), os.urandom(MiB), 8, False)])   # up to 8 MiB
    t0 = time.monotonic()
    drive([c], timeout=10)
    t.eq(c.end, "reset", "client reset when the destination resets",)
    t.check(c.sent < c.total, "before it had sent all 8 MiB", f"sent {c.sent}")
    t.check(c.rx_prefix_ok, "what came back before is a prefix of what it sent")
    print(f"    client sent {c.sent}, got {c.rx}, reset after {time.monotonic() - t0:.2f} s",
          flush=True)
    lab.wait_until(lambda: fd_count(pid) == base + 1, 3)
    t.eq(fd_count(pid), base + 1, "fd count: the listener only")
    g = wait_state(app, sid, "ACTIVE", 1)
    t.check(g.state == pb().SESSION_STATE_ACTIVE and g.stats.bytes_sent >= RST_AFTER,
            "session still ACTIVE, >= 1 MiB relayed", f"{state_name(g.state)} {stats_tuple(g)}")
    destroy(app, ctx, sid, None)
    ctx["finals"].pop(sid, None)
    t.eq(fd_count(pid), base, "fd count back to its baseline")


def test_fixed_forward_port(t, L, app, ctx):
    sid, port, fport = "tcp-fixed", 20010, 31000
    srv = ctx["fixed"]
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, FIXED_PORT), forward_port=fport))
    sent = received = 0
    a = blocking_client(L, port)
    m1 = os.urandom(1024)
    a.sendall(m1)
    got = recv_exact(a, len(m1))
    t.eq(got, m1, "first client: 1 KiB echoed")
    sent, received = sent + len(m1), received + len(got)
    t.eq(srv.accepted[-1:], [(DUT1_ADDR, fport)], "the destination sees 198.18.2.1:31000")
    b = blocking_client(L, port)
    t0 = time.monotonic()
    how = closed_within(b, 3)
    b.close()
    t.check(how in ("reset", "eof"), "second concurrent client closed at once (RST/EOF)",
            f"{how} after {time.monotonic() - t0:.2f} s")
    t.check(time.monotonic() - t0 < 1.0, "... within 1 s")
    t.eq(len(srv.accepted), 1, "the destination saw one connection only")
    m2 = os.urandom(1024)
    a.sendall(m2)
    got = recv_exact(a, len(m2))
    t.eq(got, m2, "the first client still works")
    sent, received = sent + len(m2), received + len(got)
    a.shutdown(socket.SHUT_WR)
    t.eq(closed_within(a, 3), "eof", "first client: EOF after its half-close")
    a.close()
    g = wait_state(app, sid, "ACTIVE", 1)
    t.eq(state_name(g.state), "SESSION_STATE_ACTIVE",
         "session ACTIVE (not ERROR) after the refused second client")
    # one client at a time: the next one, after the first has gone, is served
    t.check(lab.wait_until(lambda: srv.open_count() == 0, 3), "the destination closed its side")
    c = blocking_client(L, port)
    m3 = os.urandom(1024)
    c.sendall(m3)
    try:
        got = recv_exact(c, len(m3), timeout=3)
    except OSError as e:
        got = f"{type(e).__name__}: {e}"
    t.eq(got, m3, "a later client (after the first closed) is served")
    t.eq(srv.accepted[-1:], [(DUT1_ADDR, fport)], "... from 198.18.2.1:31000 again")
    if got == m3:
        sent, received = sent + len(m3), received + len(got)
        c.shutdown(socket.SHUT_WR)
        closed_within(c, 3)
    c.close()
    g = app.session(sid)
    if g.state == pb().SESSION_STATE_ERROR:
        print(f"    session ERROR: {g.error_message!r}", flush=True)
    ctx["sent"] += sent
    ctx["received"] += received
    destroy(app, ctx, sid, (sent, sent, received, received))


def test_scale(t, L, app, ctx):
    n_sess, per = 100, 10
    srv = ctx["scale"]
    pid = app.proc.pid
    base = fd_count(pid)
    ports = {}
    t0 = time.monotonic()
    for k in range(n_sess):
        s = app.stub.CreateSession(tcp_session(f"tcp-scale-{k}", 0, (DST_ADDR, SCALE_PORT))).session
        ports[k] = s.listen_endpoint.port
    t.check(all(ports.values()) and len(set(ports.values())) == n_sess,
            "100 sessions, listen port 0 -> 100 distinct allocated ports")
    t.eq(fd_count(pid), base + n_sess, "fd count +100 (one listener each)")
    specs, owner = [], []
    for k in range(n_sess):
        for j in range(per):
            specs.append(((DUT0_ADDR, ports[k]), os.urandom(1024), 1, True))
            owner.append(k)
    tap0 = tap_tx_dropped(L)
    t1 = time.monotonic()
    cl = drive(make_clients(L, specs), timeout=60)
    dt = time.monotonic() - t1
    tap = tap_tx_dropped(L)
    print(f"    1000 connections echoed in {dt:.2f} s (sessions created in {t1 - t0:.2f} s); "
          f"TAP tx dropped meanwhile: rtp0 {tap['rtp0'] - tap0['rtp0']}, "
          f"rtp1 {tap['rtp1'] - tap0['rtp1']}", flush=True)
    ends = {}
    for c in cl:
        ends[c.end] = ends.get(c.end, 0) + 1
    if not t.eq(ends, {"eof": 1000}, "1000 connections: each its echo then EOF"):
        diagnose(L, app)
    bad = sum(1 for c, (to, d, _, _) in zip(cl, specs)
              if c.rx != 1024 or c.rx_hash.digest() != hashlib.sha256(d).digest())
    t.eq(bad, 0, "each got exactly its own 1 KiB back")
    t.eq(len(srv.accepted), 1000, "the destination accepted 1000 connections")
    wrong = []
    for k in range(n_sess):
        g = app.session(f"tcp-scale-{k}")
        if g.state != pb().SESSION_STATE_ACTIVE or stats_tuple(g) != (per * 1024,) * 4:
            wrong.append((k, state_name(g.state), stats_tuple(g)))
    t.eq(wrong[:5], [], "every session ACTIVE with 10 KiB each way, exactly")
    ctx["sent"] += sum(c.sent for c in cl)
    ctx["received"] += sum(c.rx for c in cl)
    for k in range(n_sess):
        destroy(app, ctx, f"tcp-scale-{k}", (per * 1024,) * 4)
    lab.wait_until(lambda: fd_count(pid) == base, 3)
    t.eq(fd_count(pid), base, "fd count back to its baseline after destroying all")


def test_idle(t, L, app, ctx):
    sid, port = "tcp-idle", 20012
    t0 = time.monotonic()
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, ECHO_PORT), idle_timeout_secs=2))
    g = wait_state(app, sid, "CLOSED", 5)
    dt = time.monotonic() - t0
    t.check(g.state == pb().SESSION_STATE_CLOSED, "idle TCP session (no connection) CLOSED",
            f"not after {dt:.2f} s")
    t.check(1.9 <= dt <= 3.0, "CLOSED within 2..3 s of its creation", f"after {dt:.2f} s")
    s = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((DUT0_ADDR, port))
        how = "connected"
    except ConnectionRefusedError:
        how = "refused"
    except socket.timeout:
        how = "no answer"
    except OSError as e:
        how = f"{type(e).__name__}: {e}"
    s.close()
    t.eq(how, "no answer", "its listener is gone: the exception filter drops the SYN")
    destroy(app, ctx, sid, (0, 0, 0, 0))


def test_control_loop_under_tcp(t, L, app, ctx):
    """While a TCP connection carries bulk data, the control loop keeps its timers: StatsUpdate
    events every stats_interval_ms and another session's idle timeout on time. Measured with the
    server's own event timestamps (timestamp_unix_ms, created_unix_ms), so the test process's
    own load does not enter the figures."""
    import grpc
    sid, port = "tcp-bulk", 20018
    app.stub.CreateSession(tcp_session(sid, port, (DST_ADDR, STREAM_PORT)))
    channel = grpc.insecure_channel(f"unix:{app.sock}")
    seen = []
    try:
        stream = channel.unary_stream(
            "/rtpproxy.RtpProxy/StreamSessionEvents",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb().SessionEvent.FromString)(
                pb().StreamSessionEventsRequest(stats_interval_ms=100), timeout=20)

        def read():
            try:
                for e in stream:
                    seen.append(e)
            except grpc.RpcError:
                pass
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        c, = make_clients(L, [((DUT0_ADDR, port), os.urandom(MiB), 256, False)])
        stop = threading.Event()
        th = threading.Thread(target=drive, args=([c],), kwargs={"timeout": 2.5, "stop": stop},
                              daemon=True)
        th.start()
        time.sleep(0.3)
        idle = app.stub.CreateSession(tcp_session("tcp-idle-2", 20020, (DST_ADDR, ECHO_PORT),
                                                  idle_timeout_secs=1)).session
        th.join(5)
        print(f"    client streamed {c.sent >> 20} MiB in 2.5 s", flush=True)
        time.sleep(0.2)
    finally:
        channel.close()
    t0 = idle.created_unix_ms
    ups = [e.timestamp_unix_ms for e in seen if e.session_id == sid
           and e.WhichOneof("event") == "stats_update" and t0 <= e.timestamp_unix_ms <= t0 + 2000]
    gaps = [b - a for a, b in zip(ups, ups[1:])]
    t.check(c.sent >= 8 * MiB, "bulk data moved meanwhile (>= 8 MiB)", f"{c.sent}")
    t.check(len(ups) >= 15 and max(gaps or [9999]) <= 300,
            "StatsUpdate every 100 ms during the transfer (>= 15 in 2 s, no gap over 300 ms)",
            f"{len(ups)} in 2 s, gaps (ms) {gaps}")
    closed = [e.timestamp_unix_ms - t0 for e in seen if e.session_id == "tcp-idle-2"
              and e.WhichOneof("event") == "closed"]
    t.check(closed and closed[0] <= 1300,
            "another TCP session's 1 s idle timeout fires on time (within 1.3 s)",
            f"closed event {closed} ms after its creation")
    r = destroy(app, ctx, sid, None)
    ctx["finals"].pop(sid, None)
    t.eq(state_name(r.state), "SESSION_STATE_CLOSED", "bulk session destroyed")
    destroy(app, ctx, "tcp-idle-2", (0, 0, 0, 0))


def test_totals(t, L, app, ctx):
    finals = ctx["finals"]
    wrong = [(sid, got, want) for sid, (got, want) in finals.items() if got != want]
    t.eq(wrong[:5], [], f"every session's final counters == what the test sent/received "
         f"({len(finals)} sessions)")
    tot = [sum(got[i] for got, _ in finals.values()) for i in range(4)]
    t.eq(tot, [ctx["sent"], ctx["sent"], ctx["received"], ctx["received"]],
         f"summed: {ctx['sent']} bytes client->destination, {ctx['received']} back")


def body(t):
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 8192:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
    except (ValueError, OSError):
        pass
    t_start = time.monotonic()
    with lab.Lab() as L:
        ctx = {"finals": {}, "sent": 0, "received": 0}
        servers = [("echo", ECHO_PORT, "echo"), ("defer", DEFER_PORT, "defer"),
                   ("stream", STREAM_PORT, "echo"), ("fixed", FIXED_PORT, "echo"),
                   ("scale", SCALE_PORT, "echo"), ("rst", RST_PORT, "echo")]
        try:
            for name, port, mode in servers:
                ctx[name] = EchoServer(L, port, mode,
                                       rst_after=RST_AFTER if name == "rst" else None)
            main_steps = [
                ("50 clients x 1 MiB through one session", test_many_clients),
                ("half-close", test_half_close),
                ("destination port closed -> ERROR", test_refused),
                ("DestroySession mid-transfer", test_destroy_midstream),
                ("RST from either side mid-transfer", test_resets),
                ("fixed forward port: one client at a time", test_fixed_forward_port),
                ("scale: 100 sessions x 10 connections", test_scale),
                ("idle timeout", test_idle),
                ("the control loop keeps time during TCP traffic", test_control_loop_under_tcp),
            ]
            ct_steps = [
                ("destination does not answer -> ERROR (connect timeout 1000 ms)",
                 test_connect_timeout),
                ("stats across the run", test_totals),
            ]
            for config, name, steps in ((CONFIG, "rtpproxy", main_steps),
                                        (CONFIG_CT, "rtpproxy-ct", ct_steps)):
                print(f"- appliance {name}: {config}", flush=True)
                with lab.Appliance(L, config, name=name) as app:
                    t.check(os.readlink(f"/proc/{app.proc.pid}/exe").endswith("/rtpproxy"),
                            "Appliance.proc.pid is rtpproxy itself (ip netns exec execs it)")
                    for desc, fn in steps:
                        s0 = time.monotonic()
                        t.run(desc, fn, t, L, app, ctx)
                        print(f"    ({time.monotonic() - s0:.2f} s)", flush=True)
        finally:
            for name, _, _ in servers:
                if name in ctx:
                    ctx[name].close()
    print(f"    total {time.monotonic() - t_start:.2f} s", flush=True)


if __name__ == "__main__":
    lab.main_wrapper("tcp", body)
