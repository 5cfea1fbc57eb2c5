#!/usr/bin/python3
"""e2e_sess_limits_security: the request limits and forbidden destinations of API.md 1.3.

First appliance (default [grpc] limits, allowed_destinations = 0.0.0.0/1, 128.0.0.0/1, i.e.
everything, so that only the fixed rules refuse; max_message_bytes raised to 4 MiB so that
the big requests reach the request checks rather than grpc's size limit):
- every forbidden destination class is refused with INVALID_ARGUMENT naming
  destination_endpoint.address (loopback, 0/8, multicast, 240/4, 255.255.255.255, the broadcast
  of each of the appliance's subnets, its own addresses, an IPv6 literal), UDP and TCP; a TCP
  session aimed at its own listen endpoint too; nothing is left behind;
- labels: 33 labels, a 64-byte key, a 256-byte value, an empty key refused naming the label;
  32 labels of 63/255 bytes (the limits exactly) accepted and shown back; session_id of 65
  bytes or with a space refused, 64 bytes accepted; a generated id is a UUID v4;
  ListSessions' label_selector under the same limits;
- 2 MB of labels (many) and a 1 MiB value are refused, and 200 such refusals leave the
  resident memory (VmRSS) within a small bound;
- event streams: the 65th open stream is refused with RESOURCE_EXHAUSTED; a stream on one
  session ends with OK right after that session's `closed`.
Second appliance ([grpc] max_streams = 400, stream_queue = 64): 300 event streams that nobody
reads while 300 sessions come and go: every Create/Destroy answers promptly, memory stays
bounded, a stream that reads gets every `closed`, and the streams that never read end with
RESOURCE_EXHAUSTED ("stream fell behind").
"""
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

CONFIG = {
    "grpc": {"max_message_bytes": str(4 << 20)},
    "sessions": {"allowed_destinations": "0.0.0.0/1, 128.0.0.0/1"},
}
FLOOD_CONFIG = {
    "grpc": {"max_streams": "400", "stream_queue": "64"},
    "sessions": {"max_sessions": "1000"},
}
N_STREAMS, N_SESSIONS = 300, 300
RSS_BOUND = 8 << 20             # growth allowed over 200 refused 1-2 MB requests
FLOOD_RSS_BOUND = 32 << 20      # growth allowed with 300 streams stuck (~13 MB measured)
# ~450 bytes of events per session: 300 sessions are twice a 64 KiB stream window
LABEL = "n" * 200
PROMPT_S = 2.0                  # a Create/Destroy answers within this (its deadline is 10 s)
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def codes():
    import grpc
    return grpc.StatusCode


def list_ids(app):
    return [s.session_id for s in app.stub.ListSessions(lab.pb2().ListSessionsRequest()).sessions]


def rss(app):
    return lab.proc_rss_bytes(app.proc.pid)


