"""End-to-end test harness for rtpproxy (run by Debian's /usr/bin/python3: grpcio 1.51, protobuf 3.21).

The lab of docs TESTING.md, built in network namespaces that the test makes and always removes:

    PREFIX-cli  veth-cli0 <-> veth-dut0  PREFIX-dut (rtpproxy)  veth-dut1 <-> veth-dst0  PREFIX-dst
    198.18.1.2/24             port0 198.18.1.1/24   port1 198.18.2.1/24            198.18.2.2/24

Lab(topology="gen") builds the rig for rtpgen (the project's DPDK generator, which sends and
receives in one process, so both its ports live in one namespace):

    PREFIX-gen  gen0 <-> veth-dut0  PREFIX-dut (rtpproxy)  veth-dut1 <-> gen1  PREFIX-gen
    rtpgen --src 198.18.1.2         port0 198.18.1.1/24   port1 198.18.2.1/24   --sink-addr 198.18.2.2

The gen ends carry no address: rtpgen owns them through net_af_packet and answers ARP itself.

Lab(topology="pair") builds the hot-standby rig (API.md 1.6): two appliances, PREFIX-dut and
PREFIX-sby, with the same addresses on the same client and destination segments (a bridge in
the client's and in the destination's namespace, the host's address on the bridge), and a
management link between them for Redis (PAIR_MGMT_ADDR in dut, PAIR_MGMT_PEER in sby):

    PREFIX-cli br-cli ─ cli-a <-> veth-dut0  PREFIX-dut  veth-dut1 <-> dst-a ─ br-dst PREFIX-dst
    198.18.1.2/24    └ cli-b <-> veth-dut0  PREFIX-sby  veth-dut1 <-> dst-b ┘ 198.18.2.2/24
                                 mgmt0 198.18.3.1/24 (dut) <-> mgmt0 198.18.3.2/24 (sby)

One test process plays client, destination and gRPC client at once: `socket_in()` creates a
socket inside a namespace (setns there and back; a socket keeps the namespace it was made in),
and rtpproxy's gRPC server listens on a unix socket, which any namespace can reach.

    with Lab() as lab, Appliance(lab) as app:
        app.stub.CreateSession(pb.CreateSessionRequest(...))
        tx = lab.socket_in("cli", socket.AF_INET, socket.SOCK_DGRAM)

Environment: RTPPROXY_BUILD_DIR, the meson build directory (default: <repo>/build); the
generated messages are imported from $RTPPROXY_BUILD_DIR/proto/rtpproxy_pb2.py.
scripts/lab.sh builds the same topology from the shell (up-pair: the topology "pair").
"""

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("RTPPROXY_BUILD_DIR") or REPO / "build").resolve()

