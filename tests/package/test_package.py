#!/usr/bin/python3
"""package: the Debian package from scripts/package.sh, installed on a fresh Debian 12.

Builds rtpproxy_VERSION_amd64.deb, checks its control fields, files and conffiles, and that
its Depends cover every library the programs load; then makes a fresh Debian 12 root with
mmdebstrap (minbase + systemd, from this machine's apt sources) and installs the .deb in it
with `apt-get install ./rtpproxy_*.deb`, so apt resolves the dependencies as an operator's
`apt install` would. In that root: the files are in place, the user exists, every program
finds its libraries, `rtpproxy --version` answers from /usr/bin, and `systemd-analyze
verify` is clean on the installed unit.

Needs root (mmdebstrap, chroot) and Debian's apt; the packaging tools are installed on demand
(scripts/bootstrap.sh --package). PACKAGE_DEB=PATH tests that .deb instead of building one;
the .deb built is left in BUILD_DIR/deb/ for the container test. Exits 77 without root.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
import lab  # noqa: E402  (Checker, main_wrapper)

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("RTPPROXY_BUILD_DIR") or REPO / "build").resolve()
SOURCES = "/etc/apt/sources.list.d/debian.sources"

FILES = [
    "./usr/bin/rtpproxy", "./usr/bin/rtpproxyctl", "./usr/bin/rtpgen",
    "./etc/rtpproxy/rtpproxy.conf", "./etc/default/rtpproxy",
    "./lib/systemd/system/rtpproxy.service", "./usr/libexec/rtpproxy/hugepages-check",
    "./lib/udev/rules.d/60-rtpproxy.rules", "./usr/share/doc/rtpproxy/copyright",
    "./usr/share/doc/rtpproxy/DEPLOYMENT.md.gz", "./usr/share/doc/rtpproxy/README.md.gz",
]
# named by the brief and certainly linked; the full check is NEEDED vs Depends below
NAMED_DEPENDS = ["libgrpc29", "libprotobuf-c1", "librte-eal23", "librte-ethdev23",
                 "libnftables1", "libssl3", "librte-mempool-ring23", "librte-net-tap23",
                 "librte-net-af-packet23",
                 "adduser", "procps"]


def sh(cmd, timeout=600, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def meson_version():
    m = re.search(r"^\s*version:\s*'([^']+)'", (REPO / "meson.build").read_text(), re.M)
    return m.group(1)


def depends_names(field):
    """'a (>= 1), b | c, d' -> {'a', 'b', 'c', 'd'}"""
    names = set()
    for alt in field.split(","):
        for p in alt.split("|"):
            p = p.strip().split(" ")[0].split(":")[0]
            if p:
                names.add(p)
    return names


def needed_packages(deb, tmp):
    """The Debian packages (on this machine) of the libraries the .deb's programs link."""
    x = Path(tmp) / "x"
    sh(["dpkg-deb", "-x", deb, str(x)])
    pkgs = {}
    for prog in ("rtpproxy", "rtpproxyctl", "rtpgen"):
        exe = str(x / "usr/bin" / prog)
        # the libraries the program itself names (dpkg-shlibdeps' job); ldd resolves them
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]",
                                sh(["readelf", "-d", exe]).stdout))
        for line in sh(["ldd", exe]).stdout.splitlines():
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if not m or m.group(1) not in needed:
                continue
            path = os.path.realpath(m.group(2))
            owner = sh(["dpkg", "-S", path], check=False).stdout.split(":")[0]
            if not owner:       # /lib -> /usr/lib merged: ask for the other spelling
                alt = path.replace("/usr/lib/", "/lib/", 1)
                owner = sh(["dpkg", "-S", alt], check=False).stdout.split(":")[0]
            pkgs.setdefault(owner or f"(no package for {path})", set()).add(prog)
    return pkgs


def check_deb(t, deb, version, tmp):
    f = lambda field: sh(["dpkg-deb", "-f", deb, field]).stdout.strip()  # noqa: E731
    t.eq(Path(deb).name, f"rtpproxy_{version}_amd64.deb", "file name from meson.build's version")
    t.eq(f("Package"), "rtpproxy", "Package")
    t.eq(f("Version"), version, "Version")
    t.eq(f("Architecture"), "amd64", "Architecture")
    deps = depends_names(f("Depends"))
    missing = [d for d in NAMED_DEPENDS if d not in deps]
    t.eq(missing, [], "Depends names grpc, protobuf-c, DPDK (+ drivers), nftables, ssl")
    needed = needed_packages(deb, tmp)
    uncovered = sorted(p for p in needed if p not in deps and p not in ("libc6", "libgcc-s1"))
    t.eq(uncovered, [], f"Depends covers every library linked ({len(needed)} packages)")
    if "libmicrohttpd12" in needed:
        t.check("libmicrohttpd12" in deps, "libmicrohttpd12 in Depends (the HTTP server)")

    listing = sh(["dpkg-deb", "-c", deb]).stdout
    paths = {line.split()[5] for line in listing.splitlines() if len(line.split()) >= 6}
    t.eq([p for p in FILES if p not in paths], [], "the .deb holds the programs, config, unit, docs")
    modes = {line.split()[5]: line.split()[0] for line in listing.splitlines()
             if len(line.split()) >= 6}
    t.eq([p for p in ("./usr/bin/rtpproxy", "./usr/libexec/rtpproxy/hugepages-check")
          if not modes.get(p, "").startswith("-rwxr-xr-x")], [], "programs are 0755")
    conffiles = sh(["dpkg-deb", "--info", deb, "conffiles"]).stdout.split()
    t.eq(sorted(conffiles), ["/etc/default/rtpproxy", "/etc/rtpproxy/rtpproxy.conf"], "conffiles")


