#!/usr/bin/python3
"""e2e_state_kill9: SIGKILL during a burst of creates (issue 12; API.md 1.6).

The appliance with [state] backend = redis (instance "kill9") takes a burst of CreateSession
calls (64 in flight, bidirectional and not, with labels) and is killed with SIGKILL while
they go on (after the first 1500 are answered). Started again with the same config:
- health turns SERVING; no key is half-written (each has its definition) and the store matches
  the appliance key by key;
- every restored session is whole: its definition equals what CreateSession answered for it
  (endpoints with the allocated ports, options, labels, created time); none was restored that
  CreateSession did not answer OK, unless its call was cut by the kill;
- the sessions acknowledged but not restored (written through after the answer, so the kill
  can beat the writer) are counted and printed: "absent and reported";
- a restored session relays.
"""
import collections
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
import state_util as su  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402
from redis_lab import RedisLab  # noqa: E402

INSTANCE = "kill9"
N, KILL_AFTER, IN_FLIGHT = 4000, 1500, 64
EXTRA = {"sessions": {"max_sessions": "8192"}}


def req(i):
    return udp_session(f"k9-{i:05d}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                       (DST_ADDR, 40000 + i % 20000), bidirectional=i % 3 == 0,
                       labels={"burst": "1", "n": str(i)})


def burst_and_kill(t, app, ctx):
    import grpc
    call = app.stub.CreateSession.raw
    pending = collections.deque()
    ok, cut = {}, set()
    killed = False

    def settle():
        i, fut = pending.popleft()
        try:
            ok[req(i).session_id] = fut.result().session
        except grpc.RpcError:
            cut.add(req(i).session_id)
    for i in range(N):
        if len(pending) >= IN_FLIGHT:
            settle()
        if not killed and len(ok) >= KILL_AFTER:
            app.proc.send_signal(signal.SIGKILL)
            killed = True
        pending.append((i, call.future(req(i), timeout=10)))
        if killed:
            break
    while pending:
        settle()
    app.proc.wait(10)
    app.returncode = app.proc.returncode
    app._close_channel()
    t.eq(app.returncode, -signal.SIGKILL, "killed with SIGKILL mid-burst")
    print(f"    FIGURE: {len(ok)} creates answered OK before the kill, {len(cut)} cut by it")
    ctx.update(ok=ok, cut=cut)


def after(t, L, rl, ctx):
    stored = su.store_sessions(rl, INSTANCE)
    t.eq([sid for sid, (d, _) in stored.items() if d is None], [],
         "right after the kill: no half-written key (counters without a definition)")
    cfg = su.state_config(rl, INSTANCE, extra=EXTRA)
    app = lab.Appliance(L, cfg, name="second", start_timeout=30)
    ctx["app2"] = app
    app.start()
    status, serving = su.health_check(app)
    t.check(lab.wait_until(lambda: status() == serving, 30), "started again: SERVING")
    stored = su.store_sessions(rl, INSTANCE)
    t.eq([sid for sid, (d, _) in stored.items() if d is None], [],
         "after the restart: no half-written key either")
    t.eq(su.compare_store(app, rl, INSTANCE), [], "the store matches the appliance key by key")
    live = su.list_all(app)
    ok, cut = ctx["ok"], ctx["cut"]
    t.eq(sorted(set(live) - set(ok) - cut), [], "nothing restored that was never created")
    bad = [sid for sid in set(live) & set(ok)
           if su.definition(live[sid])[:11] != su.definition(ok[sid])[:11]
           or su.definition(live[sid])[12:] != su.definition(ok[sid])[12:]]
    t.eq(bad[:5], [], "every restored session is whole: as CreateSession answered it")
    lost = sorted(set(ok) - set(live))
    print(f"    FIGURE: {len(live)} restored; {len(lost)} acknowledged but absent (the kill "
          f"beat the writer), reported: {lost[:3]}{' ...' if len(lost) > 3 else ''}")
    t.check(len(live) >= KILL_AFTER // 2, "most acknowledged sessions came back",
            f"{len(live)} of {len(ok)}")
    t.check(f"{len(live)} session(s)" in app.log_text() or len(live) == 0,
            "the log reports how many were restored")
    sid = sorted(set(live) & set(ok))[0]
    s = live[sid]
    cli = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    dst = lab.udp_socket(L, "dst", bind=su.ep(s.destination_endpoint))
    try:
        got = lab.relay_exact(cli, dst, su.ep(s.listen_endpoint),
                              [lab.rtp_packet(i, i, 7, payload=b"x" * 100) for i in range(50)])
        t.eq(len(got), 50, f"restored {sid} relays 50 packets exactly")
    finally:
        cli.close()
        dst.close()
    t.eq(app.stop(), 0, "SIGTERM: exit 0")


def body(t):
    with lab.Lab() as L, RedisLab(L) as rl:
        cfg = su.state_config(rl, INSTANCE, extra=EXTRA)
        ctx = {}
        app = lab.Appliance(L, cfg)
        try:
            app.start()
            t.run("a burst of creates, SIGKILL in the middle", burst_and_kill, t, app, ctx)
            if "ok" in ctx:
                t.run("restart: store and appliance agree", after, t, L, rl, ctx)
        finally:
            app._kill()
            if "app2" in ctx and ctx["app2"].running():
                ctx["app2"]._kill()


if __name__ == "__main__":
    lab.main_wrapper("state_kill9", body)
