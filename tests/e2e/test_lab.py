#!/usr/bin/python3
"""e2e_lab: the test harness itself, with the kernel standing in for the appliance.

Checks the topology (scripts/lab.sh and lab.Lab), that the dut kernel keeps off DPDK's veth
ends, socket_in() across namespaces, the packet helpers (1000 RTP packets through a kernel
router, raw AF_PACKET frames), lab.Appliance's start/stop checks against a fake rtpproxy, and
teardown on SIGTERM. Runs without the data plane.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lab  # noqa: E402
from lab import (CLI_ADDR, CLI_IF, CLI_MAC, DST_ADDR, DST_IF, DST_MAC, DUT0_ADDR, DUT0_IF,  # noqa: E402
                 DUT0_MAC, DUT1_ADDR, DUT1_IF, DUT1_MAC)


def netns_inode():
    return os.stat("/proc/thread-self/ns/net").st_ino


def check_topology(t, L):
    names = set(lab._netns_list())
    for ns in L.namespaces():
        t.check(ns in names, f"namespace {ns} exists")
    for ns, ifc, mac, addr in ((L.cli, CLI_IF, CLI_MAC, CLI_ADDR + "/24"),
                               (L.dut, DUT0_IF, DUT0_MAC, None),
                               (L.dut, DUT1_IF, DUT1_MAC, None),
                               (L.dst, DST_IF, DST_MAC, DST_ADDR + "/24")):
        out = lab.run(["ip", "-n", ns, "-o", "addr", "show", "dev", ifc], check=False).stdout
        link = lab.run(["ip", "-n", ns, "-o", "link", "show", "dev", ifc], check=False).stdout
        t.check(mac in link and ("state UP" in link or "LOWER_UP" in link),
                f"{ns}/{ifc} is up with MAC {mac}", link.strip())
        if addr:
            t.check(f"inet {addr}" in out, f"{ns}/{ifc} has {addr}", out.strip())
        else:
            t.check("inet " not in out and "inet6" not in out, f"{ns}/{ifc} has no address",
                    out.strip())
    for ns, ifc in ((L.cli, CLI_IF), (L.dst, DST_IF)):
        feats = L.exec(ns, "ethtool", "-k", ifc).stdout
        for f in ("tx-checksumming", "rx-checksumming", "tcp-segmentation-offload",
                  "generic-segmentation-offload", "generic-receive-offload"):
            t.check(f"{f}: off" in feats, f"{ns}/{ifc} {f} off")
    r = lab.run(["ip", "-n", L.cli, "route", "get", DST_ADDR]).stdout
    t.check(f"via {DUT0_ADDR}" in r, "cli routes 198.18.2.0/24 via 198.18.1.1", r.strip())
    r = lab.run(["ip", "-n", L.dst, "route", "get", CLI_ADDR]).stdout
    t.check(f"via {DUT1_ADDR}" in r, "dst routes 198.18.1.0/24 via 198.18.2.1", r.strip())


def check_socket_in(t, L):
    before = netns_inode()
    c = L.socket_in("cli", socket.AF_INET, socket.SOCK_DGRAM)
    d = L.socket_in("dst", socket.AF_INET, socket.SOCK_DGRAM)
    t.eq(netns_inode(), before, "socket_in returns to the original namespace")
    try:
        c.bind((CLI_ADDR, 0))
        t.check(True, "a cli socket binds 198.18.1.2")
    except OSError as e:
        t.check(False, "a cli socket binds 198.18.1.2", str(e))
    try:
        d.bind((CLI_ADDR, 0))
        t.check(False, "a dst socket cannot bind 198.18.1.2 (it lives in PREFIX-dst)")
    except OSError as e:
        t.check(e.errno == 99, "a dst socket cannot bind 198.18.1.2 (it lives in PREFIX-dst)",
                str(e))
    c.close()
    d.close()


def check_dut_kernel_quiet(t, L):
    """With the appliance's exception TAP holding 198.18.1.1, the dut kernel still must not
    answer on veth-dut0 (only rtpproxy may)."""
    lab.run(["ip", "-n", L.dut, "tuntap", "add", "rtp0", "mode", "tap"])
    lab.run(["ip", "-n", L.dut, "addr", "add", f"{DUT0_ADDR}/24", "dev", "rtp0"])
    lab.run(["ip", "-n", L.dut, "link", "set", "rtp0", "up"])
    t.eq(lab.ping(L, DUT0_ADDR, count=2, ns="cli"), 0, "dut kernel does not answer ping on veth-dut0")
    t.eq(L.neigh_mac("cli", DUT0_ADDR), None, "dut kernel does not answer ARP on veth-dut0")
    lab.run(["ip", "-n", L.dut, "link", "del", "rtp0"])
    lab.run(["ip", "-n", L.cli, "neigh", "flush", "dev", CLI_IF], check=False)


def make_kernel_router(L):
    for ifc, addr in ((DUT0_IF, DUT0_ADDR), (DUT1_IF, DUT1_ADDR)):
        L.exec("dut", "sysctl", "-q", "-w", f"net.ipv4.conf.{ifc}.arp_ignore=0",
               f"net.ipv4.conf.{ifc}.rp_filter=0")
        lab.run(["ip", "-n", L.dut, "addr", "add", f"{addr}/24", "dev", ifc])
    L.exec("dut", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")


def check_traffic(t, L):
    make_kernel_router(L)
    t.eq(lab.ping(L, DUT0_ADDR, ns="cli"), 3, "ping 198.18.1.1 from cli: 3 replies")
    t.eq(lab.ping(L, DUT1_ADDR, ns="dst"), 3, "ping 198.18.2.1 from dst: 3 replies")
    t.eq(lab.ping(L, DST_ADDR, ns="cli"), 3, "ping 198.18.2.2 from cli (routed): 3 replies")

    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rx = lab.udp_socket(L, "dst", bind=(DST_ADDR, 40000))
    pkts = [lab.rtp_packet(i, i * 160, 0x11223344, payload=lab.payload_for("self", i))
            for i in range(1000)]
    t0 = time.monotonic()
    got = lab.relay_exact(tx, rx, (DST_ADDR, 40000), pkts)
    dt = time.monotonic() - t0
    t.eq(len(got), 1000, f"1000 RTP packets cli -> dst through the kernel router ({dt:.2f}s)")
    t.check([d for d, _ in got] == pkts, "payloads byte-identical and in order")
    src = tx.getsockname()
    t.check(all(a == src for _, a in got), f"every packet from {src}")

    # Raw frames from AF_PACKET: a good one is received (its checksums are right: dst has rx
    # checksum offload off, so its kernel verifies them); a bad IPv4 checksum is not.
    mac = L.neigh_mac("cli", DUT0_ADDR, dev=CLI_IF)
    t.eq(mac, DUT0_MAC, "neighbour table of cli has the dut's MAC after a ping")
    with L.netns("cli"):
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        raw.bind((CLI_IF, 0))
    good = [lab.ipv4_udp_frame(CLI_MAC, mac, CLI_ADDR, DST_ADDR, 5000, 40000,
                               lab.rtp_packet(i, 0, 7, payload=b"raw%d" % i)) for i in range(10)]
    bad = [lab.ipv4_udp_frame(CLI_MAC, mac, CLI_ADDR, DST_ADDR, 5000, 40000, b"bad", ip_csum=0x1234)]
    for f in bad + good:
        raw.send(f)
    got = lab.recv_all(rx, 11, 2)
    t.eq(len(got), 10, "10 good raw frames arrive, the bad-checksum one does not")
    t.check(all(a == (CLI_ADDR, 5000) for _, a in got), "raw frames come from 198.18.1.2:5000")
    raw.close()
    tx.close()
    rx.close()


def check_lab_sh(t):
    prefix = f"rpsh{os.getpid()}"
    sh = str(lab.REPO / "scripts" / "lab.sh")
    p = subprocess.run(["bash", sh, "up", prefix], capture_output=True, text=True, timeout=60)
    t.eq(p.returncode, 0, f"scripts/lab.sh up {prefix}" + (f": {p.stderr}" if p.returncode else ""))
    names = lab._netns_list()
    t.check(all(f"{prefix}-{r}" in names for r in lab.ROLES), "lab.sh made the three namespaces")
    out = lab.run(["ip", "-n", f"{prefix}-dst", "-o", "addr", "show", "dev", DST_IF]).stdout
    t.check(f"inet {DST_ADDR}/24" in out, "lab.sh: dst has 198.18.2.2/24")
    for _ in range(2):    # down twice: the second finds nothing and must not fail
        p = subprocess.run(["bash", sh, "down", prefix], capture_output=True, text=True, timeout=60)
        t.eq(p.returncode, 0, "scripts/lab.sh down")
    names = lab._netns_list()
    t.check(not any(n.startswith(prefix + "-") for n in names), "lab.sh down removed everything")


def check_lab_sh_pair(t):
    """scripts/lab.sh up-pair: lab.py's topology "pair" from the shell (both appliances'
    namespaces, the bridges with the hosts' addresses, the management link), down removes it."""
    prefix = f"rpsp{os.getpid()}"
    sh = str(lab.REPO / "scripts" / "lab.sh")
    p = subprocess.run(["bash", sh, "up-pair", prefix], capture_output=True, text=True,
                       timeout=60)
    t.eq(p.returncode, 0, f"scripts/lab.sh up-pair {prefix}" +
         (f": {p.stderr}" if p.returncode else ""))
    names = lab._netns_list()
    t.check(all(f"{prefix}-{r}" in names for r in lab.PAIR_ROLES),
            "lab.sh up-pair made the four namespaces (cli, dut, sby, dst)")
    for ns, dev, addr in (("cli", "br-cli", CLI_ADDR), ("dst", "br-dst", DST_ADDR),
                          ("dut", lab.PAIR_MGMT_IF, lab.PAIR_MGMT_ADDR),
                          ("sby", lab.PAIR_MGMT_IF, lab.PAIR_MGMT_PEER)):
        out = lab.run(["ip", "-n", f"{prefix}-{ns}", "-o", "addr", "show", "dev", dev],
                      check=False).stdout
        t.check(f"inet {addr}/24" in out, f"lab.sh up-pair: {ns} has {addr}/24 on {dev}", out)
    for ns, br in (("cli", "br-cli"), ("dst", "br-dst")):
        out = lab.run(["ip", "-n", f"{prefix}-{ns}", "-o", "link", "show", "master", br],
                      check=False).stdout
        t.eq(out.count(" master " + br), 2, f"lab.sh up-pair: {br} has a port to each appliance")
    for ns, mac in (("dut", DUT0_MAC), ("sby", lab.SBY0_MAC)):
        out = lab.run(["ip", "-n", f"{prefix}-{ns}", "-o", "link", "show", "dev", DUT0_IF],
                      check=False).stdout
        t.check(mac in out, f"lab.sh up-pair: {ns}'s {DUT0_IF} is {mac}", out)
    p = subprocess.run(["ip", "netns", "exec", f"{prefix}-dut", "ping", "-c", "1", "-W", "2",
                        lab.PAIR_MGMT_PEER], capture_output=True, text=True, timeout=10)
    t.eq(p.returncode, 0, "lab.sh up-pair: the management link carries traffic (dut -> sby)")
    for _ in range(2):    # down twice: the second finds nothing and must not fail
        p = subprocess.run(["bash", sh, "down", prefix], capture_output=True, text=True, timeout=60)
        t.eq(p.returncode, 0, "scripts/lab.sh down")
    names = lab._netns_list()
    t.check(not any(n.startswith(prefix + "-") for n in names), "lab.sh down removed the pair")


