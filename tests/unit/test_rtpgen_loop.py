#!/usr/bin/python3
"""rtpgen_loop: rtpgen over a net_ring self-loop (the port's tx ring is its own rx ring), so
every figure it reports is known exactly: sent, received, lost, reordered, duplicated, the
hidden --test-* patterns that make it lose, duplicate and reorder on purpose, warm-up, pacing,
1M streams, a prepared session list, --json and the human summary, usage errors, --serve
(several phases in one process, one JSON line each, errors answered without stopping), and the
same over IPv6 and 802.1Q VLANs (tag required on receive: rx_wrong_vlan; VID 0 untagged).

usage: test_rtpgen_loop.py BUILD/app/rtpgen/rtpgen
No hugepages, no root needed beyond what EAL --no-huge asks for; each run has its own
--file-prefix. Prints "rtpgen_loop: N passed, M failed".
"""
import json
import os
import select
import subprocess
import sys
import tempfile

RTPGEN = sys.argv[1] if len(sys.argv) > 1 else "build/app/rtpgen/rtpgen"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, eq, summary  # noqa: E402
run_no = 0

JSON_KEYS = ("tx_pkts", "tx_dropped", "rx_pkts", "lost", "reordered", "duplicated", "tx_mpps",
             "rx_mpps", "lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us", "streams",
             "duration_s", "sessions_created", "creates_per_s")


def rtpgen(*args, vdevs=("net_ring0",), timeout=60):
    """Run rtpgen (bounded in time); returns (exit code, stdout, stderr)."""
    cmd = [RTPGEN, *eal_args(vdevs), "--", *args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode not in (0, 2):
        sys.stdout.write(f"    $ {' '.join(cmd)}\n    stderr: {p.stderr[-2000:]}\n")
    return p.returncode, p.stdout, p.stderr


def eal_args(vdevs):
    global run_no
    run_no += 1
    eal = ["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
           "--file-prefix", f"rtpgen{os.getpid()}_{run_no}", "--log-level", "warning"]
    for v in vdevs:
        eal += ["--vdev", v]
    return eal


class Server:
    """rtpgen --serve: phases sent as lines on its stdin, one JSON line back each."""

    def __init__(self, *args, vdevs=("net_ring0",)):
        self.cmd = [RTPGEN, *eal_args(vdevs), "--", "--serve", *args]
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, line, timeout=60):
        """One line in, one parsed JSON line out (None if nothing came in time)."""
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        out = self.p.stdout.readline() if ready else ""
        if not check(out.startswith("{") and out.endswith("}\n"),
                     f"--serve answered {line!r} with one JSON line", repr(out[-300:])):
            return {}
        return json.loads(out)

    def close(self, how=None, timeout=30):
        """End it (a line such as "quit", or EOF); returns (exit code, what it still printed)."""
        try:
            if how is not None:
                self.p.stdin.write(how + "\n")
            self.p.stdin.close()
            code = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            code = self.p.wait()
        rest = self.p.stdout.read()
        err = self.p.stderr.read()
        if code != 0:
            sys.stdout.write(f"    $ {' '.join(self.cmd)}\n    stderr: {err[-2000:]}\n")
        return code, rest


