"""A fresh redis-server (Debian's) for one test: the state backend's store (API.md 1.6).

    with RedisLab(lab) as rl:           # in the lab's dut namespace, 127.0.0.1:<free port>
        cfg = {"state": {"backend": "redis", "redis": rl.address, "instance": "a"}}
        rl.client.keys("rtpproxy:a:*")  # redis-py over the server's unix socket

It listens on 127.0.0.1 inside network namespace NS (default: the lab's dut, where the
appliance runs; None = this process's namespace) at a port free there, and on a unix socket
that the test's client uses from any namespace. No persistence (--save '' --appendonly no):
stop() and start() again give an empty store, as a Redis restarted without its data would be.
Always killed on exit (the context manager), never left running."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

from lab import in_netns

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisLabError(Exception):
    pass


def _free_port(ns):
    ctx = in_netns(ns) if ns else contextlib.nullcontext()
    with ctx:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class RedisLab:
    def __init__(self, lab=None, ns="dut", port=None, start_timeout=10, bind_extra=()):
        if ns == "dut":
            ns = lab.dut if lab is not None else None
        self.ns = ns
        self.port = port or _free_port(ns)
        self.dir = tempfile.mkdtemp(prefix="rtpproxy-redis-")
        self.unix = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.start_timeout = start_timeout
        self.bind_extra = tuple(bind_extra)    # more addresses (e.g. the pair lab's mgmt link)
        self.proc = None
        self._client = None

    @property
    def address(self):
        """What [state] redis = takes."""
        return f"127.0.0.1:{self.port}"

    def start(self):
        if not os.access(REDIS_SERVER, os.X_OK):
            raise RedisLabError(f"{REDIS_SERVER} not found (apt-get install redis-server)")
        cmd = [REDIS_SERVER, "--bind", "127.0.0.1", *self.bind_extra, "--port", str(self.port),
               "--unixsocket", self.unix, "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no", "--dir", self.dir,
               "--logfile", self.log_path, "--daemonize", "no"]
        if self.bind_extra:         # reachable beyond loopback (a lab's own link), no password
            cmd += ["--protected-mode", "no"]
        if self.ns:
            cmd = ["ip", "netns", "exec", self.ns] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RedisLabError(f"redis-server exited with {self.proc.returncode}: "
                                    + self.log_tail())
            try:
                if self.client.ping():
                    return self
            except Exception:
                pass
            time.sleep(0.05)
        self.kill()
        raise RedisLabError("redis-server did not answer PING in time: " + self.log_tail())

    def stop(self):
        """SIGTERM, wait (bounded), SIGKILL if need be. Idempotent."""
        self._drop_client()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        self._drop_client()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    def restart(self):
        """Stop and start again: empty (nothing is persisted)."""
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.unix)
        return self.start()

    @property
    def client(self):
        if self._client is None:
            import redis
            self._client = redis.Redis(unix_socket_path=self.unix, socket_timeout=5)
        return self._client

    def _drop_client(self):
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def session_keys(self, prefix, instance):
        """Every session key of INSTANCE (prefix + instance + ':' + id), as str."""
        pat = f"{prefix}{instance}:*"
        return sorted(k.decode() for k in self.client.scan_iter(match=pat, count=1000))

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
