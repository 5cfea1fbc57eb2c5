#!/usr/bin/python3
"""e2e_gateway: destinations off the port's subnet go through `[portN] gateway`, for UDP (the
data plane resolves the gateway's MAC itself) and for TCP (the kernel's connection from the
forward address uses the route rtpproxy installs for the port: a default via the gateway in the
port's own table, selected by source address).

The dst namespace plays the gateway (198.18.2.2) and also owns 198.18.3.3, a host "behind" it.
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


def echo_server(L, port):
    srv = L.socket_in("dst", socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((BEHIND, port))
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


def body(t):
    pb = lab.pb2()
    with lab.Lab() as L:
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
            st.CreateSession(pb.CreateSessionRequest(
                session_id="gw-tcp", transport=pb.TRANSPORT_TCP,
                listen_endpoint=lab.endpoint(DUT0_ADDR, 21000),
                forward_endpoint=lab.endpoint(DUT1_ADDR, 0),
                destination_endpoint=lab.endpoint(BEHIND, 41000)))
            c = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(20)
            c.connect((DUT0_ADDR, 21000))
            data = os.urandom(1 << 20)

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
            t.eq(hashlib.sha256(back).hexdigest(), hashlib.sha256(data).hexdigest(),
                 "TCP via the gateway: 1 MiB echoed exactly")
            s = st.GetSessionStatus(pb.GetSessionStatusRequest(session_id="gw-tcp")).session
            t.eq(s.state, pb.SESSION_STATE_ACTIVE, "TCP session ACTIVE")
            t.eq(s.stats.bytes_sent, len(data), "TCP stats.bytes_sent")
            c.close()
            srv.close()
            t.eq(app.stop(), 0, "rtpproxy exit code")


if __name__ == "__main__":
    lab.main_wrapper("gateway", body)