def run_json(*args, **kw):
    code, out, err = rtpgen(*args, "--json", **kw)
    check(code == 0, f"rtpgen {' '.join(args)}: exit 0", f"exit {code}: {err[-500:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not check(len(lines) == 1, "--json prints exactly one JSON object", out[-500:]):
        return {}
    try:
        d = json.loads(lines[0])
    except ValueError as e:
        check(False, "--json output parses", str(e))
        return {}
    missing = [k for k in JSON_KEYS if k not in d]
    check(not missing, "--json has every stable key", f"missing {missing}")
    return d


def check_counts(d, desc, tx, rx, lost=0, reordered=0, duplicated=0):
    eq((d.get("tx_pkts"), d.get("rx_pkts"), d.get("lost"), d.get("reordered"),
        d.get("duplicated")), (tx, rx, lost, reordered, duplicated),
       f"{desc}: (tx, rx, lost, reordered, duplicated)")
    eq((d.get("tx_dropped"), d.get("rx_bad"), d.get("rx_other"), d.get("late")), (0, 0, 0, 0),
       f"{desc}: nothing refused, bad, foreign or beyond the window")
    # the gratuitous ARPs before each phase come straight back on the loop, unanswered
    eq((d.get("rx_arp"), d.get("arp_replies")), (d.get("arp_announced"), 0),
       f"{desc}: the ARP announcements came back and were not answered")


def check_latency(d, desc):
    lat = [d.get(k, 0) for k in ("lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us")]
    check(all(v > 0 for v in lat), f"{desc}: latency percentiles > 0", str(lat))
    check(lat == sorted(lat), f"{desc}: p50 <= p99 <= p999 <= max", str(lat))


def test_serve():
    print("- --serve: phases from stdin in one process, the ports kept up in between")
    srv = Server("--tx-port", "0", "--no-arp")
    d = srv.ask("--streams 100 --count 10000")
    check_counts(d, "serve phase 1", 10000, 10000)
    check_latency(d, "serve phase 1")
    eq(d.get("streams"), 100, "phase 1: 100 streams")
    missing = [k for k in JSON_KEYS if k not in d]
    check(not missing, "phase 1: every stable key (no --json needed)", f"missing {missing}")
    eq(d.get("ports", [{}])[0].get("opackets"), 10000, "phase 1: the port counted its packets")
    d = srv.ask("--streams 7 --count 700 --test-skip-every 10 --rate 100000 --warmup 0.05")
    # each stream sends 0..110 without 9, 19, ...: 100 packets, 11 numbers lost
    check_counts(d, "serve phase 2 (own streams, pattern, warm-up)", 700, 700, lost=77)
    eq(d.get("rx_stale"), 0, "phase 2: nothing of phase 1 or the warm-up taken as its own")
    eq(d.get("ports", [{}])[0].get("opackets"),
       700 + d.get("warmup_tx_pkts", -1), "phase 2: port counters are this phase's")
    d = srv.ask("--streams 0")
    check("--streams" in d.get("error", ""), "a bad option: {\"error\": ...}", str(d))
    d = srv.ask("--tx-port 3")
    check("port 3" in d.get("error", ""), "a port not set up: {\"error\": ...}", str(d))
    for line in ("--serve", "--help", "--mbufs 4095", "--bogus 1"):
        check("error" in srv.ask(line), f"{line!r}: {{\"error\": ...}}")
    d = srv.ask("--streams 3 --count 300")
    check_counts(d, "after the errors, still serving", 300, 300)
    code, rest = srv.close("quit")
    eq((code, rest), (0, ""), "quit: exit 0, nothing more printed")

    print("- --serve: every port when none is named, each phase picks its own; EOF ends")
    srv = Server("--no-arp", vdevs=("net_ring0", "net_ring1"))
    d = srv.ask("--tx-port 1 --streams 10 --count 1000")
    check_counts(d, "phase on port 1", 1000, 1000)
    eq([p.get("name") for p in d.get("ports", [])], ["net_ring1"], "reports port 1 only")
    d = srv.ask("--tx-port 0 --rx-port 1 --streams 10 --count 1000")
    # a self-loop: what port 0 sends comes back on port 0, drained all the same
    check_counts(d, "phase on port 0 (every started port is drained)", 1000, 1000)
    eq(srv.close(), (0, ""), "EOF: exit 0")


V6 = ["--dst-base", "2001:db8:1::10", "--src", "2001:db8:1::2", "--sink-addr", "2001:db8:2::2"]


def check_vlan_counts(d, desc, tx, rx, wrong_vlan=0, lost=0):
    check_counts(d, desc, tx, rx, lost=lost)
    eq(d.get("rx_wrong_vlan"), wrong_vlan, f"{desc}: rx_wrong_vlan {wrong_vlan}")


def test_ipv6_vlan():
    print("- IPv6: 10000 packets over 100 streams come back exactly")
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000", *V6)
    check_vlan_counts(d, "IPv6", 10000, 10000)
    check_latency(d, "IPv6")
    eq(d.get("frame_len"), 234, "234-byte frames: Ethernet, IPv6 (40), UDP, RTP, 160")
    eq(d.get("arp_announced"), 2, "2 unsolicited NAs (--src, --sink-addr), back unanswered")

    print("- IPv6: lost, duplicated and reordered count exactly, 1000 streams on 16 addresses")
    for pat, kw in (("--test-skip-every", {"lost": 1100}), ("--test-dup-every", {"duplicated": 900}),
                    ("--test-swap-every", {"reordered": 1000})):
        d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000", pat, "10", *V6)
        check_counts(d, f"IPv6 {pat}", 10000, 10000, **kw)
    d = run_json("--tx-port", "0", "--streams", "1000", "--dst-addrs", "16", "--count", "20000",
                 "--dst-base", "2001:db8:1::ffff:fff0", "--src", "2001:db8:1::2")
    check_counts(d, "IPv6, 16 addresses across a 16-bit boundary", 20000, 20000)

    print("- VLAN: tagged on send, required on receive")
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000", "--tx-vlan", "100",
                 "--rx-vlan", "100")
    check_vlan_counts(d, "VLAN 100 both ways", 10000, 10000)
    eq(d.get("frame_len"), 218, "218-byte frames: the 4-byte tag")
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000", "--tx-vlan", "4094",
                 "--rx-vlan", "4094", "--test-swap-every", "10", *V6)
    check_counts(d, "IPv6 on VLAN 4094, swapped pairs", 10000, 10000, reordered=1000)
    eq((d.get("frame_len"), d.get("rx_wrong_vlan")), (238, 0), "IPv6 tagged: 238 bytes")
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000", "--tx-vlan", "100",
                 "--rx-vlan", "200")
    check_vlan_counts(d, "sent on 100, wanted 200", 1000, 0, wrong_vlan=1000, lost=1000)
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000", "--tx-vlan", "100")
    check_vlan_counts(d, "sent on 100, wanted untagged", 1000, 0, wrong_vlan=1000, lost=1000)
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000", "--rx-vlan", "100")
    check_vlan_counts(d, "sent untagged, wanted 100", 1000, 0, wrong_vlan=1000, lost=1000)
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000", "--tx-vlan", "0")
    check_vlan_counts(d, "priority-tagged (VID 0) counts as untagged", 1000, 1000)
    eq(d.get("frame_len"), 218, "VID 0: still a 4-byte tag")
    # one port, two VLANs: --src announced on the tx tag, --sink-addr on the rx tag
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000", "--tx-vlan", "100",
                 "--rx-vlan", "200", "--arp-addr", "198.18.3.3")
    eq((d.get("arp_announced"), d.get("rx_arp")), (4, 4),
       "one port, two tags: --src, --sink-addr, and --arp-addr on each tag")

    print("- mixed families: IPv4 streams, an IPv6 sink (announced with NDP)")
    d = run_json("--tx-port", "0", "--streams", "10", "--count", "1000",
                 "--sink-addr", "2001:db8:2::2", "--arp-addr", "2001:db8:2::3")
    check_counts(d, "IPv4 sent, IPv6 sink", 1000, 1000)
    eq(d.get("arp_announced"), 3, "an ARP for --src, NAs for --sink-addr and --arp-addr")

    print("- a prepared IPv6 session list")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("[2001:db8:1::10]:20000\n[2001:db8:1::10]:20002  # comment\n"
                "[2001:db8:1::1:7]:30000\n")
        f.flush()
        d = run_json("--tx-port", "0", "--sessions", f.name, "--count", "3000",
                     "--src", "2001:db8:1::2")
        check_counts(d, "IPv6 session list", 3000, 3000)
        eq(d.get("streams"), 3, "3 streams from the file")
    for body, line, what in (("[2001:db8:1::10]:20000\n2001:db8:1::11:20000\n", 2,
                              "IPv6 without brackets"),
                             ("[2001:db8:1::10]:20000\n[2001:db8:1::10]:0\n", 2, "port 0")):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as bad:
            bad.write(body)
            bad.flush()
            code, _, err = rtpgen("--tx-port", "0", "--sessions", bad.name,
                                  "--src", "2001:db8:1::2")
            eq(code, 1, f"a list with {what}: exit 1")
            check(f"{bad.name}:{line}:" in err, f"{what}: the error names the file and line",
                  err[-300:])
    for body, what in (("[2001:db8:1::10]:20000\n198.18.1.1:20000\n", "mixed families"),
                       ("[2001:db8:1::10]:20000\n[2001:db8:9::10]:20000\n", "two /96s")):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as bad:
            bad.write(body)
            bad.flush()
            code, _, err = rtpgen("--tx-port", "0", "--sessions", bad.name,
                                  "--src", "2001:db8:1::2")
            eq(code, 1, f"a list with {what}: exit 1")
            check("endpoint 2" in err, f"{what}: the error names the endpoint", err[-300:])

    print("- IPv6 and VLAN usage errors name their option")
    for args, opt in ((["--dst-base", "2001:db8::1"], "--src"),
                      (["--src", "2001:db8::1"], "--src"),
                      (["--payload", "1441", *V6], "--payload"),
                      (["--rx-vlan", "0"], "--rx-vlan"),
                      (["--tx-vlan", "4095"], "--tx-vlan"),
                      (["--dst-base", "2001:db8::zz"], "--dst-base"),
                      (["--dst-base", "2001:db8::ffff:ffff", "--src", "2001:db8::1",
                        "--dst-addrs", "2"], "--dst-base"),
                      (["--sink-addr", "2001:db8:2::2", "--create-sessions", "unix:/nonexistent"],
                       "--fwd-addr")):
        code, _, err = rtpgen("--tx-port", "0", *args)
        eq(code, 2, f"{' '.join(args)}: exit 2")
        check(f"rtpgen: {opt}" in err, f"{' '.join(args)}: the message names {opt}", err[-300:])

    print("- --serve: IPv4, IPv6 and tagged phases in one process")
    srv = Server("--tx-port", "0")
    d = srv.ask("--streams 10 --count 1000")
    check_counts(d, "serve IPv4", 1000, 1000)
    d = srv.ask("--streams 10 --count 1000 " + " ".join(V6))
    check_counts(d, "serve IPv6 after IPv4", 1000, 1000)
    d = srv.ask("--streams 10 --count 1000 --tx-vlan 7 --rx-vlan 7 " + " ".join(V6))
    check_vlan_counts(d, "serve IPv6 on VLAN 7", 1000, 1000)
    d = srv.ask("--streams 10 --count 1000")
    check_vlan_counts(d, "serve: untagged IPv4 again (nothing kept from the phase before)",
                      1000, 1000)
    eq(srv.close("quit"), (0, ""), "quit: exit 0")


