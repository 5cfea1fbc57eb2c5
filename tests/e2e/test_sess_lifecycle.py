#!/usr/bin/python3
"""e2e_sess_lifecycle: idle timeout, closed-session retention, DestroySession of a closed
session, ListSessions filters and pagination (API.md 1.1 "Lifetime", ListSessionsRequest).

The appliance runs with `[sessions] closed_retention_secs = 3`.
- idle_timeout_secs 2: after the last packet the session is CLOSED within 2 + 1 s (not before
  2 s), keeps its final stats, frees its ports (a new session on the same listen/forward
  endpoints succeeds), stays visible while retained, then answers NOT_FOUND;
  a session that never saw a packet closes the same way;
- DestroySession of an idle-closed session returns it CLOSED with its final stats and removes
  it at once (NOT_FOUND right after);
- ERROR: a destination that never answers ARP -> ERROR with an error_message; its ports are
  free at once (another session takes them), DestroySession returns it CLOSED and does not
  free what the other session took; undestroyed, it expires after closed_retention_secs and
  sessions_active goes back down;
- ListSessions: states (CONNECTING / ACTIVE / CLOSED and combinations), transports,
  label_selector (labels stored and returned, every pair must match), and pagination: 25
  sessions, page_size 10 -> pages of 10, 10, 5 with no duplicates, in creation order.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

RETENTION = 3
CONFIG = {"sessions": {"closed_retention_secs": str(RETENTION)}}


def addrs(k):
    return (DUT0_ADDR, 20000 + 2 * k), (DUT1_ADDR, 30000 + 2 * k), (DST_ADDR, 40000 + 2 * k)


def state_name(s):
    return lab.pb2().SessionState.Name(s)


def get(app, sid):
    """(state name, SessionInfo) or ("NOT_FOUND", None)."""
    import grpc
    code, _, resp = lab.rpc_status(app.stub.GetSessionStatus,
                                   lab.pb2().GetSessionStatusRequest(session_id=sid))
    if code == grpc.StatusCode.NOT_FOUND:
        return "NOT_FOUND", None
    if code != grpc.StatusCode.OK:
        raise lab.LabError(f"GetSessionStatus {sid}: {code.name}")
    return state_name(resp.session.state), resp.session


def send_some(L, ctx, k, n):
    listen, _, dest = addrs(k)
    io = ctx.setdefault("io", {})
    if k not in io:
        io[k] = (lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0)), lab.udp_socket(L, "dst", bind=dest))
        ctx["socks"] += list(io[k])
    tx, rx = io[k]
    lab.drain(rx)
    pk = [lab.rtp_packet(i, i * 160, 0x1D1E + k, payload=lab.payload_for(f"l{k}", i))
          for i in range(n)]
    got = lab.relay_exact(tx, rx, listen, pk, settle=0)
    return len(got), time.monotonic()


def test_idle(t, L, app, ctx):
    import grpc
    pb = lab.pb2()
    C = grpc.StatusCode
    ps0 = app.proxy_stats()
    a = app.stub.CreateSession(udp_session("idle-a", *addrs(0), idle_timeout_secs=2)).session
    t.eq(a.idle_timeout_secs, 2, "idle-a: idle_timeout_secs 2 (effective value)")
    b = app.stub.CreateSession(udp_session("idle-b", *addrs(1), idle_timeout_secs=2)).session
    c_created = time.monotonic()
    c = app.stub.CreateSession(udp_session("idle-c", *addrs(2), idle_timeout_secs=2)).session
    d = app.stub.CreateSession(udp_session("default-timeout", *addrs(3))).session
    t.eq(d.idle_timeout_secs, 300, "idle_timeout_secs 0 -> the server default (300)")
    del b, c

    n_a, last_a = send_some(L, ctx, 0, 10)
    n_b, last_b = send_some(L, ctx, 1, 5)
    t.eq((n_a, n_b), (10, 5), "idle-a relayed 10, idle-b 5")

    # poll (bounded: 6 s) until the three short-timeout sessions are CLOSED
    closed_at = {}
    deadline = time.monotonic() + 6
    seen = {"idle-a": set(), "idle-b": set(), "idle-c": set()}
    while time.monotonic() < deadline and len(closed_at) < 3:
        for sid in ("idle-a", "idle-b", "idle-c"):
            if sid in closed_at:
                continue
            st, _ = get(app, sid)
            seen[sid].add(st)
            if st == "SESSION_STATE_CLOSED":
                closed_at[sid] = time.monotonic()
        time.sleep(0.05)
    for sid, since, what in (("idle-a", last_a, "its last packet"),
                             ("idle-b", last_b, "its last packet"),
                             ("idle-c", c_created, "its creation (no traffic)")):
        if sid not in closed_at:
            t.check(False, f"{sid} CLOSED within 2 + 1 s of {what}", "not CLOSED after 6 s")
            continue
        dt = closed_at[sid] - since
        t.check(dt <= 3.0, f"{sid} CLOSED within 2 + 1 s of {what}", f"after {dt:.2f} s")
        # the proxy saw the last packet after the test sent it: never closed before 2 s
        t.check(dt >= 1.9, f"{sid} not CLOSED before its 2 s timeout", f"after {dt:.2f} s")
    t.check("SESSION_STATE_ACTIVE" in seen["idle-a"] and "SESSION_STATE_ACTIVE" in seen["idle-b"],
            "idle-a and idle-b were ACTIVE (after traffic) before they closed", str(seen))
    t.check("SESSION_STATE_ACTIVE" not in seen["idle-c"] and "SESSION_STATE_ERROR" not in
            seen["idle-c"], "idle-c (no traffic) went from CONNECTING to CLOSED", str(seen))
    st, d = get(app, "default-timeout")
    t.eq(st, "SESSION_STATE_CONNECTING", "the 300 s default-timeout session is still open")

    st, a = get(app, "idle-a")
    t.eq(st, "SESSION_STATE_CLOSED", "idle-a visible as CLOSED while retained")
    if a is not None:
        t.eq((a.stats.packets_received, a.stats.packets_sent), (10, 10),
             "idle-a keeps its final stats")
    ps = app.proxy_stats()
    t.eq(ps.sessions_active - ps0.sessions_active, 1,
         "sessions_active counts only the session that is not CLOSED")
    t.eq(ps.sessions_closed_total - ps0.sessions_closed_total, 3, "sessions_closed_total +3")

    # its ports are free again
    t.status(app.stub.CreateSession, udp_session("idle-a2", *addrs(0)), C.OK,
             "a new session on idle-a's listen and forward endpoints succeeds")
    ctx["a_closed"] = closed_at.get("idle-a")

    # DestroySession of an idle-closed session: CLOSED with final stats, gone at once
    code, det, r = lab.rpc_status(app.stub.DestroySession,
                                  pb.DestroySessionRequest(session_id="idle-b"))
    t.eq(code, C.OK, "DestroySession of an idle-closed session -> OK", )
    if r is not None:
        t.eq(state_name(r.session.state), "SESSION_STATE_CLOSED", "returned state CLOSED")
        t.eq((r.session.stats.packets_received, r.session.stats.packets_sent,
              r.session.stats.bytes_received), (5, 5, 5 * 172),
             "returned with its final stats (5 packets, 860 bytes)")
    t.eq(get(app, "idle-b")[0], "NOT_FOUND", "idle-b removed at once: GetSessionStatus NOT_FOUND")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="idle-b"),
             C.NOT_FOUND, "idle-b: a second DestroySession -> NOT_FOUND",
             details_prefix="session_id")


def test_retention(t, L, app, ctx):
    closed = ctx.get("a_closed")
    if closed is None:
        t.check(False, "needs idle-a CLOSED")
        return
    # Retention is counted from the close; the close is seen up to one poll + one tick late.
    gone = lab.wait_until(lambda: get(app, "idle-a")[0] == "NOT_FOUND" and time.monotonic(),
                          RETENTION + 3, interval=0.1)
    if not gone:
        t.check(False, f"idle-a gone (NOT_FOUND) within closed_retention_secs {RETENTION} + 1 s",
                "still there")
        return
    dt = gone - closed
    t.check(dt <= RETENTION + 1.0,
            f"idle-a gone within closed_retention_secs ({RETENTION}) + 1 s of closing",
            f"after {dt:.2f} s")
    t.check(dt >= RETENTION - 0.5, f"idle-a retained about {RETENTION} s, not less",
            f"gone after {dt:.2f} s")
    ls = app.stub.ListSessions(lab.pb2().ListSessionsRequest())
    t.check("idle-a" not in {s.session_id for s in ls.sessions}, "and not listed any more")
    t.eq(get(app, "idle-c")[0], "NOT_FOUND", "idle-c (closed at about the same time) gone too")


def test_error(t, L, app, ctx):
    """A destination whose next hop never answers ARP: the session goes to ERROR (API.md 1.1:
    flows freed, id kept until destroyed or expired after closed_retention_secs)."""
    import grpc
    C = grpc.StatusCode
    pb = lab.pb2()
    nobody = "198.18.2.99"           # on the dst subnet of our lab; no host has it
    active0 = app.proxy_stats().sessions_active
    listen, fwd, _ = addrs(80)
    app.stub.CreateSession(udp_session("err-1", listen, fwd, (nobody, 40000)))
    st = lab.wait_until(lambda: get(app, "err-1")[0] in ("SESSION_STATE_ERROR",
                                                         "SESSION_STATE_CLOSED",
                                                         "NOT_FOUND") and get(app, "err-1")[0],
                        10, interval=0.1)
    t.eq(st, "SESSION_STATE_ERROR", f"destination {nobody} never answers ARP -> ERROR")
    if st != "SESSION_STATE_ERROR":
        return
    _, info = get(app, "err-1")
    t.check(info.error_message != "", "error_message says why", repr(info.error_message))
    print(f"    error_message: {info.error_message!r}")
    t.eq(list_ids(app, states=[pb.SESSION_STATE_ERROR]), ["err-1"], "ListSessions states [ERROR]")
    t.eq(app.proxy_stats().sessions_active, active0 + 1,
         "sessions_active counts the ERROR session (not yet CLOSED)")
    # its flows and ports are free: another session takes the same endpoints and relays
    t.status(app.stub.CreateSession, udp_session("err-2", listen, fwd, addrs(80)[2]), C.OK,
             "a new session on the ERROR session's listen/forward endpoints succeeds")
    n, _ = send_some(L, ctx, 80, 10)
    t.eq(n, 10, "and relays (10 of 10)")
    code, _, r = lab.rpc_status(app.stub.DestroySession,
                                pb.DestroySessionRequest(session_id="err-1"))
    t.eq(code, C.OK, "DestroySession of the ERROR session -> OK")
    if r is not None:
        t.eq(state_name(r.session.state), "SESSION_STATE_CLOSED", "returned in state CLOSED")
        t.eq(r.session.error_message, info.error_message, "with its error_message")
    t.eq(get(app, "err-1")[0], "NOT_FOUND", "removed at once")
    # destroying err-1 must not give away the ports err-2 now holds
    t.status(app.stub.CreateSession, udp_session("err-3", listen, addrs(81)[1], addrs(81)[2]),
             C.ALREADY_EXISTS, "err-2's listen endpoint is still taken after err-1 is destroyed",
             details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession, udp_session("err-4", addrs(81)[0], fwd, addrs(81)[2]),
             C.ALREADY_EXISTS, "err-2's forward endpoint is still taken too",
             details_prefix="forward_endpoint")
    n, _ = send_some(L, ctx, 80, 10)
    t.eq(n, 10, "err-2 still relays (10 of 10)")
    t.eq(app.proxy_stats().sessions_active, active0 + 1, "sessions_active: err-2 only")

    # an ERROR session that nobody destroys expires after closed_retention_secs
    app.stub.CreateSession(udp_session("err-5", *addrs(82)[:2], (nobody, 40002)))
    seen = lab.wait_until(lambda: get(app, "err-5")[0] == "SESSION_STATE_ERROR"
                          and time.monotonic(), 10, interval=0.1)
    t.check(seen, "err-5 -> ERROR")
    if not seen:
        return
    gone = lab.wait_until(lambda: get(app, "err-5")[0] == "NOT_FOUND" and time.monotonic(),
                          RETENTION + 3, interval=0.1)
    t.check(gone and gone - seen <= RETENTION + 1.0,
            f"err-5 gone within closed_retention_secs ({RETENTION}) + 1 s of its ERROR",
            f"after {gone - seen:.2f} s" if gone else "still there")
    t.eq(app.proxy_stats().sessions_active, active0 + 1,
         "sessions_active back to err-2 only once the ERROR session expired")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="err-2"))
    t.eq(app.proxy_stats().sessions_active, active0, "sessions_active as before the ERROR test")


def ids(resp):
    return [s.session_id for s in resp.sessions]


def list_ids(app, **kw):
    return ids(app.stub.ListSessions(lab.pb2().ListSessionsRequest(**kw)))


def test_filters(t, L, app, ctx):
    import grpc
    pb = lab.pb2()
    # start from nothing: what earlier steps left is destroyed
    for sid in list_ids(app):
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))
    t.eq(list_ids(app), [], "no sessions before the filter tests")

    conn = [f"lst-conn-{i}" for i in range(3)]
    act = [f"lst-act-{i}" for i in range(3)]
    closed = [f"lst-closed-{i}" for i in range(2)]
    labels = {}
    k = 10
    for sid in conn + act + closed:
        kind = sid.split("-")[1]
        lb = {"suite": "list", "kind": kind, "idx": sid[-1], "owner": "zoë / ops=1,2",
              "empty": ""}
        labels[sid] = lb
        req = udp_session(sid, *addrs(k), labels=lb,
                          idle_timeout_secs=1 if kind == "closed" else 0)
        ctx.setdefault("k", {})[sid] = k
        k += 1
        app.stub.CreateSession(req)
    for sid in act:
        n, _ = send_some(L, ctx, ctx["k"][sid], 1)
        t.eq(n, 1, f"{sid}: one packet relayed")
    ok = lab.wait_until(lambda: all(get(app, s)[0] == "SESSION_STATE_ACTIVE" for s in act)
                        and all(get(app, s)[0] == "SESSION_STATE_CLOSED" for s in closed), 4)
    t.check(ok, "3 sessions ACTIVE (traffic), 2 CLOSED (idle 1 s), 3 CONNECTING",
            str({s: get(app, s)[0] for s in conn + act + closed}))
    # Closed sessions are retained RETENTION (3) s: list them at once.
    S = pb
    t.eq(list_ids(app, states=[S.SESSION_STATE_CLOSED]), closed, "states [CLOSED]")
    t.eq(list_ids(app, states=[S.SESSION_STATE_CONNECTING]), conn, "states [CONNECTING]")
    t.eq(list_ids(app, states=[S.SESSION_STATE_ACTIVE]), act, "states [ACTIVE]")
    t.eq(list_ids(app, states=[S.SESSION_STATE_CONNECTING, S.SESSION_STATE_ACTIVE]),
         conn + act, "states [CONNECTING, ACTIVE], in creation order")
    t.eq(list_ids(app, states=[S.SESSION_STATE_ERROR]), [], "states [ERROR]: none")
    t.eq(list_ids(app), conn + act + closed, "no filter: every session, CLOSED included")
    t.eq(list_ids(app, transports=[S.TRANSPORT_UDP]), conn + act + closed, "transports [UDP]")
    t.eq(list_ids(app, transports=[S.TRANSPORT_TCP]), [], "transports [TCP]: none")
    t.eq(list_ids(app, transports=[S.TRANSPORT_TCP, S.TRANSPORT_UDP]), conn + act + closed,
         "transports [TCP, UDP]")
    t.eq(list_ids(app, label_selector={"kind": "act"}), act, "label_selector kind=act")
    t.eq(list_ids(app, label_selector={"suite": "list", "kind": "conn"}), conn,
         "label_selector suite=list, kind=conn (both must match)")
    t.eq(list_ids(app, label_selector={"suite": "list", "kind": "nope"}), [],
         "label_selector with one pair not matching: none")
    t.eq(list_ids(app, label_selector={"no-such-key": "x"}), [], "unknown label key: none")
    t.eq(list_ids(app, label_selector={"kind": "Act"}), [], "label values are case-sensitive")
    t.eq(list_ids(app, label_selector={"owner": "zoë / ops=1,2", "idx": "1"}),
         ["lst-conn-1", "lst-act-1", "lst-closed-1"], "label values with spaces, '=', ',' and "
         "non-ASCII match exactly")
    t.eq(list_ids(app, label_selector={"empty": ""}), conn + act + closed,
         "a label with an empty value is stored and matches")
    t.eq(list_ids(app, states=[S.SESSION_STATE_ACTIVE], label_selector={"kind": "conn"}), [],
         "states and label_selector combine (AND)")
    t.eq(list_ids(app, states=[S.SESSION_STATE_ACTIVE], label_selector={"idx": "2"}),
         ["lst-act-2"], "states [ACTIVE] and idx=2")

    got = {s.session_id: dict(s.labels)
           for s in app.stub.ListSessions(pb.ListSessionsRequest()).sessions}
    t.eq(got, labels, "ListSessions returns every session's labels as given")
    st, info = get(app, "lst-act-0")
    t.eq(dict(info.labels) if info else None, labels["lst-act-0"],
         "GetSessionStatus returns the labels as given")
    for sid in conn + act + closed:
        code, _, _ = lab.rpc_status(app.stub.DestroySession,
                                    pb.DestroySessionRequest(session_id=sid))
        if code != grpc.StatusCode.OK:
            t.check(False, f"destroy {sid}", code.name)


def test_pagination(t, L, app, ctx):
    pb = lab.pb2()
    t.eq(list_ids(app), [], "no sessions before the pagination test")
    names = [f"page-{i:02d}" for i in range(25)]
    for i, sid in enumerate(names):
        app.stub.CreateSession(udp_session(sid, *addrs(30 + i), labels={"suite": "page"}))
    pages, token = [], ""
    for _ in range(10):                     # bounded: 3 pages are expected
        r = app.stub.ListSessions(pb.ListSessionsRequest(page_size=10, page_token=token))
        pages.append(ids(r))
        token = r.next_page_token
        if not token:
            break
    t.eq([len(p) for p in pages], [10, 10, 5], "page_size 10 over 25 sessions: pages 10, 10, 5")
    flat = [s for p in pages for s in p]
    t.eq(len(set(flat)), len(flat), "no duplicates across pages")
    t.eq(flat, names, "every session once, in creation order")
    t.eq(token, "", "next_page_token empty on the last page")

    # the same through a filter that matches every other session
    for sid in names[1::2]:
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))
    for i, sid in enumerate(names[1::2]):
        app.stub.CreateSession(udp_session(sid + "-b", *addrs(60 + i), labels={"suite": "b"}))
    pages, token = [], ""
    for _ in range(10):
        r = app.stub.ListSessions(pb.ListSessionsRequest(page_size=5, page_token=token,
                                                         label_selector={"suite": "page"}))
        pages.append(ids(r))
        token = r.next_page_token
        if not token:
            break
    t.eq([len(p) for p in pages], [5, 5, 3], "filtered (13 of 25), page_size 5: 5, 5, 3")
    t.eq([s for p in pages for s in p], names[0::2], "filtered pages: the matches in order")

    r = app.stub.ListSessions(pb.ListSessionsRequest())
    t.eq(len(r.sessions), 25, "page_size 0 (server default 1000): all 25 in one page")
    t.eq(r.next_page_token, "", "and no next_page_token")
    r = app.stub.ListSessions(pb.ListSessionsRequest(page_size=25))
    t.eq((len(r.sessions), r.next_page_token), (25, ""),
         "page_size equal to the count: one page, no token")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L, config=CONFIG) as app:
            ctx = {"socks": []}
            try:
                t.run("idle timeout closes sessions and frees their ports", test_idle,
                      t, L, app, ctx)
                t.run("closed sessions are retained closed_retention_secs", test_retention,
                      t, L, app, ctx)
                t.run("ERROR: a destination that never answers ARP", test_error,
                      t, L, app, ctx)
                t.run("ListSessions filters", test_filters, t, L, app, ctx)
                t.run("ListSessions pagination", test_pagination, t, L, app, ctx)
            finally:
                for s in ctx["socks"]:
                    s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("sess_lifecycle", body)
