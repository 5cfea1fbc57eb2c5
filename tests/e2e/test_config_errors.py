#!/usr/bin/python3
"""e2e_config_errors: rtpproxy refuses bad config files at start-up, saying where and why.

For each bad file: exit status != 0 within 10 s (no hang), and stderr naming the file, the
section and the key (API.md section 2). Also `--help` and `--version` exit 0. Needs no root and
no lab; as root, the binary runs in a throwaway network namespace (`unshare --net`) so that a
config wrongly accepted cannot touch the host's network.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402

TIMEOUT = 10

BASE = {
    "eal": {"args": f"-l 0 --no-huge -m 64 --no-pci --no-shconf --file-prefix cfgerr{os.getpid()}"},
    "dataplane": {"workers": "1", "idle_sleep_us": "50"},
    "port0": {"device": "net_null0", "address": "198.18.1.1/24", "exception": "rtp0"},
    "port1": {"device": "net_null1", "address": "198.18.2.1/24", "exception": "rtp1"},
    "grpc": {"listen": f"unix:/tmp/cfgerr{os.getpid()}.sock"},
    "sessions": {"port_min": "20000", "port_max": "59999"},
}

# name -> (changes to BASE, extra raw text, words stderr must contain besides the file name)
CASES = {
    "unknown_key": ({"sessions": {"bogus_key": "1"}}, "", ["sessions", "bogus_key"]),
    "bad_int": ({"sessions": {"port_min": "abc"}}, "", ["sessions", "port_min"]),
    "port_range": ({"sessions": {"port_max": "70000"}}, "", ["sessions", "port_max"]),
    "bad_address": ({"port1": {"address": "198.18.2.300/24"}}, "", ["port1", "address"]),
    "bad_workers": ({"dataplane": {"workers": "many"}}, "", ["dataplane", "workers"]),
    "unknown_section": ({}, "[nonsense]\nkey = 1\n", ["nonsense"]),
}


def sandbox():
    """As root: a private network namespace for the process (gone when it exits)."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net", "--"]
    return []


def run_rtpproxy(exe, args):
    try:
        p = subprocess.run(sandbox() + [str(exe), *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT,
                           env=dict(os.environ, RTPPROXY_LOG="info"))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or ""


def render(changes, extra):
    sections = {s: dict(kv) for s, kv in BASE.items()}
    for s, kv in changes.items():
        sections.setdefault(s, {}).update(kv)
    return lab.config_text(sections) + extra


def body(t):
    exe = lab.BUILD_DIR / "app" / "rtpproxy"
    if not os.access(exe, os.X_OK):
        t.check(False, f"{exe} exists (build first)")
        return
    with tempfile.TemporaryDirectory(prefix="rtpproxy-cfgerr-") as d:
        for name, (changes, extra, words) in CASES.items():
            path = Path(d) / f"{name}.conf"
            path.write_text(render(changes, extra))
            print(f"- {name}: {path.name}")
            rc, out, err = run_rtpproxy(exe, ["-c", str(path)])
            t.check(rc is not None, f"{name}: exits within {TIMEOUT}s")
            t.check(rc not in (None, 0), f"{name}: exit status != 0", f"exit {rc}")
            missing = [w for w in [path.name] + words if w not in err]
            t.check(not missing, f"{name}: stderr names {', '.join([path.name] + words)}",
                    f"missing {missing}; stderr: {err.strip()[-400:]!r}; stdout: {out.strip()[-200:]!r}")

        print("- missing file")
        path = Path(d) / "does-not-exist.conf"
        rc, out, err = run_rtpproxy(exe, ["-c", str(path)])
        t.check(rc not in (None, 0), "missing file: exit status != 0", f"exit {rc}")
        t.check(path.name in err, "missing file: stderr names the file", repr(err.strip()[-400:]))

    for flag in ("--help", "--version"):
        print(f"- {flag}")
        rc, out, err = run_rtpproxy(exe, [flag])
        t.eq(rc, 0, f"rtpproxy {flag} exits 0")
        t.check((out + err).strip() != "", f"rtpproxy {flag} prints something")


if __name__ == "__main__":
    lab.main_wrapper("config_errors", body, needs_root=False)