def main():
    if not os.access(RTPGEN, os.X_OK):
        print(f"rtpgen_loop: {RTPGEN} not built")
        return 1

    print("- 10000 packets over 100 streams come back exactly")
    d = run_json("--tx-port", "0", "--rx-port", "0", "--streams", "100", "--count", "10000")
    check_counts(d, "plain", 10000, 10000)
    check_latency(d, "plain")
    eq((d.get("streams"), d.get("sessions_created"), d.get("creates_per_s")), (100, 0, 0),
       "streams 100, no sessions")
    check(d.get("tx_mpps", 0) > 0 and d.get("rx_mpps", 0) > 0 and d.get("duration_s", 0) > 0,
          "tx_mpps, rx_mpps and duration_s > 0")
    eq((d.get("frame_len"), d.get("bytes_per_stream")), (214, 32),
       "214-byte frames (160-byte payload), 32 bytes per stream")

    print("- a sender that skips one sequence number in 10: lost counts exactly")
    # every stream sends 100 packets numbered 0..110 without 9, 19, ..., 109: 11 lost each
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000",
                 "--test-skip-every", "10")
    check_counts(d, "skip 10", 10000, 10000, lost=1100)

    print("- a sender that duplicates one packet in 11: duplicated counts exactly")
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000",
                 "--test-dup-every", "10")
    check_counts(d, "dup 10", 10000, 10000, duplicated=900)

    print("- a sender that swaps two packets in 10: reordered counts exactly")
    d = run_json("--tx-port", "0", "--streams", "100", "--count", "10000",
                 "--test-swap-every", "10")
    check_counts(d, "swap 10", 10000, 10000, reordered=1000)

    eq(d.get("arp_announced"), 2, "announced --src and --sink-addr once (no warm-up)")

    print("- --no-arp: no announcement")
    d = run_json("--tx-port", "0", "--streams", "3", "--count", "300", "--no-arp")
    check_counts(d, "no-arp", 300, 300)
    eq(d.get("arp_announced"), 0, "nothing announced")

    print("- paced, after a warm-up that is not counted")
    d = run_json("--tx-port", "0", "--streams", "50", "--count", "10000", "--rate", "200000",
                 "--warmup", "0.1")
    check_counts(d, "paced", 10000, 10000)
    check_latency(d, "paced")
    check(d.get("warmup_tx_pkts", 0) > 0, "warm-up sent packets", str(d.get("warmup_tx_pkts")))
    eq(d.get("warmup_rx_pkts"), d.get("warmup_tx_pkts"), "warm-up: all of them came back")
    eq(d.get("rx_stale"), 0, "no warm-up packet counted as stale")
    eq(d.get("arp_announced"), 4, "announced before the warm-up and before the measurement")

    print("- bounded by --duration alone")
    d = run_json("--tx-port", "0", "--streams", "7", "--duration", "0.2", "--rate", "50000")
    tx = d.get("tx_pkts", 0)
    check(tx > 0, "sent something", str(tx))
    check_counts(d, "duration", tx, tx)

    print("- 1 000 000 streams, 2 packets each")
    d = run_json("--tx-port", "0", "--streams", "1000000", "--dst-addrs", "64",
                 "--count", "2000000")
    check_counts(d, "1M streams", 2000000, 2000000)
    eq(d.get("streams"), 1000000, "streams 1000000")

    print("- a prepared session list: one stream per line")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("# listen endpoints\n198.18.1.1:20000\n198.18.1.1:20002  # comment\n\n"
                "198.18.1.7:30000 forward and the rest ignored\n")
        f.flush()
        d = run_json("--tx-port", "0", "--sessions", f.name, "--count", "3000")
        check_counts(d, "session list", 3000, 3000)
        eq(d.get("streams"), 3, "3 streams from the file")
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as bad:
            bad.write("198.18.1.1:20000\n198.18.1.1\n")
            bad.flush()
            code, _, err = rtpgen("--tx-port", "0", "--sessions", bad.name)
            eq(code, 1, "a malformed list: exit 1")
            check(f"{bad.name}:2:" in err, "the error names the file and line", err[-300:])

    print("- the human summary")
    code, out, _ = rtpgen("--tx-port", "0", "--streams", "10", "--count", "1000")
    eq(code, 0, "exit 0")
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
    eq(lines.get("sent", [None, None])[1], "1000", "sent 1000")
    eq(lines.get("received", [None, None])[1], "1000", "received 1000")
    for k in ("lost", "reordered", "duplicated"):
        eq(lines.get(k, [None, None])[1], "0", f"{k} 0")
    check("latency" in lines, "a latency line")

    print("- usage errors")
    for args, what in ((["--streams", "10"], "no --tx-port"),
                       (["--tx-port", "0", "--streams", "0"], "--streams 0"),
                       (["--tx-port", "0", "--streams", "1000001"], "--streams 1000001"),
                       (["--tx-port", "0", "--payload", "10"], "--payload below the marker"),
                       (["--tx-port", "0", "--streams", "1000000"],
                        "1M streams on one address (ports run out)"),
                       (["--tx-port", "0", "--dst-mac", "zz"], "a bad MAC"),
                       (["--tx-port", "0", "--bogus"], "an unknown option"),
                       (["--tx-port", "0", "--test-skip-every", "3", "--test-dup-every", "3"],
                        "two test patterns")):
        code, _, err = rtpgen(*args)
        eq(code, 2, f"{what}: exit 2")
        check("rtpgen: " in err, f"{what}: a message", err[-200:])
    code, _, err = rtpgen("--tx-port", "5")
    eq(code, 1, "a port that does not exist: exit 1")
    code, out, _ = rtpgen("--help")
    check(code == 0 and "--create-sessions" in out, "--help: exit 0 and the usage")

    test_serve()
    test_ipv6_vlan()

    return summary("rtpgen_loop")


if __name__ == "__main__":
    sys.exit(main())
