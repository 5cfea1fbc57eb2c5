#!/usr/bin/python3
"""e2e_state_failover: the hot standby (API.md 1.6) takes over a killed active in under a second.

Lab topology "pair": appliance "a" (active, PREFIX-dut) and "b" (role standby, peer_instance a,
PREFIX-sby) on the same client and destination segments (bridges), Redis on the management
link between them, lease_ms 500, checkpoint_secs 1.

1. 200 UDP sessions created on a; b mirrors them (same ids and ports, state kept) and relays
   nothing (its workers count no relayed packet).
2. RTP at 50 pps per session (one packet per session every 20 ms from one client socket, to
   one destination socket: a stream is told by its SSRC), ~2 s; then a is SIGKILLed, ~4 s more.
   For every stream: the media gap at the destination (the longest time between two packets
   that arrived, from their RTP sequence numbers and arrival times) is under 1 s, and no
   packet arrived twice. Reported: min/median/max gap over the 200 streams, packets lost.
3. b's counters continue: for every session, packets received >= the checkpoint the store
   held when a died + what reached the destination after the kill; b's lease epoch is 2.
4. The client's and the destination's neighbour caches moved to b's MACs (gratuitous ARP
   despite locktime: Linux takes a gratuitous ARP over a fresh entry, arp_is_garp).
   TCP: a connection made through a is reset after the take-over (the kernel's connections do
   not move); the session itself moved: a new connection through b echoes.
5. a started again (same config, role active): it finds b's newer lease and stands by: it
   relays nothing, announces nothing, and the destination keeps getting every packet from b.
6. b cut off from Redis (nftables in its namespace): a takes the lease (epoch 3) and the
   neighbours follow its announcement; healed, b sees the newer epoch, stands down, mirrors
   again and relays nothing (no split brain); a's counters continue. A session b destroyed
   while cut off stays in the store: b's writer finds the lease a's and drops what it had
   queued (the fence) instead of writing over a's store.
"""
import socket
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import (CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, PAIR_MGMT_ADDR,  # noqa: E402
                 SBY0_MAC, SBY1_MAC, DUT0_MAC, DUT1_MAC, udp_session)
from redis_lab import RedisLab  # noqa: E402

S = 200                 # sessions
PPS = 50                # packets per second per session
BEFORE_S = 2.0          # traffic before the kill
AFTER_S = 4.0           # and after it
LEASE_MS = 500
DEST_PORT = 40000
TCP_DEST_PORT = 45000
PREFIX = "rtpproxy:"


def sid(i):
    return f"fo-{i:03d}"


def state_cfg(redis_addr, instance, standby=False):
    st = {"backend": "redis", "redis": redis_addr, "instance": instance,
          "lease_ms": str(LEASE_MS), "checkpoint_secs": "1", "restore_wait_secs": "5"}
    if standby:
        st.update({"role": "standby", "peer_instance": "a"})
    return {"state": st}


class Traffic:
    """One client socket sending packet k of every session at k / PPS seconds (bounded in
    time), one destination socket recording (ssrc, seq, arrival) of everything relayed."""

    def __init__(self, L, listens):
        self.listens = listens
        self.tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        self.rx = lab.udp_socket(L, "dst", bind=(DST_ADDR, DEST_PORT))
        self.rx.settimeout(0.05)
        self.got = []               # (ssrc index, seq, arrival monotonic, source port)
        self.sent = [0] * len(listens)
        self.stop_tx = threading.Event()
        self.stop_rx = threading.Event()
        self.t0 = None

    def _send(self, duration):
        self.t0 = time.monotonic()
        k = 0
        while not self.stop_tx.is_set() and k < duration * PPS:
            due = self.t0 + k / PPS
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            for i, ep in enumerate(self.listens):
                pkt = lab.rtp_packet(k, k * 160, 0x20000 + i, payload=b"\xd5" * 20)
                try:
                    self.tx.sendto(pkt, ep)
                    self.sent[i] += 1
                except OSError:
                    pass
            k += 1

    def _recv(self):
        while not self.stop_rx.is_set():
            try:
                data, addr = self.rx.recvfrom(2048)
            except socket.timeout:
                continue
            now = time.monotonic()
            if len(data) >= 12:
                seq, ssrc = struct.unpack("!H", data[2:4])[0], struct.unpack("!I", data[8:12])[0]
                self.got.append((ssrc - 0x20000, seq, now, addr[1]))

    def start(self, duration):
        self.rx_thread = threading.Thread(target=self._recv, daemon=True)
        self.tx_thread = threading.Thread(target=self._send, args=(duration,), daemon=True)
        self.rx_thread.start()
        self.tx_thread.start()

    def finish(self, settle=0.5):
        self.tx_thread.join(AFTER_S + BEFORE_S + 30)
        time.sleep(settle)
        self.stop_rx.set()
        self.rx_thread.join(5)
        self.tx.close()
        self.rx.close()


