#!/usr/bin/python3
"""e2e_gateway: destinations off the port's subnet go through `[portN] gateway`, for UDP (the
data plane resolves the gateway's MAC itself) and for TCP (the kernel's connection from the
forward address uses the route rtpproxy installs for the port: a default via the gateway in the
port's own table, selected by source address).

The dst namespace plays the gateway (198.18.2.2) and also owns 198.18.3.3, a host "behind" it.

Then the gateways of the shipped config/rtpproxy.conf (198.18.1.254 and 198.18.2.254, hosts that
do not exist here): peers on the ports' own subnets must still be answered and reached directly
(ping both ways, UDP and TCP on-link), not sent to the absent gateways.
"""
import hashlib
import os
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR  # noqa: E402

BEHIND = "198.18.3.3"
CONFIG = {"port1": {"gateway": DST_ADDR}}
EXAMPLE_GATEWAYS = {"port0": {"gateway": "198.18.1.254"}, "port1": {"gateway": "198.18.2.254"}}


def echo_server(L, port):
    return echo_server_at(L, BEHIND, port)


def echo_server_at(L, addr, port):
    srv = L.socket_in("dst", socket.AF_INET, socket.SOCK_STREAM)
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
    c = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
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


def example_gateways(t, L):
    """The shipped config's gateways (absent hosts): on-link peers still work both ways."""
    with lab.Appliance(L, EXAMPLE_GATEWAYS) as app:
        t.eq(L.ping("cli", DUT0_ADDR), 3, "example gateways: ping port0 from the client subnet")
        t.eq(L.ping("dst", DUT1_ADDR), 3, "example gateways: ping port1 from the destination subnet")
        app.stub.CreateSession(lab.udp_session("ex-udp", (DUT0_ADDR, 20000), (DUT1_ADDR, 30000),
                                               (DST_ADDR, 40000)))
        rx = lab.udp_socket(L, "dst", bind=(DST_ADDR, 40000))
        tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        pkts = [lab.rtp_packet(i, i * 160, 0x6a7f, payload=lab.payload_for("ex", i))
                for i in range(100)]
        got = lab.relay_exact(tx, rx, (DUT0_ADDR, 20000), pkts, timeout=5)
        t.eq(len(got), 100, "example gateways: UDP on-link, every packet arrived")
        srv = echo_server_at(L, DST_ADDR, 41001)
        t.check(tcp_echo_through(L, app.stub, "ex-tcp", (DUT0_ADDR, 21001), (DUT1_ADDR, 0),
                                 (DST_ADDR, 41001), 256 << 10),
                "example gateways: TCP on-link, 256 KiB echoed exactly")
        srv.close()
        rx.close()
        tx.close()
        t.eq(app.stop(), 0, "rtpproxy exit code (example gateways)")


def body(t):
    pb = lab.pb2()
    with lab.Lab() as L:
        example_gateways(t, L)
        L.exec("dst", "ip", "addr", "add", f"{BEHIND}/32", "dev", "lo")
        with lab.Appliance(L, CONFIG) as app:
            st = app.stub
            # UDP: 200 packets to a host behind the gateway
            st.CreateSession(lab.udp_session("gw-udp", (DUT0_ADDR, 20000), (DUT1_ADDR, 30000),
                                             (BEHIND, 40000)))
            rx = lab.udp_socket(L, "dst", bind=(BEHIND, 40000))
            tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
            pkts = [lab.rtp_packet(i, i * 160, 0x6a7e, payload=lab.payload_for("gw", i))
                    for i in range(200)]
            got = lab.relay_exact(tx, rx, (DUT0_ADDR, 20000), pkts, timeout=5)
            t.eq(len(got), 200, "UDP via the gateway: every packet arrived")
            t.check(all(d == p for (d, _), p in zip(got, pkts)), "UDP payloads byte-identical")

            # TCP: 1 MiB echoed through a host behind the gateway
            srv = echo_server(L, 41000)
            t.check(tcp_echo_through(L, st, "gw-tcp", (DUT0_ADDR, 21000), (DUT1_ADDR, 0),
                                     (BEHIND, 41000), 1 << 20),
                    "TCP via the gateway: 1 MiB echoed exactly")
            s = st.GetSessionStatus(pb.GetSessionStatusRequest(session_id="gw-tcp")).session
            t.eq(s.state, pb.SESSION_STATE_ACTIVE, "TCP session ACTIVE")
            t.eq(s.stats.bytes_sent, 1 << 20, "TCP stats.bytes_sent")
            srv.close()
            t.eq(app.stop(), 0, "rtpproxy exit code")


if __name__ == "__main__":
    lab.main_wrapper("gateway", body)
