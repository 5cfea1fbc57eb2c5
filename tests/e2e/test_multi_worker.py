#!/usr/bin/python3
"""e2e_multi_worker: workers = 2, two rx/tx queues per port (net_af_packet qpairs=2, whose
kernel fanout hashes each 5-tuple to one queue: not destination-only), so each worker polls its
own queue of every port and packets of one flow reach both workers. One writer per flow: each
flow has an owning worker and the other hands its packets over (lib/handoff.h).
- 40 sessions x 50 RTP packets from 40 client ports: every destination gets exactly its 50, the
  sessions' stats say so, both workers relayed some, the workers' counts sum to exactly what
  was relayed;
- 8 sessions whose client moves to another source port half-way (latching): exactly 50 each,
  counted exactly, and the destination's answers reach the new port;
- 4 wildcard listens (0.0.0.0), each fed from 6 source ports: exactly 50 each;
- handed_off > 0 (the ring was used), handoff_full = 0, and every packet counted once.
The VM has 2 cores: lcore 2 shares cpu 1 with lcore 1 (--lcores), which the workers' idle
naps make workable; this is a functional test, not a measurement.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT0_IF, DUT1_ADDR, DUT1_IF  # noqa: E402

N_SESSIONS = 40
N_PACKETS = 50
N_LATCH = 8                 # sessions whose client changes source port half-way
N_WILD = 4                  # wildcard listens
WILD_SOURCES = 6            # source ports feeding each wildcard listen
N_BACK = 10                 # destination -> moved client, per latching session
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
        for i in range(N_LATCH):
            st.CreateSession(pb.CreateSessionRequest(
                session_id=f"lt-{i}", listen_endpoint=ep(DUT0_ADDR, 24000 + 2 * i),
                forward_endpoint=ep(DUT1_ADDR, 34000 + 2 * i),
                destination_endpoint=ep(DST_ADDR, 44000 + 2 * i), bidirectional=True))
        for i in range(N_WILD):
            st.CreateSession(pb.CreateSessionRequest(
                session_id=f"wl-{i}", listen_endpoint=ep("0.0.0.0", 26000 + 2 * i),
                forward_endpoint=ep(DUT1_ADDR, 36000 + 2 * i),
                destination_endpoint=ep(DST_ADDR, 46000 + 2 * i)))
        # neighbours first: a burst to an unresolved next hop overflows the kernel's ARP queue,
        # which drops the oldest packets (the appliance would never see them)
        t.check(L.ping("cli", DUT0_ADDR) > 0 and L.ping("dst", DUT1_ADDR) > 0,
                "the client and the destination reach the appliance (ARP resolved)")
        rx = [lab.udp_socket(L, "dst", bind=(DST_ADDR, 42000 + 2 * i))
              for i in range(N_SESSIONS)]
        tx = [lab.udp_socket(L, "cli", bind=(CLI_ADDR, 5000 + i)) for i in range(N_SESSIONS)]
        lrx = [lab.udp_socket(L, "dst", bind=(DST_ADDR, 44000 + 2 * i)) for i in range(N_LATCH)]
        # each latching client: a first source port, then a second one half-way
        ltx = [[lab.udp_socket(L, "cli", bind=(CLI_ADDR, 6000 + 2 * i + m)) for m in (0, 1)]
               for i in range(N_LATCH)]
        wrx = [lab.udp_socket(L, "dst", bind=(DST_ADDR, 46000 + 2 * i)) for i in range(N_WILD)]
        wtx = [[lab.udp_socket(L, "cli", bind=(CLI_ADDR, 7000 + 10 * i + k))
                for k in range(WILD_SOURCES)] for i in range(N_WILD)]
        for k in range(N_PACKETS):
            for i in range(N_SESSIONS):
                tx[i].sendto(lab.rtp_packet(k, k * 160, 0x1000 + i, payload=bytes([i]) * 100),
                             (DUT0_ADDR, 22000 + 2 * i))
            for i in range(N_LATCH):
                ltx[i][k * 2 // N_PACKETS].sendto(
                    lab.rtp_packet(k, k * 160, 0x2000 + i, payload=bytes([100 + i]) * 100),
                    (DUT0_ADDR, 24000 + 2 * i))
            for i in range(N_WILD):
                wtx[i][k % WILD_SOURCES].sendto(
                    lab.rtp_packet(k, k * 160, 0x3000 + i, payload=bytes([200 + i]) * 100),
                    (DUT0_ADDR, 26000 + 2 * i))
            time.sleep(0.002)     # pacing (af_packet's rings), not synchronisation
        got = [lab.recv_all(r, N_PACKETS, 5) for r in rx]
        lgot = [lab.recv_all(r, N_PACKETS, 5) for r in lrx]
        wgot = [lab.recv_all(r, N_PACKETS, 5) for r in wrx]
        t.check(all(len(g) == N_PACKETS for g in got),
                f"every destination got exactly {N_PACKETS}",
                str(sorted({len(g) for g in got})))
        t.check(all(d[12:] == bytes([i]) * 100 for i, g in enumerate(got) for d, _ in g),
                "each got only its own payloads (no cross-talk between workers)")
        t.check(all(len(g) == N_PACKETS for g in lgot),
                f"every latching session's destination got exactly {N_PACKETS}",
                str([len(g) for g in lgot]))
        t.check(all(d[12:] == bytes([100 + i]) * 100 for i, g in enumerate(lgot) for d, _ in g),
                "latching sessions: only their own payloads")
        t.check(all(len(g) == N_PACKETS for g in wgot),
                f"every wildcard listen's destination got exactly {N_PACKETS}",
                str([len(g) for g in wgot]))
        t.check(all(d[12:] == bytes([200 + i]) * 100 for i, g in enumerate(wgot) for d, _ in g),
                "wildcard listens: only their own payloads")

        # the destination answers each latching session: to the client's second port
        for k in range(N_BACK):
            for i in range(N_LATCH):
                lrx[i].sendto(lab.rtp_packet(k, k * 160, 0x4000 + i, payload=b"b" * 40),
                              (DUT1_ADDR, 34000 + 2 * i))
            time.sleep(0.002)
        back = [lab.recv_all(ltx[i][1], N_BACK, 5) for i in range(N_LATCH)]
        t.check(all(len(b) == N_BACK for b in back),
                f"every moved client got exactly {N_BACK} answers on its new port",
                str([len(b) for b in back]))
        t.check(all(lab.drain(ltx[i][0]) == [] for i in range(N_LATCH)),
                "nothing went back to the old ports")

        def stats_of(sid):
            return st.GetSessionStatus(pb.GetSessionStatusRequest(session_id=sid)).session

        total = N_SESSIONS * N_PACKETS + (N_LATCH + N_WILD) * N_PACKETS + N_LATCH * N_BACK
        # the last counters are written after the packets left: poll until they add up
        lab.wait_until(lambda: sum(w.relayed for w in st.GetProxyStats(
            pb.GetProxyStatsRequest()).workers) >= total, 5)
        sent = 0
        for i in range(N_SESSIONS):
            sent += stats_of(f"mw-{i}").stats.packets_sent
        t.eq(sent, N_SESSIONS * N_PACKETS, "sessions' packets_sent, summed")
        exact = (N_PACKETS, N_PACKETS, 0)
        counts = {sid: (s.stats.packets_received, s.stats.packets_sent, s.stats.packets_dropped)
                  for sid, s in ((sid, stats_of(sid)) for sid in
                                 [f"mw-{i}" for i in range(N_SESSIONS)] +
                                 [f"lt-{i}" for i in range(N_LATCH)] +
                                 [f"wl-{i}" for i in range(N_WILD)])}
        bad = {k: v for k, v in counts.items() if v != exact}
        t.check(not bad, f"every session: received, sent, dropped = {exact}", str(bad))
        rev = [stats_of(f"lt-{i}").reverse_stats for i in range(N_LATCH)]
        t.check(all((r.packets_received, r.packets_sent, r.packets_dropped) == (N_BACK, N_BACK, 0)
                    for r in rev), f"latching sessions' reverse: ({N_BACK}, {N_BACK}, 0)",
                str([(r.packets_received, r.packets_sent, r.packets_dropped) for r in rev]))
        ps = st.GetProxyStats(pb.GetProxyStatsRequest())
        t.eq(len(ps.workers), 2, "GetProxyStats lists two workers")
        relayed = [w.relayed for w in ps.workers]
        handed = [w.handed_off for w in ps.workers]
        print(f"    relayed per worker: {relayed}, handed off: {handed}")
        t.check(all(r > 0 for r in relayed), "both workers relayed", str(relayed))
        t.eq(sum(relayed), total, "the workers' counts sum to what was relayed")
        # a flow's owner is (its local port / 2) mod workers (lib/flow.c): each worker relayed
        # exactly its own flows' packets, whichever queue they arrived on
        own = [0, 0]
        for i in range(N_SESSIONS):
            own[(22000 + 2 * i) // 2 % 2] += N_PACKETS
        for i in range(N_LATCH):
            own[(24000 + 2 * i) // 2 % 2] += N_PACKETS
            own[(34000 + 2 * i) // 2 % 2] += N_BACK
        for i in range(N_WILD):
            own[(26000 + 2 * i) // 2 % 2] += N_PACKETS
        t.eq(relayed, own, "each worker relayed exactly the packets of the flows it owns")
        t.check(sum(handed) > 0, "packets reached the worker not owning their flow and were "
                "handed over", str(handed))
        t.eq(dict(ps.drops).get("handoff_full", -1), 0, "drops[handoff_full]")
        # busy time: some TSC cycles per relayed packet, less than the whole uptime
        t.check(all(w.tsc_hz > 0 for w in ps.workers), "workers report the TSC frequency")
        for w in ps.workers:
            t.check(0 < w.busy_cycles < ps.uptime_ms * w.tsc_hz / 1000 + w.tsc_hz,
                    f"worker {w.index}: busy cycles within its uptime",
                    f"{w.busy_cycles} cycles, uptime {ps.uptime_ms} ms")
            t.check(w.busy_iterations <= w.iterations, f"worker {w.index}: busy <= all iterations")
        t.eq(app.stop(), 0, "rtpproxy exit code")
        log = app.log_path.read_text(errors="replace")
        for port in ("port0", "port1"):
            t.eq(log.count(f"{port}: the device cannot hash on the destination alone"), 1,
                 f"{port}: the start-up log says once that it hands off (no destination RSS)")


if __name__ == "__main__":
    lab.main_wrapper("multi_worker", body)
