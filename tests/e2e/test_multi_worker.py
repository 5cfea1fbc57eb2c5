#!/usr/bin/python3
"""e2e_multi_worker: workers = 2, two rx/tx queues per port (net_af_packet qpairs=2, whose
kernel fanout hashes each 5-tuple to one queue), so each worker polls its own queue of every
port. 40 sessions x 50 RTP packets from 40 client ports: every destination gets exactly its
50, the sessions' stats say so, both workers relayed some, and the workers' counts sum to
exactly what was relayed. The VM has 2 cores: lcore 2 shares cpu 1 with lcore 1 (--lcores),
which the workers' idle naps make workable; this is a functional test, not a measurement.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT0_IF, DUT1_ADDR, DUT1_IF  # noqa: E402

N_SESSIONS = 40
N_PACKETS = 50
CONFIG = {
    "eal": {"args": "--lcores 0@0,1@1,2@1 --no-huge -m 512 --no-pci --no-shconf "
                    "--file-prefix {prefix}"},
    "dataplane": {"workers": "2"},
    "port0": {"device": f"net_af_packet0,iface={DUT0_IF},qpairs=2,framecnt=4096"},
    "port1": {"device": f"net_af_packet1,iface={DUT1_IF},qpairs=2,framecnt=4096"},
}


def body(t):
    pb = lab.pb2()
    with lab.Lab() as L, lab.Appliance(L, CONFIG) as app:
        st = app.stub
        ep = lambda a, p: pb.Endpoint(address=a, port=p)  # noqa: E731
        for i in range(N_SESSIONS):
            st.CreateSession(pb.CreateSessionRequest(
                session_id=f"mw-{i}", listen_endpoint=ep(DUT0_ADDR, 22000 + 2 * i),
                forward_endpoint=ep(DUT1_ADDR, 32000 + 2 * i),
                destination_endpoint=ep(DST_ADDR, 42000 + 2 * i)))
        rx = [lab.udp_socket(L, "dst", bind=(DST_ADDR, 42000 + 2 * i))
              for i in range(N_SESSIONS)]
        tx = [lab.udp_socket(L, "cli", bind=(CLI_ADDR, 5000 + i)) for i in range(N_SESSIONS)]
        for k in range(N_PACKETS):
            for i in range(N_SESSIONS):
                tx[i].sendto(lab.rtp_packet(k, k * 160, 0x1000 + i, payload=bytes([i]) * 100),
                             (DUT0_ADDR, 22000 + 2 * i))
            time.sleep(0.002)
        got = [lab.recv_all(r, N_PACKETS, 5) for r in rx]
        time.sleep(0.3)
        t.check(all(len(g) == N_PACKETS for g in got),
                f"every destination got exactly {N_PACKETS}",
                str(sorted({len(g) for g in got})))
        t.check(all(d[12:] == bytes([i]) * 100 for i, g in enumerate(got) for d, _ in g),
                "each got only its own payloads (no cross-talk between workers)")
        sent = 0
        for i in range(N_SESSIONS):
            s = st.GetSessionStatus(pb.GetSessionStatusRequest(session_id=f"mw-{i}")).session
            sent += s.stats.packets_sent
        t.eq(sent, N_SESSIONS * N_PACKETS, "sessions' packets_sent, summed")
        ps = st.GetProxyStats(pb.GetProxyStatsRequest())
        t.eq(len(ps.workers), 2, "GetProxyStats lists two workers")
        relayed = [w.relayed for w in ps.workers]
        print(f"    relayed per worker: {relayed}")
        t.check(all(r > 0 for r in relayed), "both workers relayed", str(relayed))
        t.eq(sum(relayed), N_SESSIONS * N_PACKETS, "the workers' counts sum to what was relayed")
        # busy time: some TSC cycles per relayed packet, less than the whole uptime
        t.check(all(w.tsc_hz > 0 for w in ps.workers), "workers report the TSC frequency")
        for w in ps.workers:
            t.check(0 < w.busy_cycles < ps.uptime_ms * w.tsc_hz / 1000 + w.tsc_hz,
                    f"worker {w.index}: busy cycles within its uptime",
                    f"{w.busy_cycles} cycles, uptime {ps.uptime_ms} ms")
            t.check(w.busy_iterations <= w.iterations, f"worker {w.index}: busy <= all iterations")
        t.eq(app.stop(), 0, "rtpproxy exit code")


if __name__ == "__main__":
    lab.main_wrapper("multi_worker", body)