def test_destinations(t, L, app):
    C = codes()
    pb = lab.pb2()
    l, f = (DUT0_ADDR, 21000), (DUT1_ADDR, 31000)
    cases = [
        ("127.0.0.1", "loopback"), ("127.1.2.3", "loopback"),
        ("0.1.2.3", "0.0.0.0/8"),
        ("224.0.0.5", "multicast"), ("239.1.1.1", "multicast"),
        ("240.0.0.1", "240.0.0.0/4"),
        ("255.255.255.255", "limited broadcast"),
        ("198.18.1.255", "broadcast address of 198.18.1.0/24 (port0)"),
        ("198.18.2.255", "broadcast address of 198.18.2.0/24 (port1)"),
        (DUT0_ADDR, "own address"), (DUT1_ADDR, "own address"),
    ]
    for transport in ("UDP", "TCP"):
        for addr, why in cases:
            req = udp_session("bad-dest", l, f, (addr, 4000))
            if transport == "TCP":
                req.transport = pb.TRANSPORT_TCP
            t.status(app.stub.CreateSession, req, C.INVALID_ARGUMENT,
                     f"{transport} destination {addr} -> INVALID_ARGUMENT ({why})",
                     details_prefix=f"destination_endpoint.address: {addr} ",
                     details_contains=why)
    # IPv6: the forbidden classes (API.md 1.3, 1.5), naming the field (the rest: e2e_ipv6)
    for addr in ("::1", "ff02::1", "fe80::1", "::ffff:127.0.0.1"):
        t.status(app.stub.CreateSession, udp_session("bad-dest", l, f, (addr, 4000)),
                 C.INVALID_ARGUMENT, f"destination {addr} -> INVALID_ARGUMENT",
                 details_prefix="destination_endpoint.address")
    # a TCP session aimed at its own listen endpoint (and one on the wildcard)
    for listen in ((DUT0_ADDR, 21002), ("0.0.0.0", 21004)):
        req = udp_session("self-loop", listen, (DUT1_ADDR, 0), (DUT0_ADDR, listen[1]))
        req.transport = pb.TRANSPORT_TCP
        t.status(app.stub.CreateSession, req, C.INVALID_ARGUMENT,
                 f"TCP listen {listen[0]}:{listen[1]} -> its own listen endpoint refused",
                 details_prefix="destination_endpoint.address", details_contains="own address")
    t.eq(list_ids(app), [], "nothing was created")
    # the neighbours of the forbidden addresses are fine (allowed_destinations: anything)
    for i, addr in enumerate((DST_ADDR, "198.18.2.254", "198.18.1.2")):
        sid = f"fine-{i}"
        req = udp_session(sid, (DUT0_ADDR, 21010 + 2 * i), (DUT1_ADDR if i < 2 else DUT0_ADDR,
                                                             31010 + 2 * i), (addr, 4000))
        code, details, _ = lab.rpc_status(app.stub.CreateSession, req)
        t.eq((code, details), (C.OK, ""), f"destination {addr} accepted")
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))


def test_labels_and_ids(t, L, app):
    C = codes()
    pb = lab.pb2()
    l, f, d = (DUT0_ADDR, 22000), (DUT1_ADDR, 32000), (DST_ADDR, 42000)
    IA = C.INVALID_ARGUMENT

    def req(sid="lbl", labels=None):
        r = udp_session(sid, l, f, d)
        for k, v in (labels or {}).items():
            r.labels[k] = v
        return r

    t.status(app.stub.CreateSession, req(labels={f"k{i}": "v" for i in range(33)}), IA,
             "33 labels -> INVALID_ARGUMENT", details_prefix="labels: 33 labels, at most 32")
    t.status(app.stub.CreateSession, req(labels={"k": "v" * 256}), IA,
             "a 256-byte value -> INVALID_ARGUMENT",
             details_prefix='labels["k"]: value is 256 bytes, at most 255')
    t.status(app.stub.CreateSession, req(labels={"k" * 64: "v"}), IA,
             "a 64-byte key -> INVALID_ARGUMENT", details_prefix='labels["kkkk',
             details_contains="key is 64 bytes, at most 63")
    t.status(app.stub.CreateSession, req(labels={"": "v"}), IA,
             "an empty key -> INVALID_ARGUMENT", details_prefix='labels[""]')
    t.status(app.stub.CreateSession, req(sid="x" * 65), IA,
             "a 65-byte session_id -> INVALID_ARGUMENT", details_prefix="session_id")
    for bad in ("has space", "a/b", "caf\u00e9", "semi;colon"):
        t.status(app.stub.CreateSession, req(sid=bad), IA,
                 f"session_id {bad!r} -> INVALID_ARGUMENT", details_prefix="session_id: ",
                 details_contains="[A-Za-z0-9._:-]")
    t.eq(list_ids(app), [], "nothing was created")

    # exactly at the limits: accepted and shown back whole
    big = {("%02d" % i) + "k" * 61: ("%03d" % i) + "v" * 252 for i in range(32)}
    sid = "A-z.0_9:" + "i" * 56
    code, details, resp = lab.rpc_status(app.stub.CreateSession, req(sid=sid, labels=big))
    t.eq((code, details), (C.OK, ""), "64-byte id of every allowed character, 32 labels of "
         "63/255 bytes: accepted")
    if resp is not None:
        t.eq(dict(app.session(sid).labels), big, "the labels come back whole")
        sel = pb.ListSessionsRequest()
        for k in list(big)[:32]:
            sel.label_selector[k] = big[k]
        t.eq([s.session_id for s in app.stub.ListSessions(sel).sessions], [sid],
             "ListSessions with 32 selector pairs at the limits finds it")
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))
    sel = pb.ListSessionsRequest()
    for i in range(33):
        sel.label_selector[f"k{i}"] = ""
    t.status(app.stub.ListSessions, sel, IA, "ListSessions with 33 selector pairs -> "
             "INVALID_ARGUMENT", details_prefix="label_selector: 33 labels, at most 32")
    sel = pb.ListSessionsRequest()
    sel.label_selector["k"] = "v" * 256
    t.status(app.stub.ListSessions, sel, IA, "ListSessions with a 256-byte selector value -> "
             "INVALID_ARGUMENT", details_prefix='label_selector["k"]: value is 256 bytes')

    # generated ids: UUID v4 text, all different
    ids = []
    for i in range(20):
        s = app.stub.CreateSession(req(sid="")).session
        ids.append(s.session_id)
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=s.session_id))
    t.check(all(UUID4.match(x) for x in ids) and len(set(ids)) == 20,
            "20 generated ids: distinct UUID v4 text", str(ids[:3]))


