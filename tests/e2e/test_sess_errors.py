#!/usr/bin/python3
"""e2e_sess_errors: every status code of API.md's table, each with a message that starts with
the proto path of the field at fault (API.md 1.1 "Errors").

The appliance runs with max_sessions 12, port_min..port_max 20000..20007 (4 even ports per
address for dynamic allocation), allowed_destinations 198.18.2.0/24 and 198.18.4.0/24, and
a gateway on port1 (198.18.2.254), so that 198.18.3.3 and 198.18.4.4 are both routable and
the allowlist is the only thing that tells them apart.
Static ports used here are outside the pool (21000+), except where the pool is the point.
After every rejected request nothing is left behind: no session, no port taken.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

MAX_SESSIONS = 12
PORT_MIN, PORT_MAX = 20000, 20007
CONFIG = {
    "sessions": {"max_sessions": str(MAX_SESSIONS), "port_min": str(PORT_MIN),
                 "port_max": str(PORT_MAX),
                 "allowed_destinations": "198.18.2.0/24, 198.18.4.0/24"},
    "port1": {"gateway": "198.18.2.254"},
}


def eps(k):
    return (DUT0_ADDR, 21000 + 2 * k), (DUT1_ADDR, 31000 + 2 * k), (DST_ADDR, 41000 + 2 * k)


def codes():
    import grpc
    return grpc.StatusCode


def list_ids(app):
    return [s.session_id for s in app.stub.ListSessions(lab.pb2().ListSessionsRequest()).sessions]


def test_invalid_argument(t, L, app):
    C = codes()
    pb = lab.pb2()
    l, f, d = eps(0)
    IA = C.INVALID_ARGUMENT
    cases = [
        ("missing listen_endpoint", udp_session("e", None, f, d), "listen_endpoint"),
        ("missing forward_endpoint", udp_session("e", l, None, d), "forward_endpoint"),
        ("missing destination_endpoint", udp_session("e", l, f, None), "destination_endpoint"),
        ('listen address "300.1.1.1"', udp_session("e", ("300.1.1.1", l[1]), f, d),
         "listen_endpoint.address"),
        ('forward address "" (empty)', udp_session("e", l, ("", f[1]), d),
         "forward_endpoint.address"),
        ('destination address "dst.example"', udp_session("e", l, f, ("dst.example", d[1])),
         "destination_endpoint.address"),
        ('destination address "198.18.2.2/24"', udp_session("e", l, f, ("198.18.2.2/24", d[1])),
         "destination_endpoint.address"),
        ("listen port 70000", udp_session("e", (l[0], 70000), f, d), "listen_endpoint.port"),
        ("forward port 65536", udp_session("e", l, (f[0], 65536), d), "forward_endpoint.port"),
        ("destination port 4294967295", udp_session("e", l, f, (d[0], 4294967295)),
         "destination_endpoint.port"),
        ("destination port 0", udp_session("e", l, f, (d[0], 0)), "destination_endpoint.port"),
        ("wildcard forward address 0.0.0.0", udp_session("e", l, ("0.0.0.0", f[1]), d),
         "forward_endpoint.address"),
        ("wildcard destination address 0.0.0.0", udp_session("e", l, f, ("0.0.0.0", d[1])),
         "destination_endpoint.address"),
        ("forward address not owned (198.18.2.9)", udp_session("e", l, ("198.18.2.9", f[1]), d),
         "forward_endpoint.address"),
        ("forward address of a peer (198.18.1.2)", udp_session("e", l, (CLI_ADDR, f[1]), d),
         "forward_endpoint.address"),
        ("listen address not owned (198.18.1.77)", udp_session("e", ("198.18.1.77", l[1]), f, d),
         "listen_endpoint.address"),
    ]
    for desc, req, field in cases:
        t.status(app.stub.CreateSession, req, IA, f"{desc} -> INVALID_ARGUMENT",
                 details_prefix=field)
    req = udp_session("e", l, f, d, enable_rtcp=True)
    req.transport = pb.TRANSPORT_TCP
    # Which field is "at fault" is a matter of view: enable_rtcp (asked for RTCP) or transport.
    t.status(app.stub.CreateSession, req, IA, "TCP with enable_rtcp -> INVALID_ARGUMENT",
             details_prefix=("enable_rtcp", "transport"))

    # a request that does not parse as CreateSessionRequest: raw bytes on the method
    raw = app.channel.unary_unary("/rtpproxy.RtpProxy/CreateSession",
                                  request_serializer=None, response_deserializer=None)
    got, details, _ = lab.rpc_status(raw, b"\x0a\xff\xff\xff\xff\x0f", timeout=5)
    t.check(got in (C.INVALID_ARGUMENT, C.INTERNAL),
            "bytes that are not a CreateSessionRequest -> INVALID_ARGUMENT (or INTERNAL)",
            f"got {got.name} {details!r}")
    t.eq(app.proxy_stats().sessions_active, 0, "the server still answers, nothing created")
    t.eq(list_ids(app), [], "no session left behind by the rejected requests")
    t.status(app.stub.CreateSession, udp_session("ok-0", l, f, d), C.OK,
             "the same endpoints are free: a valid request succeeds")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="ok-0"))


def test_already_exists(t, L, app):
    C = codes()
    pb = lab.pb2()
    AE = C.ALREADY_EXISTS
    l, f, d = eps(1)
    t.status(app.stub.CreateSession, udp_session("dup", l, f, d), C.OK, "create dup")
    l2, f2, d2 = eps(2)
    t.status(app.stub.CreateSession, udp_session("dup", l2, f2, d2), AE,
             "session_id already used -> ALREADY_EXISTS", details_prefix="session_id")
    t.status(app.stub.CreateSession, udp_session("x-l", l, f2, d2), AE,
             "listen address:port taken -> ALREADY_EXISTS", details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession, udp_session("x-f", l2, f, d2), AE,
             "forward address:port taken -> ALREADY_EXISTS", details_prefix="forward_endpoint")
    t.status(app.stub.CreateSession, udp_session("x-w", ("0.0.0.0", l[1]), f2, d2), AE,
             "wildcard listen on a port a specific listen has -> ALREADY_EXISTS",
             details_prefix="listen_endpoint")
    # the reverse: a wildcard listen first, then a specific one on the same port
    l3, f3, d3 = eps(3)
    t.status(app.stub.CreateSession, udp_session("wild", ("0.0.0.0", l3[1]), f3, d3), C.OK,
             "create a wildcard listen")
    t.status(app.stub.CreateSession, udp_session("x-s", l3, f2, d2), AE,
             "specific listen on a wildcard's port -> ALREADY_EXISTS",
             details_prefix="listen_endpoint")

    # RTCP: +1 of a session with enable_rtcp, and a new enable_rtcp whose +1 is taken
    lr, fr, dr = eps(4)
    t.status(app.stub.CreateSession, udp_session("rtcp", lr, fr, dr, enable_rtcp=True), C.OK,
             "create an RTCP session")
    t.status(app.stub.CreateSession, udp_session("x-r1", (lr[0], lr[1] + 1), f2, d2), AE,
             "listen on an RTCP session's listen+1 -> ALREADY_EXISTS",
             details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession, udp_session("x-r2", l2, (fr[0], fr[1] + 1), d2), AE,
             "forward on an RTCP session's forward+1 -> ALREADY_EXISTS",
             details_prefix="forward_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("x-r3", (l[0], l[1] - 1), f2, d2, enable_rtcp=True), AE,
             "enable_rtcp whose listen+1 is another session's listen -> ALREADY_EXISTS",
             details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("x-r4", l2, (f[0], f[1] - 1), d2, enable_rtcp=True), AE,
             "enable_rtcp whose forward+1 is another session's forward -> ALREADY_EXISTS",
             details_prefix="forward_endpoint")
    t.eq(sorted(list_ids(app)), ["dup", "rtcp", "wild"], "rejected requests left nothing")
    # a rejected forward must not keep the listen it had taken (and the reverse)
    t.status(app.stub.CreateSession, udp_session("ok-2", l2, f2, d2), C.OK,
             "endpoints named in rejected requests are still free")
    for sid in ("dup", "rtcp", "wild", "ok-2"):
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))


def test_not_found(t, L, app):
    C = codes()
    pb = lab.pb2()
    t.status(app.stub.GetSessionStatus, pb.GetSessionStatusRequest(session_id="nope"),
             C.NOT_FOUND, "GetSessionStatus unknown id -> NOT_FOUND", details_prefix="session_id")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="nope"),
             C.NOT_FOUND, "DestroySession unknown id -> NOT_FOUND", details_prefix="session_id")
    t.status(app.stub.GetSessionStatus, pb.GetSessionStatusRequest(session_id=""),
             C.NOT_FOUND, "GetSessionStatus empty id -> NOT_FOUND", details_prefix="session_id")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="x" * 300),
             C.NOT_FOUND, "DestroySession 300-character id -> NOT_FOUND",
             details_prefix="session_id")


def test_resource_exhausted(t, L, app):
    C = codes()
    pb = lab.pb2()
    RE = C.RESOURCE_EXHAUSTED
    t.eq(list_ids(app), [], "no sessions before")
    # the pool 20000..20007 holds 4 even ports per address
    made = []
    for i in range(4):
        code, det, r = lab.rpc_status(app.stub.CreateSession,
                                      udp_session(f"dyn-{i}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                                  (DST_ADDR, 42000 + i)))
        t.eq(code, C.OK, f"dynamic session {i} of 4", )
        if r is not None:
            made.append((r.session.listen_endpoint.port, r.session.forward_endpoint.port))
    ports = [p for pair in made for p in pair]
    t.check(all(p % 2 == 0 and PORT_MIN <= p <= PORT_MAX for p in ports),
            "dynamic ports even, inside 20000..20007", str(made))
    t.eq(sorted(p for p, _ in made), [20000, 20002, 20004, 20006], "the 4 even listen ports")
    t.status(app.stub.CreateSession,
             udp_session("dyn-x", (DUT0_ADDR, 0), (DUT1_ADDR, 0), (DST_ADDR, 42009)), RE,
             "a 5th dynamic listen port -> RESOURCE_EXHAUSTED", details_prefix="listen_endpoint")
    l, f, d = eps(5)
    t.status(app.stub.CreateSession, udp_session("dyn-y", l, (DUT1_ADDR, 0), d), RE,
             "static listen, 5th dynamic forward port -> RESOURCE_EXHAUSTED",
             details_prefix="forward_endpoint")
    t.status(app.stub.CreateSession, udp_session("stat", l, f, d), C.OK,
             "the static listen port of the failed request was given back")
    t.eq(sorted(list_ids(app)), ["dyn-0", "dyn-1", "dyn-2", "dyn-3", "stat"], "5 sessions")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="dyn-1"))
    code, det, r = lab.rpc_status(app.stub.CreateSession,
                                  udp_session("dyn-again", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                              (DST_ADDR, 42010)))
    t.eq(code, C.OK, "after a destroy the pool has a port again")
    if r is not None:
        t.eq((r.session.listen_endpoint.port, r.session.forward_endpoint.port), made[1],
             "the freed pair is the one given out")

    # max_sessions 12: 5 exist, 7 more fit, the 13th does not
    for i in range(MAX_SESSIONS - 5):
        t.status(app.stub.CreateSession, udp_session(f"fill-{i}", *eps(10 + i)), C.OK,
                 f"session {6 + i} of {MAX_SESSIONS}")
    t.eq(app.proxy_stats().sessions_active, MAX_SESSIONS, f"{MAX_SESSIONS} sessions active")
    t.status(app.stub.CreateSession, udp_session("over", *eps(30)), RE,
             f"session {MAX_SESSIONS + 1} of max_sessions {MAX_SESSIONS} -> RESOURCE_EXHAUSTED "
             "(message names max_sessions)", details_contains="max_sessions")
    t.status(app.stub.CreateSession,
             udp_session("over-dyn", (DUT0_ADDR, 0), (DUT1_ADDR, 0), (DST_ADDR, 42011)), RE,
             "also with dynamic ports -> RESOURCE_EXHAUSTED", details_contains="max_sessions")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="fill-0"))
    t.status(app.stub.CreateSession, udp_session("over", *eps(30)), C.OK,
             "after one destroy there is room for one")
    for sid in list_ids(app):
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))


def test_permission_denied(t, L, app):
    C = codes()
    pb = lab.pb2()
    l, f, _ = eps(6)
    t.status(app.stub.CreateSession, udp_session("far-ok", l, f, ("198.18.4.4", 40000)), C.OK,
             "198.18.4.4 (allowed, off-subnet, via port1's gateway) -> OK")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="far-ok"))
    t.status(app.stub.CreateSession, udp_session("far-no", l, f, ("198.18.3.3", 40000)),
             C.PERMISSION_DENIED, "198.18.3.3 (routable the same way, not allowed) -> "
             "PERMISSION_DENIED", details_prefix="destination_endpoint.address")
    t.status(app.stub.CreateSession, udp_session("near-no", l, f, ("198.18.1.2", 40000)),
             C.PERMISSION_DENIED, "198.18.1.2 (the client's subnet, not allowed) -> "
             "PERMISSION_DENIED", details_prefix="destination_endpoint.address")
    t.eq(list_ids(app), [], "nothing left behind")
    t.status(app.stub.CreateSession, udp_session("near-ok", l, f, (DST_ADDR, 40000)), C.OK,
             "198.18.2.2 (allowed) on the same endpoints -> OK")
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="near-ok"))


def test_messages_readable(t, L, app):
    """Every message is one readable line (no NUL, no newline), a handful of words."""
    C = codes()
    l, f, d = eps(7)
    _, det, _ = lab.rpc_status(app.stub.CreateSession,
                               udp_session("m", ("300.1.1.1", l[1]), f, d))
    t.check("300.1.1.1" in det, "the message quotes the bad value", repr(det))
    t.check("\n" not in det and "\0" not in det and len(det) < 300,
            "one line, under 300 characters", repr(det))
    del C


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L, config=CONFIG) as app:
            t.run("INVALID_ARGUMENT", test_invalid_argument, t, L, app)
            t.run("ALREADY_EXISTS", test_already_exists, t, L, app)
            t.run("NOT_FOUND", test_not_found, t, L, app)
            t.run("RESOURCE_EXHAUSTED: port pool and max_sessions", test_resource_exhausted,
                  t, L, app)
            t.run("PERMISSION_DENIED: allowed_destinations", test_permission_denied, t, L, app)
            t.run("messages", test_messages_readable, t, L, app)
            t.run("server alive after all that", lambda: t.check(
                app.proxy_stats().uptime_ms > 0, "GetProxyStats answers"))
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("sess_errors", body)