class Events:
    """StreamSessionEvents (every session) read by its own thread: [(session_id, kind)]."""

    def __init__(self, stub):
        pb = lab.pb2()
        self.got = []
        self.call = stub.StreamSessionEvents(pb.StreamSessionEventsRequest(), timeout=120)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for ev in self.call:
                self.got.append((ev.session_id, ev.WhichOneof("event")))
        except Exception:
            pass

    def created(self):
        return {sid_ for sid_, kind in self.got if kind == "created"}

    def close(self):
        self.call.cancel()
        self.thread.join(5)


class Echo:
    """A TCP echo server in the destination namespace (bounded: it stops with the test)."""

    def __init__(self, L, port):
        self.srv = L.socket_in("dst", socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((DST_ADDR, port))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                c, _ = self.srv.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    def _echo(self, c):
        c.settimeout(30)
        with c:
            try:
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.srv.close()


def metrics(L, ns):
    """/metrics of the appliance in namespace NS ([http] listen 127.0.0.1:9464 there)."""
    c = L.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(5)
    with c:
        c.connect(("127.0.0.1", 9464))
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            out += d
    return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1]
            for line in out.decode(errors="replace").splitlines()
            if line.startswith("rtpproxy_state_") and " " in line}


def tcp_roundtrip(L, ep, conn=None, data=b"ping"):
    """Send DATA on CONN (or a new connection to EP) and read it back: (conn, ok)."""
    try:
        if conn is None:
            conn = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
            conn.settimeout(5)
            conn.connect(ep)
        conn.sendall(data)
        got = b""
        while len(got) < len(data):
            d = conn.recv(4096)
            if not d:
                break
            got += d
        return conn, got == data
    except OSError:
        return conn, False


def analyse(t, got, kill_at, sent, end_at):
    per = [[] for _ in range(S)]
    for i, seq, at, _ in got:
        if 0 <= i < S:
            per[i].append((seq, at))
    gaps, dups, lost, after = [], 0, 0, [0] * S
    for i, pkts in enumerate(per):
        seqs = [s for s, _ in pkts]
        dups += len(seqs) - len(set(seqs))
        lost += sent[i] - len(set(seqs))
        times = sorted(at for _, at in pkts)
        # relayed by b: a may still send for a moment after kill(), b starts 100s of ms later
        after[i] = sum(1 for at in times if at > kill_at + 0.1)
        # the longest silence between two packets, or after the last one until the sender
        # stopped (a stream that never came back has a gap as long as the rest of the test)
        gap = max([b - a for a, b in zip(times, times[1:])] + [end_at - times[-1]]) \
            if times else float("inf")
        gaps.append(gap)
    t.eq(dups, 0, "no packet arrived twice")
    t.check(all(len(p) > 0 for p in per), "every stream reached the destination")
    t.check(max(gaps) < 1.0, f"every stream's media gap under 1 s (max {max(gaps) * 1000:.0f} ms)",
            f"gaps over 1 s: {sum(1 for g in gaps if g >= 1.0)}")
    print(f"  failover gap over {S} streams: min {min(gaps) * 1000:.0f} ms, median "
          f"{statistics.median(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms; "
          f"{lost} of {sum(sent)} packets lost", flush=True)
    return after