def test_big_requests(t, L, app):
    C = codes()
    l, f, d = (DUT0_ADDR, 23000), (DUT1_ADDR, 33000), (DST_ADDR, 43000)
    many = udp_session("big", l, f, d)
    for i in range(2000):           # 2000 x (16 + 1000) bytes: 2 MB
        many.labels["key-%012d" % i] = "v" * 1000
    huge = udp_session("big", l, f, d)
    huge.labels["k"] = "v" * (1 << 20)
    t.check(many.ByteSize() > 2_000_000 and huge.ByteSize() > 1 << 20,
            f"requests of {many.ByteSize()} and {huge.ByteSize()} bytes")
    t.status(app.stub.CreateSession, many, C.INVALID_ARGUMENT, "2 MB of labels -> "
             "INVALID_ARGUMENT", details_prefix="labels: 2000 labels, at most 32")
    t.status(app.stub.CreateSession, huge, C.INVALID_ARGUMENT, "a 1 MiB value -> "
             "INVALID_ARGUMENT", details_prefix='labels["k"]: value is 1048576 bytes')
    # warm up (grpc's buffers, malloc's arenas), then 200 more must not grow the process
    for i in range(20):
        lab.rpc_status(app.stub.CreateSession, many if i % 2 else huge)
    before = rss(app)
    codes_seen = set()
    t0 = time.monotonic()
    for i in range(200):
        code, _, _ = lab.rpc_status(app.stub.CreateSession, many if i % 2 else huge)
        codes_seen.add(code)
    took = time.monotonic() - t0
    after = rss(app)
    print(f"    VmRSS {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB over 200 refusals "
          f"({took:.1f} s)")
    t.eq(codes_seen, {C.INVALID_ARGUMENT}, "200 big requests all refused")
    t.check(after - before < RSS_BOUND, f"VmRSS grew by less than {RSS_BOUND >> 20} MiB",
            f"{(after - before) / 1e6:.1f} MB")
    t.eq(list_ids(app), [], "nothing was created")


