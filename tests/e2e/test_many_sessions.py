#!/usr/bin/python3
"""e2e_many_sessions: 200 UDP sessions at once, each relaying only its own traffic.

Session i: listen 198.18.1.1:21000+2i, forward 198.18.2.1:31000+2i, destination
198.18.2.2:41000+2i. 20 RTP packets per session with session-unique payloads, interleaved
across sessions; each destination socket must receive exactly its own 20, in order, from its
own forward endpoint, and each session's stats must say 20 received / 20 sent.
"""
import select
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

S = 200            # sessions
P = 20             # packets per session
PAYLOAD = 160


def sid(i):
    return f"many-{i:03d}"


def listen(i):
    return (DUT0_ADDR, 21000 + 2 * i)


def forward(i):
    return (DUT1_ADDR, 31000 + 2 * i)


def dest(i):
    return (DST_ADDR, 41000 + 2 * i)


def packet(i, seq):
    # The session index is in the SSRC and at the start of the payload: a packet that reaches
    # the wrong destination is recognised at once.
    body = struct.pack("!HH", i, seq) + lab.payload_for(f"many{i}", seq, PAYLOAD - 4)
    return lab.rtp_packet(seq, seq * 160, 0x10000 + i, payload=body)


def test_create(t, app):
    import grpc
    failed = []
    for i in range(S):
        code, details, _ = lab.rpc_status(app.stub.CreateSession,
                                          udp_session(sid(i), listen(i), forward(i), dest(i)))
        if code != grpc.StatusCode.OK:
            failed.append(f"{sid(i)}: {code.name} {details}")
    t.check(not failed, f"{S} sessions created", "; ".join(failed[:5]))
    pb = lab.pb2()
    ls = app.stub.ListSessions(pb.ListSessionsRequest())
    t.eq(len(ls.sessions), S, "ListSessions returns them all")
    t.eq(app.proxy_stats().sessions_active, S, "sessions_active")


def test_traffic(t, L, app):
    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rxs = []
    for i in range(S):
        rxs.append(lab.udp_socket(L, "dst", bind=dest(i), rcvbuf=False))
    by_fd = {s.fileno(): i for i, s in enumerate(rxs)}
    got = [[] for _ in range(S)]

    def drain_all():
        for i, s in enumerate(rxs):
            got[i].extend(lab.drain(s))

    try:
        # The first packet alone, so the appliance resolves 198.18.2.2 before the rush.
        tx.sendto(packet(0, 0), listen(0))
        got[0].extend(lab.recv_all(rxs[0], 1, 10))
        items = [(packet(i, seq), listen(i)) for seq in range(P) for i in range(S)
                 if (i, seq) != (0, 0)]
        lab.send_paced(tx, items, between=drain_all)
        deadline = time.monotonic() + 10
        while sum(map(len, got)) < S * P and time.monotonic() < deadline:
            r, _, _ = select.select(rxs, [], [], max(0.0, deadline - time.monotonic()))
            for s in r:
                got[by_fd[s.fileno()]].extend(lab.drain(s))
        time.sleep(0.3)
        drain_all()

        total = sum(map(len, got))
        t.eq(total, S * P, f"{S * P} packets relayed in all")
        wrong_count, wrong_data, wrong_src = [], [], []
        for i in range(S):
            want = [packet(i, seq) for seq in range(P)]
            data = [d for d, _ in got[i]]
            if len(data) != P:
                wrong_count.append(f"{sid(i)}: {len(data)}")
            elif data != want:
                wrong_data.append(sid(i))
            if any(a != forward(i) for _, a in got[i]):
                wrong_src.append(sid(i))
        t.check(not wrong_count, f"every destination received exactly its {P}",
                ", ".join(wrong_count[:10]))
        t.check(not wrong_data, "every destination received only its own packets, in order",
                ", ".join(wrong_data[:10]))
        t.check(not wrong_src, "every packet came from its session's forward endpoint",
                ", ".join(wrong_src[:10]))
    finally:
        tx.close()
        for s in rxs:
            s.close()

    bad = []
    for i in range(S):
        st = app.session(sid(i)).stats
        b = P * (12 + PAYLOAD)
        if (st.packets_received, st.packets_sent, st.bytes_received, st.bytes_sent) != (P, P, b, b):
            bad.append(f"{sid(i)}: rx {st.packets_received} tx {st.packets_sent} "
                       f"rxB {st.bytes_received} txB {st.bytes_sent}")
    t.check(not bad, f"every session's stats say {P}/{P} packets, {P * (12 + PAYLOAD)} bytes",
            "; ".join(bad[:5]))


def test_destroy_all(t, app):
    pb = lab.pb2()
    import grpc
    failed = []
    for i in range(S):
        code, details, resp = lab.rpc_status(app.stub.DestroySession,
                                             pb.DestroySessionRequest(session_id=sid(i)))
        if code != grpc.StatusCode.OK or resp.session.state != pb.SESSION_STATE_CLOSED:
            failed.append(f"{sid(i)}: {code.name} {details}")
    t.check(not failed, f"{S} sessions destroyed", "; ".join(failed[:5]))
    t.eq(app.proxy_stats().sessions_active, 0, "sessions_active 0")
    t.eq(len(app.stub.ListSessions(pb.ListSessionsRequest()).sessions), 0, "ListSessions empty")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            t.run(f"create {S} sessions", test_create, t, app)
            t.run(f"{P} packets on each", test_traffic, t, L, app)
            t.run("destroy them all", test_destroy_all, t, app)
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("many_sessions", body)