def body(t):
    pb = lab.pb2()
    with lab.Lab(topology="pair") as L, \
            RedisLab(L, ns="dut", bind_extra=(PAIR_MGMT_ADDR,)) as R:
        raddr = f"{PAIR_MGMT_ADDR}:{R.port}"
        a = lab.Appliance(L, state_cfg(raddr, "a"), name="a")
        b = lab.Appliance(L, state_cfg(raddr, "b", standby=True), name="b", netns="sby")
        with a, b:
            t.eq(R.client.get(f"{PREFIX}a#lease"), b"1 a", "a holds the lease, epoch 1")

            # 1. sessions on a, mirrored by b
            listens = []
            for i in range(S):
                r = a.stub.CreateSession(udp_session(sid(i), (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                                     (DST_ADDR, DEST_PORT)))
                listens.append((r.session.listen_endpoint.address, r.session.listen_endpoint.port))
            t.eq(len(listens), S, f"{S} sessions created on a")
            echo = Echo(L, TCP_DEST_PORT)
            r = a.stub.CreateSession(pb.CreateSessionRequest(
                session_id="fo-tcp", transport=pb.TRANSPORT_TCP,
                listen_endpoint=lab.endpoint(DUT0_ADDR, 0),
                forward_endpoint=lab.endpoint(DUT1_ADDR, 0),
                destination_endpoint=lab.endpoint(DST_ADDR, TCP_DEST_PORT)))
            tcp_ep = (DUT0_ADDR, r.session.listen_endpoint.port)

            def mirrored():
                ls = b.stub.ListSessions(pb.ListSessionsRequest())
                return len(ls.sessions) == S + 1 and ls
            ls = lab.wait_until(mirrored, 15)
            t.check(ls, f"b mirrors all {S} UDP sessions and the TCP one",
                    f"{len(b.stub.ListSessions(pb.ListSessionsRequest()).sessions)} mirrored")
            if ls:
                by_id = {s.session_id: s for s in ls.sessions}
                t.check(all(sid(i) in by_id and by_id[sid(i)].listen_endpoint.port == listens[i][1]
                            for i in range(S)), "same ids and listen ports on b")

            st = b.proxy_stats().state
            t.check(st.role == "standby" and st.lease_epoch == 1 and st.store_instance == "a",
                    "b's StateBackendStats: standby, lease epoch 1 (a's), store a", str(st))
            m = metrics(L, "sby")
            t.check(m.get('rtpproxy_state_role{role="standby"}') == "1" and
                    m.get("rtpproxy_state_lease_epoch") == "1",
                    "b's /metrics: role standby, lease epoch 1", str(m))
            b_events = Events(b.stub)       # open before the take-over: sees nothing yet
            import grpc
            t.status(b.stub.CreateSession, udp_session("fo-on-b", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                                       (DST_ADDR, DEST_PORT)),
                     grpc.StatusCode.UNAVAILABLE, "CreateSession on the standby: UNAVAILABLE",
                     details_prefix="standby:")
            t.status(b.stub.DestroySession, pb.DestroySessionRequest(session_id=sid(0)),
                     grpc.StatusCode.UNAVAILABLE, "DestroySession on the standby: UNAVAILABLE")

            # 2. traffic (the client knows its next hop first), then a dies
            t.check(L.ping("cli", DUT0_ADDR, count=1) == 1, "a answers the client's ping")
            old_conn, ok = tcp_roundtrip(L, tcp_ep)
            t.check(ok, "a TCP connection through a echoes")
            tr = Traffic(L, listens)
            tr.start(BEFORE_S + AFTER_S)
            lab.wait_until(lambda: tr.t0 is not None and time.monotonic() - tr.t0 > BEFORE_S, 10)
            t.eq(L.neigh_mac("cli", DUT0_ADDR), DUT0_MAC, "the client's next hop is a's port0")
            b_relayed_before = sum(w.relayed for w in b.proxy_stats().workers)
            t.eq(b_events.got, [], "b's event stream shows nothing while it stands by")
            # locktime (1 s by default): the client's entry is made fresh right now, so b's
            # gratuitous ARP comes well within it (Linux takes a gratuitous ARP regardless)
            locktime = L.exec("cli", "sysctl", "-n", "net.ipv4.neigh.br-cli.locktime").stdout.strip()
            for mac in ("02:52:50:01:00:99", DUT0_MAC):
                L.exec("cli", "ip", "neigh", "replace", DUT0_ADDR, "lladdr", mac, "dev", "br-cli",
                       "nud", "reachable")
            fresh_at = time.monotonic()
            kill_at = time.monotonic()
            a.proc.kill()
            a.proc.wait(5)
            a.returncode = a.proc.returncode
            a._close_channel()
            # the checkpoint a left (its last, at most 1 s old)
            ckpt = {}
            for i in range(S):
                raw = R.client.hget(f"{PREFIX}a:{sid(i)}", "ctr")
                if raw is not None:
                    c = lab_state_pb2().StoredCounters.FromString(raw)
                    ckpt[i] = c.stats.packets_received
            takeover = lab.wait_until(lambda: R.client.get(f"{PREFIX}a#lease") == b"2 b", 5,
                                      interval=0.01)
            took_ms = (time.monotonic() - kill_at) * 1000
            t.check(takeover, f"b took the lease with epoch 2 ({took_ms:.0f} ms after the kill)")
            tr.finish()
            end_at = tr.t0 + (int((BEFORE_S + AFTER_S) * PPS) - 1) / PPS   # the last send
            t.eq(b_relayed_before, 0, "b relayed nothing while standing by")

            after = analyse(t, tr.got, kill_at, tr.sent, end_at)
            first_b = min((at for _, _, at, _ in tr.got if at > kill_at), default=None)
            t.eq(L.neigh_mac("cli", DUT0_ADDR), SBY0_MAC,
                 f"the client's neighbour cache moved to b (its entry updated "
                 f"{(first_b - fresh_at) * 1000 if first_b else -1:.0f} ms before b's first "
                 f"packet arrived; locktime {locktime} cs)")
            t.eq(L.neigh_mac("dst", DUT1_ADDR), SBY1_MAC,
                 "the destination's neighbour cache moved to b")

            # TCP: the kernel's connections stay with the dead appliance; the session moved
            _, ok = tcp_roundtrip(L, tcp_ep, old_conn, b"after")
            t.check(not ok, "the TCP connection made through a does not survive (reset)")
            old_conn.close()
            conn, ok = tcp_roundtrip(L, tcp_ep)
            t.check(ok, "a new TCP connection to the same session works through b")
            conn.close()
            echo.close()

            # 3. b's counters continue from the checkpoint
            low = []
            for i in range(S):
                st = b.session(sid(i)).stats
                want = ckpt.get(i, 0) + after[i]
                if st.packets_received < want:
                    low.append(f"{sid(i)}: {st.packets_received} < {ckpt.get(i, 0)} + {after[i]}")
            t.eq(len(ckpt), S, "a checkpoint for every session in the store")
            t.check(not low, "b's counters >= the checkpoint + what it relayed since",
                    "; ".join(low[:5]))
            stats = b.proxy_stats()
            t.check(stats.HasField("state") and stats.state.lease_epoch == 2
                    and stats.state.role == "active",
                    "b's StateBackendStats: role active, lease epoch 2", str(stats.state))
            m = metrics(L, "sby")
            t.check(m.get('rtpproxy_state_role{role="active"}') == "1" and
                    m.get("rtpproxy_state_lease_epoch") == "2",
                    "b's /metrics: role active, lease epoch 2", str(m))

            # the streams open since before the take-over get b's sessions as a snapshot
            lab.wait_until(lambda: len(b_events.created()) >= S + 1, 10)
            t.eq(len(b_events.created()), S + 1, "b's open event stream: every session as `created`")
            t.eq(sum(1 for _, k in b_events.got if k == "created"), S + 1, "each once (+ TCP)")
            b_events.close()
            late = Events(b.stub)
            lab.wait_until(lambda: len(late.created()) >= S + 1, 10)
            t.eq(len(late.created()), S + 1,
                 "a stream opened after the take-over: all in its snapshot")
            late.close()

            # 5. the old active comes back and stands by
            a2 = lab.Appliance(L, state_cfg(raddr, "a"), name="a2")
            with a2:
                t.check("standing by" in a2.log_text(), "a restarted stands by (b's lease is newer)",
                        a2.log_tail(10))
                tr2 = Traffic(L, listens)
                tr2.start(1.0)
                tr2.finish()
                got = {(i, seq) for i, seq, _, _ in tr2.got}
                t.eq(len(got), S * PPS, "every packet still reaches the destination (through b)")
                t.eq(len(tr2.got), S * PPS, "none twice")
                t.eq(sum(w.relayed for w in a2.proxy_stats().workers), 0, "a relays nothing")
                t.eq(L.neigh_mac("cli", DUT0_ADDR), SBY0_MAC, "the client still sends to b")
                t.eq(R.client.get(f"{PREFIX}a#lease"), b"2 b", "b keeps the lease")

                # 6. b cut off from Redis (a partition): a takes the lease when it lapses;
                # b keeps relaying (it cannot know) but the neighbours follow a's
                # announcement; healed, b sees the newer epoch and stands down
                cut = f"inet rpfo_{R.port}"
                L.exec("sby", "nft", "add table " + cut)
                L.exec("sby", "nft", f"add chain {cut} out {{ type filter hook output "
                       "priority 0; }")
                L.exec("sby", "nft", f"add rule {cut} out tcp dport {R.port} drop")
                back = lab.wait_until(lambda: R.client.get(f"{PREFIX}a#lease") == b"3 a", 5, 0.01)
                t.check(back, "b cut off from Redis: a takes the lease (epoch 3)")
                # b still thinks it is active: what it changes now is queued for a store
                # that is a's again; healed, its writer must not write it (the fence)
                t.status(b.stub.DestroySession, pb.DestroySessionRequest(session_id=sid(0)),
                         grpc.StatusCode.OK, "b (cut off, still active) destroys a session")
                tr3 = Traffic(L, listens)
                tr3.start(1.0)
                tr3.finish()
                # the first packets may meet the switch
                got3 = {(i, seq) for i, seq, _, _ in tr3.got}
                t.check(len(got3) >= S * PPS * 0.9 and len(got3) == len(tr3.got),
                        "a relays them, none twice", f"{len(got3)} of {S * PPS}")
                t.eq(L.neigh_mac("cli", DUT0_ADDR), DUT0_MAC, "the client sends to a again")
                L.exec("sby", "nft", "delete table " + cut)
                down = lab.wait_until(lambda: "standing by, relaying nothing" in b.log_text(), 10)
                t.check(down, "healed: b sees epoch 3 and stands down")
                t.check(lab.wait_until(lambda: b.proxy_stats().state.role == "standby", 5),
                        "b's StateBackendStats: standby again")
                t.check(lab.wait_until(lambda: len(b.stub.ListSessions(
                    pb.ListSessionsRequest()).sessions) == S + 1, 10),
                        "b mirrors the sessions again")
                t.check(lab.wait_until(lambda: "queued writes are dropped" in b.log_text(), 5),
                        "b's writer found the lease a's: its queued writes dropped",
                        b.log_tail(10))
                t.check(R.client.hget(f"{PREFIX}a:{sid(0)}", "def") is not None and
                        a2.session(sid(0)) is not None,
                        "the session b destroyed while cut off is still a's, in the store too")
                b_relayed = sum(w.relayed for w in b.proxy_stats().workers)
                tr4 = Traffic(L, listens)
                tr4.start(1.0)
                tr4.finish()
                t.eq(len({(i, seq) for i, seq, _, _ in tr4.got}), S * PPS,
                     "every packet through a")
                t.eq(len(tr4.got), S * PPS, "none twice")
                t.eq(sum(w.relayed for w in b.proxy_stats().workers) - b_relayed, 0,
                     "b relays nothing")
                t.eq(sum(1 for i in range(S) if a2.session(sid(i)).stats.packets_received >=
                         ckpt.get(i, 0)), S, "a's counters continue too")


def lab_state_pb2():
    lab.pb2()                       # puts the build's proto directory on sys.path
    import state_pb2
    return state_pb2


if __name__ == "__main__":
    lab.main_wrapper("state_failover", body)