def test_max_streams(t, L, app):
    """64 streams open (the default max_streams), the 65th refused; one ends, a new one is
    served, and a stream on one session ends OK right after its `closed`."""
    import grpc
    C = codes()
    pb = lab.pb2()
    ch = grpc.insecure_channel(f"unix:{app.sock}", options=[("grpc.use_local_subchannel_pool", 1)])
    stub = lab.Stub(ch, timeout=60)
    calls = []
    try:
        n_open = count_opened(app)
        for i in range(64):
            calls.append(stub.StreamSessionEvents(pb.StreamSessionEventsRequest()))
        t.check(lab.wait_until(lambda: count_opened(app) - n_open >= 64, 10),
                "64 streams opened (the server logged each)")
        extra = stub.StreamSessionEvents(pb.StreamSessionEventsRequest())
        try:
            got = next(extra)
            t.check(False, "the 65th stream is refused", f"it sent {got}")
        except grpc.RpcError as e:
            t.eq(e.code(), C.RESOURCE_EXHAUSTED, "the 65th stream -> RESOURCE_EXHAUSTED")
            t.check("max_streams" in (e.details() or ""), "its message names max_streams",
                    e.details())
        calls.pop().cancel()
        # a stream on one session: created, ..., closed, then OK
        sid = "one"
        app.stub.CreateSession(udp_session(sid, (DUT0_ADDR, 24000), (DUT1_ADDR, 34000),
                                           (DST_ADDR, 44000)))
        events, code = [], None

        def one_stream():
            nonlocal code
            try:
                for e in stub.StreamSessionEvents(pb.StreamSessionEventsRequest(session_id=sid),
                                                  timeout=20):
                    events.append(e)
                code = C.OK
            except grpc.RpcError as e:
                code = e.code()

        # the cancelled stream's slot frees asynchronously: retry while refused
        deadline = time.monotonic() + 10
        while True:
            events, code = [], None
            th = threading.Thread(target=one_stream, daemon=True)
            th.start()
            lab.wait_until(lambda: events or code is not None, 5)
            if code != C.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        t.check(events and events[0].WhichOneof("event") == "created",
                "a stream on one session is served once a slot is free", str(code))
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))
        th.join(10)
        kinds = [e.WhichOneof("event") for e in events]
        t.eq(kinds, ["created", "state_changed", "closed"],
             "the one-session stream: created, ->CLOSED, closed")
        t.eq(code, C.OK, "... then it ended with OK")
    finally:
        for c in calls:
            c.cancel()
        ch.close()


def count_opened(app):
    return len(re.findall(r"events: stream \d+ opened", app.log_text()))