def check_sigkill_guard(t):
    """Killed outright (as meson does 0.5 s after its timeout SIGTERM), the guard cleans up."""
    prefix = f"rpkill{os.getpid()}"
    code = (f"import sys, time; sys.path.insert(0, {str(HERE)!r}); import lab\n"
            f"with lab.Lab({prefix!r}):\n"
            f"    print('up', flush=True); time.sleep(60)\n")
    p = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    t.eq(p.stdout.readline().strip(), "up", "child made its lab")
    p.kill()
    p.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = [n for n in lab._netns_list() if n.startswith(prefix + "-")]
        if not left:
            break
        time.sleep(0.2)
    t.eq(left, [], "SIGKILL: the guard tore the child's lab down")
    lab.Lab(prefix).down()


def check_sigterm_teardown(t):
    prefix = f"rpsig{os.getpid()}"
    code = (f"import sys, time; sys.path.insert(0, {str(HERE)!r}); import lab\n"
            f"with lab.Lab({prefix!r}):\n"
            f"    print('up', flush=True); time.sleep(60)\n")
    p = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    t.eq(line, "up", "child made its lab")
    t.check(f"{prefix}-dut" in lab._netns_list(), "child's namespaces exist")
    p.terminate()
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    t.check(rc != 0, f"child ended by SIGTERM (exit {rc})")
    left = [n for n in lab._netns_list() if n.startswith(prefix + "-")]
    t.eq(left, [], "SIGTERM tore the child's lab down")
    lab.Lab(prefix).down()


