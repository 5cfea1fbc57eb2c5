#!/usr/bin/python3
"""container: the image of scripts/container.sh (Debian root file system + the .deb,
imported into podman) runs rtpproxy and its HEALTHCHECK.

Builds localhost/rtpproxy:VERSION from BUILD_DIR/deb/rtpproxy_VERSION_amd64.deb (made by
scripts/package.sh when missing); checks the image's metadata (entrypoint, HEALTHCHECK);
`podman run --rm IMAGE --version`; then runs the appliance in a container in a network
namespace of the test's (an af_packet port on a veth there, no hugepages), as the package's
user rtpproxy with every capability dropped but NET_ADMIN, NET_RAW and IPC_LOCK (exactly
rtpproxy.service's set-up: ambient capabilities of a system user), and
/proc/sys writable (the TAPs' rp_filter), and polls `podman healthcheck run` until healthy;
`podman stop` ends it with exit code 0. Needs root and podman (installed on demand); exits 77 without root.

The OCI runtime is runc: crun (podman's default on Debian) refuses hosts with cgroup v1 and
v2 controllers mounted at once ("hybrid"), as this VM has. Resource limits are passed no higher
than the test's own: the VM's root lacks CAP_SYS_RESOURCE, so podman's defaults (higher)
cannot be set.
"""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
import lab  # noqa: E402  (Checker, main_wrapper, wait_until)

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("RTPPROXY_BUILD_DIR") or REPO / "build").resolve()
NAME = f"rtpproxy-test-{os.getpid()}"

CONFIG = """\
[eal]
args = -l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix rtpproxy
[dataplane]
workers = 1
idle_sleep_us = 100
[port0]
device = net_af_packet0,iface=vct0
address = 198.18.0.1/24
exception = rtp0
[grpc]
listen = 127.0.0.1:50051
"""


def sh(cmd, timeout=600, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def podman(*args, timeout=120, check=False):
    return sh(["podman", "--runtime", "runc", *args], timeout=timeout, check=check)


def limits():
    """--ulimit options no higher than this process's own (podman's defaults are higher)."""
    out = []
    for name, res, most in (("nofile", resource.RLIMIT_NOFILE, 65536),
                            ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(res)[1]
        n = most if hard == resource.RLIM_INFINITY else min(hard, most)
        out += ["--ulimit", f"{name}={n}:{n}"]
    return out


def body(t):
    if shutil.which("dpkg") is None:
        print("container: SKIP (not Debian)")
        sys.exit(77)
    version = re.search(r"^\s*version:\s*'([^']+)'", (REPO / "meson.build").read_text(),
                        re.M).group(1)
    deb = BUILD_DIR / "deb" / f"rtpproxy_{version}_amd64.deb"
    if not deb.exists():
        sh(["bash", str(REPO / "scripts" / "package.sh"), str(deb.parent)], timeout=1500)
    start = time.monotonic()
    r = sh(["bash", str(REPO / "scripts" / "container.sh"), str(deb)], timeout=900, check=False)
    print(f"    scripts/container.sh: {time.monotonic() - start:.0f} s")
    if not t.eq(r.returncode, 0, "scripts/container.sh"):
        print(r.stderr[-4000:])
        return
    image = r.stdout.strip().splitlines()[-1]
    t.eq(image, f"localhost/rtpproxy:{version}", "image name")

    info = json.loads(podman("image", "inspect", image, check=True).stdout)[0]
    cfg = info["Config"]
    t.eq(cfg.get("Entrypoint"), ["/usr/bin/rtpproxy"], "entrypoint")
    t.eq(cfg.get("Cmd"), ["-c", "/etc/rtpproxy/rtpproxy.conf"], "command")
    test = (info.get("Healthcheck") or {}).get("Test") or []
    t.eq(test, ["CMD", "/usr/bin/rtpproxyctl", "health"], "HEALTHCHECK: rtpproxyctl health")

    r = podman("run", "--rm", "--no-healthcheck", *limits(), image, "--version")
    t.eq((r.returncode, r.stdout.strip()), (0, f"rtpproxy {version}"),
         "podman run --rm IMAGE --version")

    tmp = tempfile.mkdtemp(prefix="rtpproxy-ctrtest.")
    try:
        Path(tmp, "rtpproxy.conf").write_text(CONFIG)
        os.chmod(tmp, 0o755)                    # read by the container's rtpproxy user
        os.chmod(Path(tmp, "rtpproxy.conf"), 0o644)
        # the appliance's port: one end of a veth pair in a namespace of our own
        sh(["ip", "netns", "add", NAME])
        for cmd in (["link", "add", "vct0", "type", "veth", "peer", "name", "vct1"],
                    ["link", "set", "vct0", "up"], ["link", "set", "vct1", "up"],
                    ["link", "set", "lo", "up"]):
            sh(["ip", "-n", NAME, *cmd])
        r = podman("run", "-d", "--name", NAME, "--network", f"ns:/run/netns/{NAME}",
                   "--user", "rtpproxy", "--cap-drop", "all", "--cap-add", "NET_ADMIN,NET_RAW,IPC_LOCK",
                   "--security-opt", "unmask=/proc/sys",
                   "--device", "/dev/net/tun", *limits(),
                   "-v", f"{tmp}:/etc/rtpproxy:ro", image)
        if not t.eq(r.returncode, 0, "podman run -d (3 capabilities, a netns of its own)"):
            print(r.stderr)
            return
        def healthy_or_gone():
            if podman("healthcheck", "run", NAME).returncode == 0:
                return "healthy"
            st = podman("inspect", "--format", "{{.State.Running}}", NAME).stdout.strip()
            return "gone" if st != "true" else None
        start = time.monotonic()
        ok = lab.wait_until(healthy_or_gone, 60, interval=0.5) == "healthy"
        print(f"    healthy after {time.monotonic() - start:.1f} s")
        t.check(ok, "podman healthcheck run: healthy", podman("logs", NAME).stderr[-2000:])
        caps = podman("exec", NAME, "grep", "-E", "^(Uid|CapEff|CapAmb):", "/proc/1/status").stdout
        uid = podman("exec", NAME, "id", "-u", "rtpproxy").stdout.strip()
        # NET_ADMIN (12), NET_RAW (13), IPC_LOCK (14) and nothing else, for the rtpproxy user
        t.eq(re.findall(r"^(?:Uid:\s+(\d+)|CapEff:\s+(\w+)|CapAmb:\s+(\w+))", caps, re.M),
             [(uid, "", ""), ("", "0000000000007000", ""), ("", "", "0000000000007000")],
             "rtpproxy runs as user rtpproxy with exactly NET_ADMIN, NET_RAW, IPC_LOCK")
        status = json.loads(podman("inspect", NAME, check=True).stdout)[0]["State"]
        t.eq(status.get("Health", status.get("Healthcheck", {})).get("Status"), "healthy",
             "podman inspect: Health.Status")
        r = podman("exec", NAME, "/usr/bin/rtpproxyctl", "--server", "127.0.0.1:1", "health")
        t.check(r.returncode != 0, "the same check against a port nobody serves fails")
        r = podman("stop", "-t", "20", NAME, timeout=60)
        t.eq(r.returncode, 0, "podman stop")
        state = json.loads(podman("inspect", NAME, check=True).stdout)[0]["State"]
        t.eq(state.get("ExitCode"), 0, "rtpproxy exit code after SIGTERM")
        logs = podman("logs", NAME)
        t.check("shutting down" in logs.stdout + logs.stderr, "log: shutting down")
    finally:
        podman("rm", "-f", NAME)
        sh(["ip", "netns", "del", NAME], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    lab.main_wrapper("container", body)