def test_stream_flood(t, L, app):
    import grpc
    C = codes()
    pb = lab.pb2()
    rss0 = rss(app)
    # streams that never read, on a connection of their own with fixed 64 KiB stream windows
    # (no BDP growth): flow control stops each after its window, then its queue fills
    opts = [("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0)]
    quiet_ch = grpc.insecure_channel(f"unix:{app.sock}", options=opts)
    quiet_stub = lab.Stub(quiet_ch, timeout=120)
    read_ch = grpc.insecure_channel(f"unix:{app.sock}",
                                    options=[("grpc.use_local_subchannel_pool", 1)])
    read_stub = lab.Stub(read_ch, timeout=120)
    quiet = []
    try:
        n_open = count_opened(app)
        for i in range(N_STREAMS):
            quiet.append(quiet_stub.StreamSessionEvents(pb.StreamSessionEventsRequest()))
        closed, reasons, reader_code = [], [], []

        def reader(call):
            try:
                for e in call:
                    if e.WhichOneof("event") == "closed":
                        closed.append(e.session_id)
                        reasons.append(e.closed.reason)
                reader_code.append(C.OK)
            except grpc.RpcError as e:
                reader_code.append(e.code())

        rcall = read_stub.StreamSessionEvents(pb.StreamSessionEventsRequest())
        th = threading.Thread(target=reader, args=(rcall,), daemon=True)
        th.start()
        t.check(lab.wait_until(lambda: count_opened(app) - n_open >= N_STREAMS + 1, 20),
                f"{N_STREAMS} quiet streams and a reader opened")

        slowest, lat = 0.0, []
        failed = []
        t0 = time.monotonic()
        for i in range(N_SESSIONS):
            sid = f"flood-{i}"
            for call, req in (
                    (app.stub.CreateSession,
                     udp_session(sid, (DUT0_ADDR, 25000 + 2 * i), (DUT1_ADDR, 35000 + 2 * i),
                                 (DST_ADDR, 45000), labels={"note": LABEL})),
                    (app.stub.DestroySession, pb.DestroySessionRequest(session_id=sid))):
                c0 = time.monotonic()
                code, details, _ = lab.rpc_status(call, req)
                dt = time.monotonic() - c0
                lat.append(dt)
                slowest = max(slowest, dt)
                if code != C.OK:
                    failed.append((sid, code, details))
        took = time.monotonic() - t0
        lat.sort()
        print(f"    {N_SESSIONS} creates + destroys with {N_STREAMS} quiet streams: {took:.1f} s, "
              f"median {lat[len(lat) // 2] * 1e3:.1f} ms, p99 {lat[int(len(lat) * .99)] * 1e3:.1f}"
              f" ms, slowest {slowest * 1e3:.0f} ms")
        t.eq(failed, [], "every Create/Destroy answered OK")
        t.check(slowest < PROMPT_S, f"every Create/Destroy answered within {PROMPT_S} s",
                f"slowest {slowest:.2f} s")
        want = [f"flood-{i}" for i in range(N_SESSIONS)]
        t.check(lab.wait_until(lambda: len(closed) >= N_SESSIONS, 20),
                f"the reading stream got {N_SESSIONS} closed", f"{len(closed)}")
        t.eq(closed, want, "... every `closed`, in order")
        t.eq(reader_code, [], "the reading stream is still open")
        rss1 = rss(app)
        print(f"    VmRSS {rss0 / 1e6:.1f} MB -> {rss1 / 1e6:.1f} MB")
        t.check(rss1 - rss0 < FLOOD_RSS_BOUND, f"VmRSS grew by less than "
                f"{FLOOD_RSS_BOUND >> 20} MiB", f"{(rss1 - rss0) / 1e6:.1f} MB")

        # every quiet stream fell behind: after what got through, RESOURCE_EXHAUSTED (the
        # server gives each GRPC_SRV_BEHIND_GRACE_MS to drain, then cancels it with that)
        ended = {}
        behind_msgs = 0
        for call in quiet:
            n = 0
            try:
                for _ in call:
                    n += 1
                ended[C.OK] = ended.get(C.OK, 0) + 1
            except grpc.RpcError as e:
                ended[e.code()] = ended.get(e.code(), 0) + 1
                behind_msgs += "stream fell behind" in (e.details() or "")
        print(f"    quiet streams ended: { {k.name: v for k, v in ended.items()} }")
        t.eq(ended, {C.RESOURCE_EXHAUSTED: N_STREAMS},
             f"all {N_STREAMS} quiet streams ended with RESOURCE_EXHAUSTED")
        t.eq(behind_msgs, N_STREAMS, '... saying "stream fell behind"')
        t.check(lab.wait_until(lambda: app.stub.GetProxyStats(pb.GetProxyStatsRequest()), 5),
                "the appliance serves on")

        # shutdown with 100 sessions open: closing is paced to the small queue, so the
        # reader gets every closed{shutdown}, then OK
        for i in range(100):
            app.stub.CreateSession(udp_session(f"late-{i}", (DUT0_ADDR, 26000 + 2 * i),
                                               (DUT1_ADDR, 36000 + 2 * i), (DST_ADDR, 46000)))
        n0 = len(closed)
        t.eq(app.stop(), 0, "rtpproxy exits 0 on SIGTERM")
        th.join(20)
        t.eq(closed[n0:], [f"late-{i}" for i in range(100)],
             "the reader got closed for each of the 100 sessions at shutdown")
        t.eq(set(reasons[n0:]), {"shutdown"}, '... with reason "shutdown"')
        t.eq(reader_code, [C.OK], "... then its stream ended with OK")
    finally:
        for c in quiet:
            c.cancel()
        quiet_ch.close()
        read_ch.close()


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L, config=CONFIG) as app:
            t.run("forbidden destinations", test_destinations, t, L, app)
            t.run("labels and session ids", test_labels_and_ids, t, L, app)
            t.run("big requests and memory", test_big_requests, t, L, app)
            t.run("max_streams and a one-session stream", test_max_streams, t, L, app)
        with lab.Appliance(L, config=FLOOD_CONFIG, name="flood") as app:
            t.run("300 quiet streams while 300 sessions come and go", test_stream_flood, t, L,
                  app)


if __name__ == "__main__":
    lab.main_wrapper("sess_limits_security", body)
