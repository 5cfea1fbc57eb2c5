#!/usr/bin/python3
"""e2e_gateway6: IPv6 destinations off the port's prefixes go through `[portN] gateway6`, for UDP
(the data plane resolves the gateway with NDP, no static neighbour) and for TCP (the kernel's
connection from the forward address uses the IPv6 default route rtpproxy installs in the port's
own table, selected by source address), with a global gateway6 and with a link-local one (as
routers usually are: the data plane asks for it from the port's link-local, the TAP's). Without
gateway6 such a destination is refused, naming the field.

The dst namespace plays the gateway (2001:db8:2::2, and its link-local) and also owns
2001:db8:3::3, a host "behind" it.
"""
import hashlib
import os
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI6_ADDR, DST6_ADDR, DST_MAC, DUT0_ADDR6, DUT1_ADDR6  # noqa: E402

BEHIND = "2001:db8:3::3"


def link_local(mac):
    """fe80:: + the modified EUI-64 of MAC (what the kernel gives an interface by default)."""
    b = bytes.fromhex(mac.replace(":", ""))
    eui = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:]
    return socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + bytes(6) + eui)


def config(gateway6):
    c = {s: dict(kv) for s, kv in lab.IPV6_CONFIG.items()}
    if gateway6:
        c["port1"]["gateway6"] = gateway6
    return c


def echo_server(L, addr, port):
    srv = L.socket_in("dst", socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    srv.settimeout(20)

    def serve():
        try:
            c, _ = srv.accept()
        except OSError:
            return
        with c:
            c.settimeout(20)
            while True:
                d = c.recv(65536)
                if not d:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(d)
    threading.Thread(target=serve, daemon=True).start()
    return srv


def tcp_echo_through(L, st, sid, listen, forward, dest, size):
    """A TCP session from LISTEN to DEST; SIZE random bytes echoed; the echo's sha256 matches."""
    pb = lab.pb2()
    st.CreateSession(pb.CreateSessionRequest(
        session_id=sid, transport=pb.TRANSPORT_TCP,
        listen_endpoint=lab.endpoint(*listen), forward_endpoint=lab.endpoint(*forward),
        destination_endpoint=lab.endpoint(*dest)))
    c = L.socket_in("cli", socket.AF_INET6, socket.SOCK_STREAM)
    c.settimeout(20)
    c.connect(listen)
    data = os.urandom(size)

    def send():
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
    threading.Thread(target=send, daemon=True).start()
    back = bytearray()
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            back += d
    except OSError as e:
        print(f"    client: {e}")
    c.close()
    return hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()


def through(t, L, gateway6, name, port_base):
    """UDP and TCP to BEHIND through GATEWAY6."""
    pb = lab.pb2()
    with lab.Appliance(L, config(gateway6)) as app:
        st = app.stub
        st.CreateSession(lab.udp_session(f"{name}-udp", (DUT0_ADDR6, port_base),
                                         (DUT1_ADDR6, port_base + 10000), (BEHIND, port_base + 20000)))
        rx = lab.udp_socket(L, "dst", bind=(BEHIND, port_base + 20000))
        tx = lab.udp_socket(L, "cli", bind=(CLI6_ADDR, 0))
        pkts = [lab.rtp_packet(i, i * 160, 0x6b7e, payload=lab.payload_for(name, i))
                for i in range(200)]
        got = lab.relay_exact(tx, rx, (DUT0_ADDR6, port_base), pkts, timeout=5)
        t.eq(len(got), 200, f"{name}: UDP via gateway6, every packet arrived")
        t.check(all(d == p for (d, _), p in zip(got, pkts)), f"{name}: UDP payloads byte-identical")
        t.check(all(a[0] == DUT1_ADDR6 and a[1] == port_base + 10000 for _, a in got),
                f"{name}: every packet from the forward endpoint")
        drops = st.GetProxyStats(pb.GetProxyStatsRequest()).drops
        t.eq(drops["no_neighbor"], 0, f"{name}: no no_neighbor drops (the gateway resolved by NDP)")
        s = st.GetSessionStatus(pb.GetSessionStatusRequest(session_id=f"{name}-udp")).session
        t.eq(s.state, pb.SESSION_STATE_ACTIVE, f"{name}: UDP session ACTIVE")

        srv = echo_server(L, BEHIND, port_base + 21000)
        t.check(tcp_echo_through(L, st, f"{name}-tcp", (DUT0_ADDR6, port_base + 1000),
                                 (DUT1_ADDR6, 0), (BEHIND, port_base + 21000), 1 << 20),
                f"{name}: TCP via gateway6, 1 MiB echoed exactly")
        s = st.GetSessionStatus(pb.GetSessionStatusRequest(session_id=f"{name}-tcp")).session
        t.eq(s.state, pb.SESSION_STATE_ACTIVE, f"{name}: TCP session ACTIVE")
        t.eq(s.stats.bytes_sent, 1 << 20, f"{name}: TCP stats.bytes_sent")
        srv.close()
        rx.close()
        tx.close()
        t.eq(app.stop(), 0, f"{name}: rtpproxy exit code")


def body(t):
    import grpc
    with lab.Lab(ipv6=True) as L:
        L.exec("dst", "ip", "-6", "addr", "add", f"{BEHIND}/128", "dev", "lo")
        with lab.Appliance(L, config(None)) as app:
            code, details, _ = lab.rpc_status(app.stub.CreateSession, lab.udp_session(
                "no-gw6", (DUT0_ADDR6, 20000), (DUT1_ADDR6, 30000), (BEHIND, 40000)))
            t.eq(code, grpc.StatusCode.INVALID_ARGUMENT, "no gateway6: off-link refused")
            t.check(details == f"destination_endpoint.address: {BEHIND} is not on an IPv6 subnet "
                    "of port1 (which owns the forward address) and port1 has no gateway6",
                    "no gateway6: the message names the field", details)
            t.eq(app.stop(), 0, "rtpproxy exit code (no gateway6)")
        through(t, L, DST6_ADDR, "global", 20000)
        through(t, L, link_local(DST_MAC), "link-local", 22000)


if __name__ == "__main__":
    lab.main_wrapper("gateway6", body)