def fresh_root(t, deb, root):
    """mmdebstrap minbase + systemd, then apt-get install ./the.deb inside it."""
    name = Path(deb).name
    cmd = ["mmdebstrap", "--variant=minbase", "--include=systemd",
           f"--customize-hook=copy-in {deb} /tmp",
           f"--customize-hook=chroot \"$1\" env DEBIAN_FRONTEND=noninteractive "
           f"apt-get install -q -y /tmp/{name}",
           f"--customize-hook=rm -f \"$1\"/tmp/{name}",
           "bookworm", root, SOURCES]
    start = time.monotonic()
    r = sh(cmd, timeout=900, check=False)
    took = time.monotonic() - start
    print(f"    fresh root + install: {took:.0f} s")
    log = r.stdout + r.stderr
    t.eq(r.returncode, 0, "mmdebstrap + apt-get install ./rtpproxy_*.deb", ) or \
        print(log[-4000:])
    m = re.search(r"(\d+) newly installed", log.split(f"/tmp/{name}")[-2] if log.count(
        f"/tmp/{name}") >= 2 else log)
    if m:
        print(f"    apt pulled {int(m.group(1)) - 1} dependencies with it")
    return r.returncode == 0


def check_root(t, root, version):
    R = Path(root)
    st = sh(["chroot", root, "dpkg-query", "-W", "-f=${Status} ${Version}", "rtpproxy"],
            check=False).stdout
    t.eq(st, f"install ok installed {version}", "dpkg says installed")
    for p in FILES:
        if p.startswith("./usr/share/doc"):
            continue
        t.check((R / p[2:]).exists(), f"{p[1:]} in place")
    r = sh(["chroot", root, "/usr/bin/rtpproxy", "--version"], check=False)
    t.eq((r.returncode, r.stdout.strip()), (0, f"rtpproxy {version}"),
         "rtpproxy --version from /usr/bin")
    r = sh(["chroot", root, "/usr/bin/rtpproxyctl", "--version"], check=False)
    t.check(r.returncode == 0 and r.stdout.startswith(f"rtpproxyctl {version}"),
            "rtpproxyctl --version from /usr/bin", r.stdout + r.stderr)
    for prog in ("rtpproxy", "rtpproxyctl", "rtpgen"):
        out = sh(["chroot", root, "ldd", f"/usr/bin/{prog}"], check=False).stdout
        t.eq([line.strip() for line in out.splitlines() if "not found" in line], [],
             f"{prog}: every library found")
    pmds = sorted(p.name for p in (R / "usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0").glob("*.so.23"))
    t.eq([p for p in ("librte_mempool_ring.so.23", "librte_net_tap.so.23",
                      "librte_net_af_packet.so.23") if p not in pmds], [],
         "DPDK's mempool ring, tap and af_packet drivers installed as plugins")
    pw = sh(["chroot", root, "getent", "passwd", "rtpproxy"], check=False).stdout.strip().split(":")
    t.check(len(pw) == 7 and 0 < int(pw[2]) < 1000 and pw[6] in ("/usr/sbin/nologin", "/bin/false"),
            "system user rtpproxy (no login)", ":".join(pw))
    r = sh(["systemd-analyze", "verify", f"--root={root}", "/lib/systemd/system/rtpproxy.service"],
           check=False)
    t.eq((r.returncode, (r.stdout + r.stderr).strip()), (0, ""),
         "systemd-analyze verify: clean on the installed unit")
    unit = (R / "lib/systemd/system/rtpproxy.service").read_text()
    for line in ("Type=notify", "User=rtpproxy", "Restart=on-failure", "LimitMEMLOCK=infinity",
                 "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK",
                 "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK"):
        t.check(re.search(rf"^{re.escape(line)}$", unit, re.M), f"unit: {line}")
    # not enabled on install (the config names a placeholder NIC)
    t.check(not (R / "etc/systemd/system/multi-user.target.wants/rtpproxy.service").exists(),
            "not enabled on install")


def body(t):
    if shutil.which("dpkg") is None or not Path(SOURCES).exists():
        print(f"package: SKIP (not Debian, or no {SOURCES})")
        sys.exit(77)
    version = meson_version()
    tmp = tempfile.mkdtemp(prefix="rtpproxy-pkgtest.")
    try:
        deb = os.environ.get("PACKAGE_DEB")
        if not deb:
            start = time.monotonic()
            out = BUILD_DIR / "deb"
            r = sh(["bash", str(REPO / "scripts" / "package.sh"), str(out)], timeout=1500,
                   check=False)
            print(f"    scripts/package.sh: {time.monotonic() - start:.0f} s")
            if not t.eq(r.returncode, 0, "scripts/package.sh"):
                print(r.stderr[-4000:])
                return
            deb = r.stdout.strip().splitlines()[-1]
        check_deb(t, deb, version, tmp)
        # mmdebstrap (bootstrap.sh --package installed it when package.sh ran)
        sh(["bash", str(REPO / "scripts" / "bootstrap.sh"), "--package"])
        root = os.path.join(tmp, "root")
        if fresh_root(t, deb, root):
            check_root(t, root, version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    lab.main_wrapper("package", body)
