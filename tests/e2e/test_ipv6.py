#!/usr/bin/python3
"""e2e_ipv6: IPv6 sessions and IPv4 <-> IPv6 interworking end to end (issue 13; API.md 1.5).

The lab with IPv6 (Lab(ipv6=True)): client 2001:db8:1::2 and 198.18.1.2, appliance port0
2001:db8:1::1 and 198.18.1.1, port1 2001:db8:2::1 and 198.18.2.1, destination 2001:db8:2::2 and
198.18.2.2. The appliance has no static neighbours: it resolves IPv6 next hops with NDP.

1. 1000 RTP packets IPv6 -> IPv6: exactly 1000 arrive, byte-identical and in order, from the
   forward endpoint; the session's stats count them; the appliance resolved the destination by
   NDP (no static neighbours; its MAC is in the destination's neighbour table; no no_neighbor
   drop).
2. IPv4 client -> IPv6 destination, bidirectional: 1000 each way, exact and byte-identical; the
   reverse arrives from the listen endpoint. Then the reverse mix (IPv6 client -> IPv4
   destination), the same.
3. `::` listens on IPv6 only: a session on [::]:P relays what the client sends to
   [2001:db8:1::1]:P; 0.0.0.0:P does not conflict with it, [2001:db8:1::1]:P does.
4. `ping -6` the appliance's addresses on both ports (ICMPv6 echo reaches the kernel).
5. The forbidden IPv6 destination classes (::1, ::, ff00::/8, fe80::/10, ::ffff:0:0/96, the
   appliance's own) and a forward address of the other family: INVALID_ARGUMENT naming the
   field.
6. TCP over IPv6, and across families both ways, and on a :: listen: 1 MiB echoed through
   each, sha256 equal; the echo server sees the connection from the forward address. A SYN to
   an IPv6 port no session listens on is filtered (drops[filtered]).
7. rtpproxyctl creates a session from [IPv6]:port endpoints and prints them back (text and
   --json); an unclosed bracket is refused naming the option.
8. tshark in the destination's namespace decodes 200 relayed IPv6 RTP packets (-d
   udp.port==N,rtp): 200 RTP, none malformed, UDP checksums verified good, hop limit 63 (the
   client's 64 minus one). (Probes from the destination's port first, until tshark shows one:
   it captures a moment after it says so.)
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
import test_tcp  # noqa: E402  (its echo server and clients)
from lab import (CLI6_ADDR, CLI_ADDR, DST6_ADDR, DST_ADDR, DST_IF, DUT0_ADDR,  # noqa: E402
                 DUT0_ADDR6, DUT1_ADDR, DUT1_ADDR6, DUT1_MAC, addr2, udp_session)

N = 1000
PAYLOAD = 160
MiB = 1 << 20
# both families in allowed_destinations (the lab's networks only)
CONFIG = dict(lab.IPV6_CONFIG,
              sessions={"allowed_destinations": "198.18.0.0/15, 2001:db8:2::/64"})


def first_mismatch(got, want):
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"first difference at packet {i}"
    return f"{len(got)} received vs {len(want)} sent"


def rtp_stream(tag, n, ssrc):
    return [lab.rtp_packet(i, i * 160, ssrc, payload=lab.payload_for(tag, i, PAYLOAD))
            for i in range(n)]


def relay_one_way(t, tx, rx, to, pkts, want_src, what):
    got = lab.relay_exact(tx, rx, to, pkts)
    data = [d for d, _ in got]
    t.eq(len(got), len(pkts), f"{what}: exactly {len(pkts)} received")
    t.check(data == pkts, f"{what}: byte-identical and in order", first_mismatch(data, pkts))
    t.eq({addr2(a) for _, a in got}, {want_src}, f"{what}: every packet from {want_src}")


def udp_case(t, L, app, sid, listen, forward, dest, client, bidir, n=N):
    """A UDP session LISTEN -> FORWARD -> DEST, CLIENT's traffic relayed (and back when BIDIR),
    its stats checked, then destroyed."""
    app.stub.CreateSession(udp_session(sid, listen, forward, dest, bidirectional=bidir))
    tx = lab.udp_socket(L, "cli", bind=(client, 0))
    rx = lab.udp_socket(L, "dst", bind=dest)
    try:
        relay_one_way(t, tx, rx, listen, rtp_stream(sid, n, 0x5EED6001), forward,
                      f"{sid} {listen[0]} -> {dest[0]}")
        if bidir:
            relay_one_way(t, rx, tx, forward, rtp_stream(sid + "-rev", n, 0x5EED6002), listen,
                          f"{sid} back {dest[0]} -> {client}")
        s = app.session(sid)
        want = n * (12 + PAYLOAD)
        t.eq((s.stats.packets_received, s.stats.packets_sent, s.stats.bytes_sent,
              s.stats.packets_dropped), (n, n, want, 0), f"{sid}: stats (received, sent, "
             "bytes_sent, dropped)")
        if bidir:
            t.eq((s.reverse_stats.packets_received, s.reverse_stats.packets_sent),
                 (n, n), f"{sid}: reverse_stats (received, sent)")
            t.eq((s.latched_source.address, s.latched_source.port), addr2(tx.getsockname()),
                 f"{sid}: latched_source is the client")
    finally:
        tx.close()
        rx.close()
        app.stub.DestroySession(lab.pb2().DestroySessionRequest(session_id=sid))


def test_udp6(t, L, app, ctx):
    udp_case(t, L, app, "six", (DUT0_ADDR6, 20000), (DUT1_ADDR6, 30000), (DST6_ADDR, 40000),
             CLI6_ADDR, bidir=False)
    # the destination never spoke: the appliance asked for its MAC (NS), which is how the
    # destination's kernel knows the appliance's
    out = lab.run(["ip", "-n", L.dst, "-6", "neigh", "show", "dev", DST_IF]).stdout
    t.check(DUT1_MAC in out, "NDP: the destination learned the appliance's MAC from its NS",
            out.strip())
    drops = dict(app.proxy_stats().drops)
    t.eq(drops.get("no_neighbor", 0), 0, "no no_neighbor drops (no static neighbours needed)")


def test_4to6(t, L, app, ctx):
    udp_case(t, L, app, "four-six", (DUT0_ADDR, 20002), (DUT1_ADDR6, 30002),
             (DST6_ADDR, 40002), CLI_ADDR, bidir=True)


def test_6to4(t, L, app, ctx):
    udp_case(t, L, app, "six-four", (DUT0_ADDR6, 20004), (DUT1_ADDR, 30004),
             (DST_ADDR, 40004), CLI6_ADDR, bidir=True)


def test_wildcard(t, L, app, ctx):
    pb = lab.pb2()
    port = 20006
    app.stub.CreateSession(udp_session("any6", ("::", port), (DUT1_ADDR6, 30006),
                                       (DST6_ADDR, 40006)))
    t.status(app.stub.CreateSession, udp_session("any4", ("0.0.0.0", port), (DUT1_ADDR, 30006),
                                                 (DST_ADDR, 40006)),
             pb_ok(), "0.0.0.0 and :: on one port do not conflict")
    t.status(app.stub.CreateSession, udp_session("spec6", (DUT0_ADDR6, port),
                                                 (DUT1_ADDR6, 30008), (DST6_ADDR, 40008)),
             status("ALREADY_EXISTS"), ":: conflicts with a specific IPv6 listen on its port",
             details_prefix="listen_endpoint")
    tx = lab.udp_socket(L, "cli", bind=(CLI6_ADDR, 0))
    rx = lab.udp_socket(L, "dst", bind=(DST6_ADDR, 40006))
    try:
        relay_one_way(t, tx, rx, (DUT0_ADDR6, port), rtp_stream("any6", 100, 0x5EED6003),
                      (DUT1_ADDR6, 30006), ":: listen: relayed")
    finally:
        tx.close()
        rx.close()
        for sid in ("any6", "any4"):
            app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))


def pb_ok():
    return status("OK")


def status(name):
    import grpc
    return getattr(grpc.StatusCode, name)


def test_ping6(t, L, app, ctx):
    t.eq(lab.ping(L, DUT0_ADDR6, ns="cli"), 3, f"ping -6 {DUT0_ADDR6} from cli: 3 of 3")
    t.eq(lab.ping(L, DUT1_ADDR6, ns="dst"), 3, f"ping -6 {DUT1_ADDR6} from dst: 3 of 3")


def test_forbidden(t, L, app, ctx):
    for dest, why in (("::1", "loopback"), ("::", "unspecified"), ("ff02::1", "multicast"),
                      ("ff0e::1234", "multicast"), ("fe80::2", "link-local"),
                      ("::ffff:198.18.2.2", "IPv4-mapped"), (DUT1_ADDR6, "own address"),
                      (DUT0_ADDR6, "own address")):
        t.status(app.stub.CreateSession, udp_session("bad", (DUT0_ADDR6, 20040),
                                                     (DUT1_ADDR6, 30040), (dest, 40040)),
                 status("INVALID_ARGUMENT"), f"destination {dest} ({why}) refused",
                 details_prefix="destination_endpoint.address")
    t.status(app.stub.CreateSession, udp_session("bad", (DUT0_ADDR6, 20040), (DUT1_ADDR, 30040),
                                                 (DST6_ADDR, 40040)),
             status("INVALID_ARGUMENT"), "forward IPv4 to an IPv6 destination refused",
             details_prefix="forward_endpoint.address")
    t.status(app.stub.CreateSession, udp_session("bad", (DUT0_ADDR6, 20040), ("::", 30040),
                                                 (DST6_ADDR, 40040)),
             status("INVALID_ARGUMENT"), "forward :: refused",
             details_prefix="forward_endpoint.address")
    t.status(app.stub.CreateSession, udp_session("bad", ("2001:db8:1::99", 20040),
                                                 (DUT1_ADDR6, 30040), (DST6_ADDR, 40040)),
             status("INVALID_ARGUMENT"), "a listen address the appliance does not own refused",
             details_prefix="listen_endpoint.address")
    t.status(app.stub.CreateSession, udp_session("bad", (DUT0_ADDR6, 20040),
                                                 (DUT1_ADDR6, 30040), ("2001:db8:3::5", 40040)),
             status("PERMISSION_DENIED"), "a destination outside allowed_destinations' IPv6 "
             "prefix refused", details_prefix="destination_endpoint.address")
    t.eq(len(app.stub.ListSessions(lab.pb2().ListSessionsRequest()).sessions), 0,
         "none of them was created")


def tcp_req(sid, listen, forward, dest):
    pb = lab.pb2()
    return pb.CreateSessionRequest(
        session_id=sid, transport=pb.TRANSPORT_TCP, listen_endpoint=lab.endpoint(*listen),
        forward_endpoint=lab.endpoint(*forward), destination_endpoint=lab.endpoint(*dest))


def tcp_case(t, L, app, sid, listen, forward, dest, echo, connect_to=None):
    pb = lab.pb2()
    data = os.urandom(MiB)
    app.stub.CreateSession(tcp_req(sid, listen, forward, dest))
    before = len(echo.accepted)
    try:
        (c,) = test_tcp.drive(test_tcp.make_clients(L, [(connect_to or listen, data, 1, True)]))
        t.eq((c.end, c.rx), ("eof", MiB), f"{sid}: 1 MiB echoed, then EOF")
        t.eq(c.rx_hash.hexdigest(), hashlib.sha256(data).hexdigest(), f"{sid}: sha256 equal")
        peers = [p[0] for p in echo.accepted[before:]]
        t.eq(peers, [forward[0]], f"{sid}: the destination saw one connection from "
             f"{forward[0]}")
        s = app.session(sid)
        t.eq((s.stats.bytes_received, s.reverse_stats.bytes_sent), (MiB, MiB),
             f"{sid}: stats count 1 MiB each way")
    finally:
        app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))


def test_tcp6(t, L, app, ctx):
    echo6 = ctx["echo6"] = test_tcp.EchoServer(L, 40050, addr=DST6_ADDR)
    echo4 = ctx["echo4"] = test_tcp.EchoServer(L, 40052, addr=DST_ADDR)
    tcp_case(t, L, app, "tcp6", (DUT0_ADDR6, 20050), (DUT1_ADDR6, 0), (DST6_ADDR, 40050), echo6)
    tcp_case(t, L, app, "tcp4to6", (DUT0_ADDR, 20052), (DUT1_ADDR6, 0), (DST6_ADDR, 40050),
             echo6)
    tcp_case(t, L, app, "tcp6to4", (DUT0_ADDR6, 20054), (DUT1_ADDR, 0), (DST_ADDR, 40052),
             echo4)
    # :: (the exception filter's IPv6 wildcard set lets the SYN through)
    tcp_case(t, L, app, "tcp-any6", ("::", 20056), (DUT1_ADDR6, 0), (DST6_ADDR, 40050), echo6,
             connect_to=(DUT0_ADDR6, 20056))
    # and nothing else: a SYN to a port no session listens on is filtered, the client times out
    before = dict(app.proxy_stats().drops).get("filtered", 0)
    (c,) = test_tcp.drive(test_tcp.make_clients(L, [((DUT0_ADDR6, 20058), b"x", 1, True)]),
                          timeout=2)
    t.eq(c.end, "timeout", "TCP to [2001:db8:1::1]:20058 (no session): no answer")
    t.check(dict(app.proxy_stats().drops).get("filtered", 0) > before,
            "counted under drops[filtered]")


def ctl(app, *args):
    exe = lab.BUILD_DIR / "control" / "rtpproxyctl"
    return subprocess.run([str(exe), "--server", f"unix:{app.sock}", "--timeout", "3000", *args],
                          capture_output=True, text=True, timeout=30)


def test_ctl(t, L, app, ctx):
    r = ctl(app, "create", "--id", "ctl6", "--listen", f"{DUT0_ADDR}:20070",
            "--forward", f"[{DUT1_ADDR6}]:30070", "--destination", f"[{DST6_ADDR}]:40070",
            "--bidirectional")
    t.eq(r.returncode, 0, f"rtpproxyctl create with [IPv6]:port endpoints ({r.stderr.strip()})")
    t.check(f"[{DST6_ADDR}]:40070" in r.stdout, "its output shows the destination as "
            "[IPv6]:port", r.stdout)
    r = ctl(app, "--json", "get", "ctl6")
    try:
        s = json.loads(r.stdout)["session"]
        eps = [(s[k]["address"], s[k]["port"]) for k in
               ("listen_endpoint", "forward_endpoint", "destination_endpoint")]
    except (ValueError, KeyError, TypeError) as e:
        eps = f"{e}: {r.stdout!r}"
    t.eq(eps, [(DUT0_ADDR, 20070), (DUT1_ADDR6, 30070), (DST6_ADDR, 40070)],
         "rtpproxyctl --json get: addresses as text")
    r = ctl(app, "create", "--listen", "[2001:db8:1::1:20072", "--forward",
            f"[{DUT1_ADDR6}]:30072", "--destination", f"[{DST6_ADDR}]:40072")
    t.check(r.returncode != 0 and "--listen" in r.stderr,
            "rtpproxyctl refuses an unclosed bracket, naming --listen", r.stderr.strip())
    t.eq(ctl(app, "destroy", "ctl6").returncode, 0, "rtpproxyctl destroy")


def test_tshark(t, L, app, ctx):
    n, port = 200, 40060
    pcap = Path(tempfile.mkdtemp(prefix="rtpproxy-ipv6-")) / "dst.pcap"
    # -P -l: a line per packet on stdout while writing the file, so the test knows when the
    # capture really runs (it starts a little after tshark says "Capturing on")
    cap = subprocess.Popen(
        ["ip", "netns", "exec", L.dst, "tshark", "-n", "-l", "-P", "-i", DST_IF, "-f",
         f"ip6 and udp port {port}", "-a", "duration:30", "-w", str(pcap)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said, lines = bytearray(), bytearray()
    os.set_blocking(cap.stderr.fileno(), False)
    os.set_blocking(cap.stdout.fileno(), False)

    def seen():
        said.extend(cap.stderr.read() or b"")
        lines.extend(cap.stdout.read() or b"")
        return lines.count(b"\n")

    rx = lab.udp_socket(L, "dst", bind=(DST6_ADDR, port))
    try:
        # probes from the destination's port (to the appliance's discard port) until tshark
        # has one: bounded in count and time
        probe = lab.rtp_packet(0, 0, 0x5EED60FF)
        for _ in range(100):
            rx.sendto(probe, (DUT1_ADDR6, 9))
            if lab.wait_until(seen, 0.2) or cap.poll() is not None:
                break
        probes = seen()
        t.check(probes > 0 and cap.poll() is None,
                "tshark captures in the destination namespace", said.decode(errors="replace"))
        rx.close()
        udp_case(t, L, app, "tshark6", (DUT0_ADDR6, 20060), (DUT1_ADDR6, 30060),
                 (DST6_ADDR, port), CLI6_ADDR, bidir=False, n=n)
        lab.wait_until(lambda: seen() >= probes + n or cap.poll() is not None, 10)
    finally:
        rx.close()
        if cap.poll() is None:
            cap.terminate()         # tshark closes the file properly on SIGTERM
        try:
            cap.wait(10)
        except subprocess.TimeoutExpired:
            cap.kill()
            cap.wait(5)
        seen()

    def fields(*extra):
        return lab.run(["tshark", "-n", "-r", str(pcap), "-o", "udp.check_checksum:TRUE",
                        "-d", f"udp.port=={port},rtp", *extra], timeout=60).stdout

    rows = [line.split("\t") for line in
            fields("-Y", f"rtp && udp.dstport == {port}", "-T", "fields", "-e", "rtp.seq", "-e", "ipv6.src",
                   "-e", "ipv6.hlim", "-e", "udp.checksum.status").splitlines()]
    if not t.eq(len(rows), n, f"tshark decodes {n} RTP packets"):
        print("    tshark said:", said.decode(errors="replace"), "pcap bytes:",
              pcap.stat().st_size if pcap.exists() else None, flush=True)
    t.eq([int(r[0]) for r in rows], list(range(n)), "RTP sequence numbers 0..n-1 in order")
    t.eq({r[1] for r in rows}, {DUT1_ADDR6}, f"from {DUT1_ADDR6}")
    t.eq({r[2] for r in rows}, {"63"}, "hop limit 63 (the client's 64 minus one)")
    t.eq({r[3] for r in rows}, {"1"}, "UDP checksum verified good (status 1) on every packet")
    bad = fields("-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields",
                 "-e", "frame.number").split()
    t.eq(bad, [], "no malformed packets, no warnings")


def body(t):
    with lab.Lab(ipv6=True) as L:
        ctx = {}
        try:
            with lab.Appliance(L, CONFIG) as app:
                for desc, fn in (
                        ("1000 RTP packets IPv6 -> IPv6, NDP", test_udp6),
                        ("IPv4 client -> IPv6 destination, bidirectional", test_4to6),
                        ("IPv6 client -> IPv4 destination, bidirectional", test_6to4),
                        (":: listen", test_wildcard),
                        ("ping -6 the appliance", test_ping6),
                        ("forbidden IPv6 destinations", test_forbidden),
                        ("TCP over IPv6 and across families", test_tcp6),
                        ("rtpproxyctl with IPv6 endpoints", test_ctl),
                        ("tshark decodes the relayed IPv6 RTP", test_tshark)):
                    s0 = time.monotonic()
                    t.run(desc, fn, t, L, app, ctx)
                    print(f"    ({time.monotonic() - s0:.2f} s)", flush=True)
        finally:
            for k in ("echo6", "echo4"):
                if k in ctx:
                    ctx[k].close()


if __name__ == "__main__":
    lab.main_wrapper("ipv6", body)
