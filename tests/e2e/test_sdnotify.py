#!/usr/bin/python3
"""e2e_sdnotify: rtpproxy under a stand-in for systemd (a datagram socket in $NOTIFY_SOCKET,
as rtpproxy.service's Type=notify and WatchdogSec give it): READY=1 once health is SERVING,
WATCHDOG=1 from the control loop every WATCHDOG_USEC/2 while it runs, STOPPING=1 at SIGTERM
and nothing after it; a notify socket that is gone is a warning, not a failed start.
"""
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402

WATCHDOG_USEC = 1000000         # systemd's WatchdogSec=1: WATCHDOG=1 due every 500 ms
WINDOW = 3.0                    # seconds of watchdog messages counted


def drain(sock):
    msgs = []
    while True:
        try:
            msgs.append(sock.recv(256).decode())
        except BlockingIOError:
            return msgs


def body(t):
    tmp = tempfile.mkdtemp(prefix="e2e-sdnotify.")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    os.environ["NOTIFY_SOCKET"] = path          # the appliance's environment (lab.Appliance)
    os.environ["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    os.environ.pop("WATCHDOG_PID", None)
    try:
        with lab.Lab() as L:
            app = lab.Appliance(L).start()
            first = []
            lab.wait_until(lambda: first.extend(drain(sock)) or "READY=1" in first, 10)
            t.check(len(first) >= 1 and first[0] == "READY=1", "READY=1 first", repr(first[:3]))
            # READY=1 comes where health turns SERVING (every worker polls), logged just before
            t.check(lab.wait_until(lambda: "APP: serving" in app.log_text(), 5),
                    "health SERVING when READY=1 was sent", app.log_tail(10))
            first += drain(sock)
            t.eq(first.count("READY=1"), 1, "READY=1 once")
            t.eq([m for m in first if m not in ("READY=1", "WATCHDOG=1")], [], "nothing else yet")

            start = time.monotonic()
            time.sleep(WINDOW)      # the cadence itself is what is measured here
            msgs = drain(sock)
            elapsed = time.monotonic() - start
            dogs = msgs.count("WATCHDOG=1")
            period = WATCHDOG_USEC / 2e6
            print(f"    {dogs} WATCHDOG=1 in {elapsed:.2f} s (one due every {period} s)")
            # often enough that systemd never misses one (at least one per WATCHDOG_USEC), and
            # not more often than every half period (a busy control lcore is not chatty)
            t.check(elapsed / (2 * period) <= dogs <= elapsed / period + 1,
                    "WATCHDOG=1 every WATCHDOG_USEC/2", f"{dogs} in {elapsed:.2f} s")
            t.eq([m for m in msgs if m != "WATCHDOG=1"], [], "only WATCHDOG=1 while serving")

            t.eq(app.stop(), 0, "rtpproxy exit code after SIGTERM")
            msgs = drain(sock)
            t.check("STOPPING=1" in msgs, "STOPPING=1 at shutdown", repr(msgs))
            after = msgs[msgs.index("STOPPING=1") + 1:] if "STOPPING=1" in msgs else []
            t.eq(after, [], "nothing after STOPPING=1")

            # systemd gone (socket removed): the appliance starts all the same and says so
            sock.close()
            os.unlink(path)
            app = lab.Appliance(L, name="nosock").start()
            t.check(app.running(), "starts with a dangling NOTIFY_SOCKET")
            t.eq(app.stop(), 0, "and exits 0")
            t.check("READY=1 to $NOTIFY_SOCKET" in app.log_text(), "a WARNING names it",
                    app.log_tail(10))
    finally:
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC"):
            os.environ.pop(k, None)
        sock.close()
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(tmp)


if __name__ == "__main__":
    lab.main_wrapper("sdnotify", body)