# --- the topology (keep in step with scripts/lab.sh) ---
CLI_IF, DUT0_IF, DUT1_IF, DST_IF = "veth-cli0", "veth-dut0", "veth-dut1", "veth-dst0"
CLI_MAC, DUT0_MAC = "02:52:50:01:00:02", "02:52:50:01:00:01"
DUT1_MAC, DST_MAC = "02:52:50:02:00:01", "02:52:50:02:00:02"
CLI_ADDR, DUT0_ADDR = "198.18.1.2", "198.18.1.1"   # client, appliance port0
DUT1_ADDR, DST_ADDR = "198.18.2.1", "198.18.2.2"   # appliance port1, destination
ROLES = ("cli", "dut", "dst")
# topology="gen": rtpgen's two ports in one namespace, the appliance between them.
GEN0_IF, GEN1_IF = "gen0", "gen1"
GEN0_MAC, GEN1_MAC = "02:52:50:01:00:12", "02:52:50:02:00:12"
GEN_ROLES = ("gen", "dut")
TOPOLOGIES = {"three": ROLES, "gen": GEN_ROLES}
ALL_ROLES = ("cli", "dut", "dst", "gen")
# topology="pair": the hot standby in PREFIX-sby next to PREFIX-dut (module docstring).
PAIR_ROLES = ("cli", "dut", "sby", "dst")
TOPOLOGIES["pair"] = PAIR_ROLES
ALL_ROLES += ("sby",)
SBY0_MAC, SBY1_MAC = "02:52:50:01:00:03", "02:52:50:02:00:03"
PAIR_MGMT_IF, PAIR_MGMT_ADDR, PAIR_MGMT_PEER = "mgmt0", "198.18.3.1", "198.18.3.2"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class LabError(Exception):
    pass


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP so that every `with` block cleans up."""


def skip_unless_root(name):
    """meson counts exit code 77 as a skipped test."""
    if os.geteuid() != 0:
        print(f"e2e_{name}: SKIP: needs root (network namespaces, veth, DPDK af_packet ports)")
        sys.exit(77)


def run(cmd, check=True, timeout=30, quiet=False):
    """Run a command (list), capture its output; raise LabError with the output if it fails."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout}s: {' '.join(cmd)}") from e
    if check and p.returncode != 0:
        raise LabError(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    if not quiet and p.returncode != 0:
        sys.stderr.write(f"lab: ({p.returncode}) {' '.join(cmd)}: {p.stderr}")
    return p


# --- network namespaces from this process ---

def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


@contextlib.contextmanager
def in_netns(name):
    """Run the body with this thread in network namespace NAME (from `ip netns add`).

    Only sockets (and interface lookups) made inside the body are affected: a socket stays in
    the namespace it was created in. The thread always returns to its original namespace."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/var/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            try:
                _setns(orig)
            except OSError:
                # Carrying on in the wrong namespace would be worse than stopping.
                sys.stderr.write("lab: cannot return to the original network namespace\n")
                os._exit(70)
    finally:
        os.close(orig)


def socket_in_netns(name, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
    with in_netns(name):
        return socket.socket(family, type, proto)


# --- the lab ---

class Lab:
    """The three-namespace topology (or, with topology="gen", rtpgen's two-namespace rig). A
    context manager: torn down on exit, on exceptions and on SIGTERM/SIGHUP (turned into the
    exception Terminated while the lab is up)."""

    def __init__(self, prefix=None, create=True, topology="three"):
        self.prefix = prefix or f"rp{os.getpid()}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", self.prefix):
            raise LabError(f"bad lab prefix {self.prefix!r}")
        if topology not in TOPOLOGIES:
            raise LabError(f"unknown lab topology {topology!r}: one of {sorted(TOPOLOGIES)}")
        self.topology = topology
        self.cli, self.dut, self.dst = (f"{self.prefix}-{r}" for r in ROLES)
        self.gen = f"{self.prefix}-gen"
        self.sby = f"{self.prefix}-sby"
        self.create = create
        self._old_handlers = {}
        self._is_up = False
        self._guard = None

    # names
    def ns(self, role_or_name):
        """'cli' / 'dut' / 'dst' / 'gen' -> full namespace name; a full name is returned
        unchanged."""
        return f"{self.prefix}-{role_or_name}" if role_or_name in ALL_ROLES else role_or_name

    def namespaces(self):
        return [self.ns(r) for r in TOPOLOGIES[self.topology]]

    # lifetime
    def __enter__(self):
        self._install_signal_handlers()
        try:
            if self.create:
                self.up()
        except BaseException:
            self.down()
            self._restore_signal_handlers()
            raise
        return self

    def __exit__(self, *exc):
        # A second SIGTERM must not interrupt the teardown itself.
        for sig in list(self._old_handlers):
            signal.signal(sig, signal.SIG_IGN)
        try:
            if self.create:
                self.down()
                self._stop_guard()
        finally:
            self._restore_signal_handlers()
        return False

    def _start_guard(self):
        """A watcher in its own session that tears the lab down if this process dies without
        doing it (SIGKILL, e.g. from meson 0.5 s after its timeout SIGTERM): it waits for EOF
        on a pipe that only this process holds."""
        r, w = os.pipe()            # not inherited by anything else this process starts
        try:
            self._guard = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--guard", self.prefix],
                stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        except OSError:
            os.close(w)
            raise
        finally:
            os.close(r)
        self._guard_fd = w

    def _stop_guard(self):
        if self._guard is None:
            return
        os.close(self._guard_fd)    # EOF: the guard finds nothing left and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._guard.wait(10)
        self._guard = None

    def _install_signal_handlers(self):
        def handler(signum, _frame):
            raise Terminated(f"signal {signum}")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, handler)
            except ValueError:      # not the main thread
                pass

    def _restore_signal_handlers(self):
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers.clear()

    def up(self):
        self.down()                 # leftovers of a run with the same prefix
        if self._guard is None:
            self._start_guard()
        self._is_up = True
        for ns in self.namespaces():
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        if self.topology == "gen":
            self._up_gen()
            return
        if self.topology == "pair":
            self._up_pair()
            return
        run(["ip", "-n", self.cli, "link", "add", CLI_IF, "address", CLI_MAC, "type", "veth",
             "peer", "name", DUT0_IF, "address", DUT0_MAC, "netns", self.dut])
        run(["ip", "-n", self.dst, "link", "add", DST_IF, "address", DST_MAC, "type", "veth",
             "peer", "name", DUT1_IF, "address", DUT1_MAC, "netns", self.dut])
        self._up_dut_ifaces()
        for ns, ifc, addr, net, gw in ((self.cli, CLI_IF, CLI_ADDR, "198.18.2.0/24", DUT0_ADDR),
                                       (self.dst, DST_IF, DST_ADDR, "198.18.1.0/24", DUT1_ADDR)):
            run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                 "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
            # Real frames with complete checksums, as from a real NIC's peer (TESTING.md).
            run(["ip", "netns", "exec", ns, "ethtool", "-K", ifc,
                 "tx", "off", "tso", "off", "gso", "off", "gro", "off", "rx", "off"])
            run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", ifc])
            run(["ip", "-n", ns, "link", "set", ifc, "up"])
            run(["ip", "-n", ns, "route", "add", net, "via", gw, "dev", ifc])

    def _up_dut_ifaces(self, dut=None):
        dut = dut or self.dut
        for ifc in (DUT0_IF, DUT1_IF):
            # DPDK owns these: the dut kernel must neither answer ARP nor accept IP on them.
            run(["ip", "netns", "exec", dut, "sysctl", "-q", "-w",
                 f"net.ipv6.conf.{ifc}.disable_ipv6=1",
                 f"net.ipv4.conf.{ifc}.arp_ignore=8",
                 f"net.ipv4.conf.{ifc}.rp_filter=1"])
            run(["ip", "netns", "exec", dut, "ethtool", "-K", ifc,
                 "tso", "off", "gso", "off", "gro", "off"])
            run(["ip", "-n", dut, "link", "set", ifc, "promisc", "on", "up"])

    def _up_pair(self):
        """Two appliances (dut, sby) on one client and one destination segment: a bridge in
        each host namespace carries the host's address and a veth to each appliance."""
        for ns, br, mac, addr, net, gw, ports in (
                (self.cli, "br-cli", CLI_MAC, CLI_ADDR, "198.18.2.0/24", DUT0_ADDR,
                 (("cli-a", self.dut, DUT0_IF, DUT0_MAC), ("cli-b", self.sby, DUT0_IF, SBY0_MAC))),
                (self.dst, "br-dst", DST_MAC, DST_ADDR, "198.18.1.0/24", DUT1_ADDR,
                 (("dst-a", self.dut, DUT1_IF, DUT1_MAC), ("dst-b", self.sby, DUT1_IF, SBY1_MAC)))):
            run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                 "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
            run(["ip", "-n", ns, "link", "add", br, "address", mac, "type", "bridge",
                 "forward_delay", "0", "stp_state", "0"])
            for ifc, peer_ns, peer_if, peer_mac in ports:
                run(["ip", "-n", ns, "link", "add", ifc, "type", "veth", "peer", "name", peer_if,
                     "address", peer_mac, "netns", peer_ns])
                run(["ip", "netns", "exec", ns, "ethtool", "-K", ifc,
                     "tx", "off", "tso", "off", "gso", "off", "gro", "off", "rx", "off"])
                run(["ip", "-n", ns, "link", "set", ifc, "master", br, "up"])
            # Real frames with complete checksums (TESTING.md): the host sends on the bridge.
            run(["ip", "netns", "exec", ns, "ethtool", "-K", br,
                 "tx", "off", "tso", "off", "gso", "off", "gro", "off"], check=False)
            run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", br])
            run(["ip", "-n", ns, "link", "set", br, "up"])
            run(["ip", "-n", ns, "route", "add", net, "via", gw, "dev", br])
        for dut in (self.dut, self.sby):
            self._up_dut_ifaces(dut)
        run(["ip", "-n", self.dut, "link", "add", PAIR_MGMT_IF, "type", "veth", "peer", "name",
             PAIR_MGMT_IF, "netns", self.sby])
        for ns, addr in ((self.dut, PAIR_MGMT_ADDR), (self.sby, PAIR_MGMT_PEER)):
            run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", PAIR_MGMT_IF])
            run(["ip", "-n", ns, "link", "set", PAIR_MGMT_IF, "up"])

    def _up_gen(self):
        """gen0 <-> veth-dut0 and gen1 <-> veth-dut1: rtpgen (net_af_packet on gen0 and gen1)
        on both sides of the appliance. The gen kernel has no address on them and no IPv6, so
        nothing but rtpgen speaks there; offloads off, so af_packet sees real frames."""
        run(["ip", "-n", self.gen, "link", "add", GEN0_IF, "address", GEN0_MAC, "type", "veth",
             "peer", "name", DUT0_IF, "address", DUT0_MAC, "netns", self.dut])
        run(["ip", "-n", self.gen, "link", "add", GEN1_IF, "address", GEN1_MAC, "type", "veth",
             "peer", "name", DUT1_IF, "address", DUT1_MAC, "netns", self.dut])
        self._up_dut_ifaces()
        run(["ip", "netns", "exec", self.gen, "sysctl", "-q", "-w",
             "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        for ifc in (GEN0_IF, GEN1_IF):
            run(["ip", "netns", "exec", self.gen, "ethtool", "-K", ifc,
                 "tx", "off", "tso", "off", "gso", "off", "gro", "off", "rx", "off"])
            run(["ip", "-n", self.gen, "link", "set", ifc, "promisc", "on", "up"])

    def link_mac(self, ns, ifc):
        """The MAC address of interface IFC in namespace NS, as the kernel reports it."""
        out = run(["ip", "-n", self.ns(ns), "-o", "link", "show", ifc]).stdout
        m = re.search(r"link/ether ([0-9a-f:]{17})", out)
        if not m:
            raise LabError(f"no MAC address for {ifc} in {self.ns(ns)}: {out!r}")
        return m.group(1)

    def down(self):
        """Remove the namespaces of every topology with this prefix (ending, by pid, what still
        runs in them), so the guard, which knows only the prefix, cleans any lab. Never fails."""
        existing = set(_netns_list())
        for ns in (self.ns(r) for r in ALL_ROLES):
            if ns not in existing:
                continue
            pids = _netns_pids(ns)
            for pid in pids:
                _kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 3
            while pids and time.monotonic() < deadline:
                time.sleep(0.1)
                pids = _netns_pids(ns)
            for pid in pids:
                _kill(pid, signal.SIGKILL)
            run(["ip", "netns", "del", ns], check=False, quiet=True)
        for sock in Path("/tmp").glob(f"{self.prefix}-*.sock"):
            with contextlib.suppress(OSError):
                sock.unlink()
        self._is_up = False

    # using it
    def socket_in(self, ns, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
        """A socket living in namespace NS ('cli', 'dut', 'dst' or a full name)."""
        return socket_in_netns(self.ns(ns), family, type, proto)

    def netns(self, ns):
        """Context manager: this thread in namespace NS for the body (e.g. to bind AF_PACKET)."""
        return in_netns(self.ns(ns))

    def exec(self, ns, *cmd, check=True, timeout=30):
        return run(["ip", "netns", "exec", self.ns(ns), *cmd], check=check, timeout=timeout)

    def ping(self, ns, addr, count=3):
        """Ping ADDR from namespace NS; the number of replies."""
        return ping(self.ns(ns), addr, count=count)

    def neigh_mac(self, ns, addr, dev=None):
        """The MAC that namespace NS's neighbour table holds for ADDR, or None."""
        cmd = ["ip", "-n", self.ns(ns), "neigh", "show", addr]
        if dev:
            cmd += ["dev", dev]
        out = run(cmd, check=False).stdout
        m = re.search(r"lladdr ([0-9a-f:]{17})", out)
        return m.group(1) if m else None


def _netns_list():
    out = run(["ip", "netns", "list"], check=False, quiet=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(ns):
    out = run(["ip", "netns", "pids", ns], check=False, quiet=True).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def ping(lab_or_ns, addr, count=3, ns=None):
    """Ping ADDR from a namespace; returns the number of replies. ping(lab, addr, ns='cli') or
    ping('full-ns-name', addr)."""
    name = lab_or_ns.ns(ns) if isinstance(lab_or_ns, Lab) else lab_or_ns
    p = run(["ip", "netns", "exec", name, "ping", "-n", "-q", "-c", str(count), "-W", "1",
             "-i", "0.2", addr], check=False, quiet=True, timeout=count + 10)
    m = re.search(r"(\d+) (?:packets )?received", p.stdout)
    return int(m.group(1)) if m else 0


# --- packets ---

def rtp_packet(seq, ts, ssrc, pt=0, payload=b"", marker=False):
    """An RTP version 2 packet (RFC 3550), no CSRC, no extension."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def rtcp_sr(ssrc, ntp=0, rtp_ts=0, packets=0, octets=0, reports=()):
    """An RTCP sender report (RFC 3550 6.4.1, PT 200); REPORTS are 24-byte report blocks."""
    body = struct.pack("!IQIII", ssrc & 0xFFFFFFFF, ntp & 0xFFFFFFFFFFFFFFFF,
                       rtp_ts & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    body += b"".join(reports)
    return struct.pack("!BBH", 0x80 | len(reports), 200, (4 + len(body)) // 4 - 1) + body


def rtcp_report_block(ssrc, fraction=0, lost=0, ext_seq=0, jitter=0, lsr=0, dlsr=0):
    """One 24-byte reception report block of an SR/RR (RFC 3550 6.4.1)."""
    return struct.pack("!IBBHIIII", ssrc & 0xFFFFFFFF, fraction & 0xFF, (lost >> 16) & 0xFF,
                       lost & 0xFFFF, ext_seq & 0xFFFFFFFF, jitter & 0xFFFFFFFF,
                       lsr & 0xFFFFFFFF, dlsr & 0xFFFFFFFF)


def rtcp_rr(ssrc, reports=()):
    """An RTCP receiver report (RFC 3550 6.4.2, PT 201)."""
    body = struct.pack("!I", ssrc & 0xFFFFFFFF) + b"".join(reports)
    return struct.pack("!BBH", 0x80 | len(reports), 201, (4 + len(body)) // 4 - 1) + body


def rtcp_sdes(ssrc, cname):
    """An RTCP SDES packet (PT 202) with one chunk holding a CNAME item, padded to 32 bits."""
    c = cname.encode()
    chunk = struct.pack("!IBB", ssrc & 0xFFFFFFFF, 1, len(c)) + c + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, (4 + len(chunk)) // 4 - 1) + chunk


def payload_for(tag, seq, size=160):
    """SIZE bytes, different for every (tag, seq), reproducible."""
    out = b""
    block = hashlib.sha256(f"{tag}/{seq}".encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return out[:size]


def set_rcvbuf(sock, size=8 << 20):
    """A large receive buffer (SO_RCVBUFFORCE as root, so net.core.rmem_max does not cap it)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, size)    # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def udp_socket(lab, ns, bind=None, rcvbuf=True):
    s = lab.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    if rcvbuf:
        set_rcvbuf(s)
    if bind:
        s.bind(bind)
    return s


def recv_all(sock, n, timeout, bufsize=65535):
    """Receive until N datagrams arrived or TIMEOUT seconds passed: [(data, addr), ...]."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            break
        got.append(sock.recvfrom(bufsize))
        got.extend(drain(sock, bufsize, limit=n - len(got)))
    return got


def drain(sock, bufsize=65535, limit=None):
    """Whatever is queued on SOCK now, without waiting."""
    got = []
    while limit is None or len(got) < limit:
        try:
            got.append(sock.recvfrom(bufsize, socket.MSG_DONTWAIT))
        except (BlockingIOError, InterruptedError):
            break
    return got


def send_paced(sock, items, burst=50, pause=0.001, between=None, time_limit=60):
    """Send (data, addr) items in bursts of BURST with PAUSE seconds between bursts (so no socket
    buffer on the way overflows); BETWEEN() runs after each burst (e.g. to drain receivers).
    Bounded in count (len(items)) and in time."""
    deadline = time.monotonic() + time_limit
    for i in range(0, len(items), burst):
        if time.monotonic() > deadline:
            raise LabError(f"send_paced: gave up after {time_limit}s at item {i}")
        for data, addr in items[i:i + burst]:
            while True:
                try:
                    sock.sendto(data, addr)
                    break
                except (BlockingIOError, InterruptedError):
                    time.sleep(pause)
                except OSError as e:
                    if e.errno in (errno.ENOBUFS, errno.EAGAIN):
                        time.sleep(pause)
                        continue
                    raise
        if between:
            between()
        time.sleep(pause)


def relay_exact(tx, rx, to, packets, timeout=10, settle=0.3):
    """Send PACKETS from socket TX to address TO and receive them on RX: the first alone (which
    lets ARP resolve on the way without a pending queue in play), then the rest paced while RX
    is drained. Waits up to TIMEOUT for all, then SETTLE more for extras. [(data, addr), ...]."""
    if not packets:
        return []
    got = []
    tx.sendto(packets[0], to)
    got += recv_all(rx, 1, timeout)
    send_paced(tx, [(p, to) for p in packets[1:]], between=lambda: got.extend(drain(rx)))
    got += recv_all(rx, len(packets) - len(got), timeout)
    time.sleep(settle)
    got += drain(rx)
    return got


def ip_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ipv4_udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload, ttl=64, ident=1,
                   ihl=5, tot_len=None, udp_len=None, ip_csum=None, udp_csum=True):
    """An Ethernet/IPv4/UDP frame; the keyword arguments override fields to make it malformed."""
    ulen = 8 + len(payload)
    udp = struct.pack("!HHHH", sport, dport, udp_len if udp_len is not None else ulen, 0) + payload
    if udp_csum:
        pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 17, len(udp))
        c = ip_checksum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    total = tot_len if tot_len is not None else 20 + len(udp)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, total, ident, 0, ttl, 17, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    c = ip_csum if ip_csum is not None else ip_checksum(hdr)
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00" + hdr + udp


# --- the generated protobuf messages and a grpcio client without grpc_tools ---

_pb2 = None


def pb2():
    """The rtpproxy_pb2 module generated by the build (proto/meson.build)."""
    global _pb2
    if _pb2 is None:
        d = BUILD_DIR / "proto"
        if not (d / "rtpproxy_pb2.py").exists():
            raise LabError(f"{d}/rtpproxy_pb2.py not found: build first (ninja -C {BUILD_DIR}; "
                           "needs protoc from protobuf-compiler) or set RTPPROXY_BUILD_DIR")
        sys.path.insert(0, str(d))
        import rtpproxy_pb2
        _pb2 = rtpproxy_pb2
    return _pb2


class Stub:
    """Every RPC of rtpproxy.RtpProxy as a callable attribute, e.g. stub.CreateSession(req).
    Calls get a default deadline of TIMEOUT seconds unless one is passed, and METADATA (e.g.
    (("authorization", "Bearer T"),)) unless they pass their own."""

    def __init__(self, channel, timeout=10, metadata=None):
        import grpc                       # noqa: F401  (the channel is a grpc.Channel)
        pb = pb2()
        svc = pb.DESCRIPTOR.services_by_name["RtpProxy"]
        self.method_names = []
        for m in svc.methods:
            req, resp = getattr(pb, m.input_type.name), getattr(pb, m.output_type.name)
            path = f"/{svc.full_name}/{m.name}"
            streaming = getattr(m, "server_streaming", m.name == "StreamSessionEvents")
            make = channel.unary_stream if streaming else channel.unary_unary
            call = make(path, request_serializer=req.SerializeToString,
                        response_deserializer=resp.FromString)
            setattr(self, m.name, _with_deadline(call, timeout, metadata))
            self.method_names.append(m.name)


def _with_deadline(call, timeout, metadata=None):
    def invoke(request, timeout=timeout, **kw):
        if metadata is not None:
            kw.setdefault("metadata", metadata)
        return call(request, timeout=timeout, **kw)
    invoke.raw = call
    return invoke


def rpc_status(fn, request, **kw):
    """(code, details, response): code is grpc.StatusCode.OK and response set on success."""
    import grpc
    try:
        resp = fn(request, **kw)
        return grpc.StatusCode.OK, "", resp
    except grpc.RpcError as e:
        return e.code(), e.details() or "", None


# --- the appliance ---

DEFAULT_CONFIG = {
    "eal": {"args": "-l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix {prefix}"},
    # A worker that naps when idle, so a test's busy loop does not starve a 2-core VM.
    "dataplane": {"workers": "1", "idle_sleep_us": "50"},
    # framecnt: af_packet's default ring (512 frames) overflows silently when the worker is
    # descheduled for a few tens of ms on this shared 2-core VM (no imissed in DPDK 22.11)
    "port0": {"device": f"net_af_packet0,iface={DUT0_IF},framecnt=4096",
              "address": f"{DUT0_ADDR}/24", "exception": "rtp0"},
    "port1": {"device": f"net_af_packet1,iface={DUT1_IF},framecnt=4096",
              "address": f"{DUT1_ADDR}/24", "exception": "rtp1"},
    "grpc": {"listen": "unix:{sock}"},
    "sessions": {},
}


def config_text(sections):
    lines = []
    for sec, kv in sections.items():
        if not any(v is not None for v in kv.values()):
            continue
        lines.append(f"[{sec}]")
        for k, v in kv.items():
            if v is not None:
                lines.append(f"{k} = {v}")
        lines.append("")
    return "\n".join(lines)


class ApplianceError(Exception):
    pass


class Appliance:
    """build/app/rtpproxy running in PREFIX-dut, with its log captured and a gRPC stub.

    CONFIG: None (DEFAULT_CONFIG), a dict {section: {key: value}} merged over DEFAULT_CONFIG (a
    None value removes a key), or the full text of a config file. "{prefix}" and "{sock}" in
    values/text are replaced by the lab prefix and the gRPC unix socket path.

    For a secured or TCP-only server: CHANNEL_FACTORY() returns the grpc channel to use
    (default: plaintext to the unix socket), METADATA goes with every stub call, and start()
    waits for GetProxyStats to answer READY_CODE (default OK).

    GRPC_TCP=(host, port): the config's [grpc] listen is a TCP address in the dut namespace
    (e.g. "[::]:50051"); the stub then reaches it through a NetnsForwarder at the usual unix
    socket path, over TCP to HOST:PORT from inside the dut namespace (e.g. its loopback)."""

    def __init__(self, lab, config=None, build_dir=None, name="rtpproxy", exe=None,
                 start_timeout=20, stop_timeout=15, log_level="info", extra_args=(),
                 channel_factory=None, metadata=None, ready_code=None, grpc_tcp=None,
                 netns=None):
        self.lab = lab
        self.netns = lab.ns(netns) if netns else lab.dut   # topology "pair": "sby" too
        self.build_dir = Path(build_dir or BUILD_DIR)
        self.exe = Path(exe or self.build_dir / "app" / "rtpproxy")
        self.tag = f"{lab.prefix}-{name}"
        self.sock = f"/tmp/{self.tag}.sock"
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.log_level, self.extra_args = log_level, list(extra_args)
        logroot = self.build_dir / "e2e-logs" if self.build_dir.is_dir() else Path(tempfile.gettempdir())
        # One directory per (test script, appliance name), replaced by the next run.
        self.dir = logroot / f"{Path(sys.argv[0]).stem or 'e2e'}-{name}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.config_path = self.dir / "rtpproxy.conf"
        self.log_path = self.dir / "rtpproxy.log"
        self.config_path.write_text(self._render(config))
        self.proc = None
        self.channel = None
        self.stub = None
        self.returncode = None
        self.channel_factory, self.metadata, self.ready_code = channel_factory, metadata, ready_code
        self.grpc_tcp = grpc_tcp
        self.forwarder = None

    def _render(self, config):
        subst = {"prefix": self.tag, "sock": self.sock}
        if isinstance(config, str):
            text = config
        else:
            sections = {s: dict(kv) for s, kv in DEFAULT_CONFIG.items()}
            for s, kv in (config or {}).items():
                sections.setdefault(s, {}).update(kv)
            text = config_text(sections)
        for k, v in subst.items():
            text = text.replace("{" + k + "}", v)
        return text

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.returncode is None:
            try:
                self.stop()
            except ApplianceError as e:
                if exc[0] is None:
                    raise
                sys.stderr.write(f"appliance: {e}\n")
        return False

    def start(self):
        import grpc
        pb = pb2()                  # before anything runs: fails clearly when not built
        if not os.access(self.exe, os.X_OK):
            raise ApplianceError(f"{self.exe} not found or not executable (build it first)")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        if self.grpc_tcp is not None:
            self.forwarder = NetnsForwarder(self.netns, *self.grpc_tcp, self.sock)
        env = dict(os.environ, RTPPROXY_LOG=self.log_level)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, str(self.exe), *self.extra_args,
                 "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        if self.channel_factory is not None:
            self.channel = self.channel_factory()
        else:
            self.channel = grpc.insecure_channel(f"unix:{self.sock}")
        self.stub = Stub(self.channel, metadata=self.metadata)
        ready = self.ready_code or grpc.StatusCode.OK
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._close_channel()
                raise ApplianceError(f"rtpproxy exited with {self.returncode} during start-up\n"
                                     + self.log_tail())
            if self.channel_factory is not None or os.path.exists(self.sock):
                code, details, _ = rpc_status(self.stub.GetProxyStats, pb.GetProxyStatsRequest(),
                                              timeout=1)
                if code == ready:
                    return self
                last = f"{code}: {details}"
            time.sleep(0.1)
        self._kill()
        raise ApplianceError(f"rtpproxy's gRPC server did not answer GetProxyStats within "
                             f"{self.start_timeout}s ({last})\n" + self.log_tail())

    def stop(self):
        """SIGTERM; asserts a clean exit (code 0) within stop_timeout, else SIGKILL and raise."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ApplianceError(f"rtpproxy did not exit within {self.stop_timeout}s of SIGTERM "
                                 "(killed)\n" + self.log_tail())
        finally:
            # Open streams stay open until the server ends them (shutdown events).
            self._close_channel()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.sock)
        if self.returncode != 0:
            raise ApplianceError(f"rtpproxy exited with {self.returncode} after SIGTERM\n"
                                 + self.log_tail())
        return self.returncode

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        self._close_channel()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self.returncode = self.proc.returncode if self.proc else None

    def _close_channel(self):
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        text = self.log_text().splitlines()[-lines:]
        return f"--- last {len(text)} lines of {self.log_path} ---\n" + "\n".join(text)

    def proxy_stats(self):
        return self.stub.GetProxyStats(pb2().GetProxyStatsRequest())

    def session(self, session_id):
        return self.stub.GetSessionStatus(pb2().GetSessionStatusRequest(session_id=session_id)).session


class NetnsForwarder:
    """A listening socket in this process's namespace relaying each connection to HOST:PORT
    (TCP) inside network namespace NS: a test's grpc channel (or browser) reaches a server that
    listens on TCP in the dut namespace. It listens on the unix socket PATH, or with PATH None
    on 127.0.0.1 at a free port (`local_port`). `ports` lists the TCP ports used on the
    namespace's side (the peers the server sees). A context manager; closing it ends every
    relay."""

    def __init__(self, ns, host, port, path=None):
        self.ns, self.host, self.port, self.path = ns, host, port, path
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ports = []
        self._conns = []
        self._lock = threading.Lock()
        self._closed = False
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._srv.bind(path)
        else:
            self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._srv.bind(("127.0.0.1", 0))
            self.local_port = self._srv.getsockname()[1]
        self._srv.listen(64)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def target(self):
        return f"unix:{self.path}"

    def _accept(self):
        while not self._closed:
            try:
                a, _ = self._srv.accept()
            except OSError:
                return
            try:
                b = socket_in_netns(self.ns, self.family, socket.SOCK_STREAM)
                b.settimeout(5)
                b.connect((self.host, self.port))
                b.settimeout(None)
            except OSError:
                a.close()
                continue
            with self._lock:
                self.ports.append(b.getsockname()[1])
                self._conns += [a, b]
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 1.0)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for s in socks:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self._closed = True
        with contextlib.suppress(OSError):
            self._srv.shutdown(socket.SHUT_RDWR)
        self._srv.close()
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def endpoint(addr, port):
    return pb2().Endpoint(address=addr, port=port)


def udp_session(session_id, listen, forward, destination, **kw):
    """A CreateSessionRequest for a UDP session; LISTEN etc. are (address, port) or None."""
    pb = pb2()
    req = pb.CreateSessionRequest(session_id=session_id, transport=pb.TRANSPORT_UDP, **kw)
    for field, ep in (("listen_endpoint", listen), ("forward_endpoint", forward),
                      ("destination_endpoint", destination)):
        if ep is not None:
            getattr(req, field).CopyFrom(endpoint(*ep))
    return req


def wait_until(fn, timeout, interval=0.05):
    """Call FN every INTERVAL seconds until it returns something true or TIMEOUT seconds pass:
    that value, or the last (false) one. Bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def proc_rss_bytes(pid):
    """Resident set size of process PID (VmRSS of /proc/PID/status) in bytes, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# --- a tiny test runner: counted checks, a final "e2e_<name>: N passed, M failed" line ---

class Checker:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, cond, desc, detail=""):
        if cond:
            self.passed += 1
            print(f"  ok    {desc}", flush=True)
        else:
            self.failed += 1
            self.failures.append(desc)
            print(f"  FAIL  {desc}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.check(got == want, desc, f"got {got!r}, want {want!r}")

    def status(self, fn, request, code, desc, details_prefix=None, details_contains=None):
        """Call FN(REQUEST) and check the gRPC status code (and its message)."""
        got, details, resp = rpc_status(fn, request)
        ok = got == code
        if ok and details_prefix is not None:
            ok = details.startswith(details_prefix)
        if ok and details_contains is not None:
            ok = details_contains in details
        want = f"{code.name}" + (f" with details starting {details_prefix!r}" if details_prefix else "") \
            + (f" with details containing {details_contains!r}" if details_contains else "")
        self.check(ok, desc, f"got {got.name} {details!r}, want {want}")
        return resp

    def run(self, desc, fn, *args, **kw):
        """Run one test step; an exception counts as one failure and the file goes on."""
        print(f"- {desc}", flush=True)
        try:
            return fn(*args, **kw)
        except Terminated:
            raise
        except Exception as e:
            self.check(False, f"{desc}: raised {type(e).__name__}", str(e))
            traceback.print_exc(file=sys.stdout)
            return None

    def finish(self):
        print(f"e2e_{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


def main_wrapper(name, body, needs_root=True):
    """Run BODY(checker) and exit with the checker's verdict; any escaping error is a failure."""
    if needs_root:
        skip_unless_root(name)
    t = Checker(name)
    try:
        body(t)
    except Terminated as e:
        t.check(False, f"terminated ({e})")
    except Exception as e:
        t.check(False, f"{type(e).__name__}", str(e))
        traceback.print_exc(file=sys.stdout)
    sys.exit(t.finish())


def _guard_main(prefix):
    """`lab.py --guard PREFIX`: wait for EOF on stdin (the owner exited), then remove the lab."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while os.read(0, 4096):
        pass
    Lab(prefix).down()


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--guard":
    _guard_main(sys.argv[2])