def check_appliance_harness(t, L):
    try:
        lab.pb2()
    except lab.LabError as e:
        t.check(False, "generated rtpproxy_pb2 importable", str(e))
        return
    fake = HERE / "fake_rtpproxy.py"
    old = os.environ.get("FAKE_RTPPROXY_MODE")
    try:
        os.environ["FAKE_RTPPROXY_MODE"] = "ok"
        app = lab.Appliance(L, exe=fake, name="fake")
        app.start()
        t.check(app.running(), "Appliance.start waits for GetProxyStats")
        t.eq(app.proxy_stats().version, "fake", "stub.GetProxyStats answers over the unix socket")
        t.check(set(app.stub.method_names) >= {"CreateSession", "DestroySession",
                                                "GetSessionStatus", "ListSessions",
                                                "StreamSessionEvents", "GetProxyStats"},
                "stub offers every RPC")
        cfg = app.config_path.read_text()
        t.check(f"iface={DUT0_IF}" in cfg and f"unix:{app.sock}" in cfg
                and "--file-prefix " + app.tag in cfg and "idle_sleep_us = 50" in cfg,
                "config written with ports, unix socket, file prefix, idle sleep")
        t.eq(app.stop(), 0, "Appliance.stop: SIGTERM -> exit 0")
        t.check("log level info" in app.log_text(), "log captured with RTPPROXY_LOG=info")

        for mode, desc in (("exit1", "a start-up failure raises, with the log"),
                           ("badexit", "a non-zero exit after SIGTERM raises"),
                           ("hang", "ignoring SIGTERM -> killed and raises")):
            os.environ["FAKE_RTPPROXY_MODE"] = mode
            app = lab.Appliance(L, exe=fake, name=f"fake-{mode}", stop_timeout=2)
            try:
                app.start()
                app.stop()
                t.check(False, desc, "no ApplianceError")
            except lab.ApplianceError as e:
                t.check(mode != "exit1" or "fake start-up failure" in str(e), desc, str(e))
            finally:
                app._kill()
    finally:
        if old is None:
            os.environ.pop("FAKE_RTPPROXY_MODE", None)
        else:
            os.environ["FAKE_RTPPROXY_MODE"] = old


def body(t):
    with lab.Lab() as L:
        prefix = L.prefix
        t.run("topology", check_topology, t, L)
        t.run("socket_in", check_socket_in, t, L)
        t.run("dut kernel keeps off the DPDK veth ends", check_dut_kernel_quiet, t, L)
        t.run("appliance harness (fake rtpproxy)", check_appliance_harness, t, L)
        t.run("traffic through a kernel router", check_traffic, t, L)
    left = [n for n in lab._netns_list() if n.startswith(prefix + "-")]
    t.eq(left, [], "Lab exit removed every namespace")
    t.run("scripts/lab.sh", check_lab_sh, t)
    t.run("scripts/lab.sh up-pair", check_lab_sh_pair, t)
    t.run("teardown on SIGTERM", check_sigterm_teardown, t)
    t.run("teardown after SIGKILL (guard)", check_sigkill_guard, t)


if __name__ == "__main__":
    lab.main_wrapper("lab", body)
