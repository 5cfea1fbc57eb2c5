"""What the state backend's tests (test_state_*.py, scripts/state_restore_cost.py) share: the
[state] config, creating many sessions through gRPC futures, reading the store (proto/state.proto
records through redis-py) and the appliance (ListSessions), and comparing the two key by key."""

import collections
import time

import lab

PREFIX = "rtpproxy:"


def state_config(redis_lab, instance, checkpoint_secs=1, restore_wait_secs=10, extra=None):
    cfg = {"state": {"backend": "redis", "redis": redis_lab.address, "instance": instance,
                     "checkpoint_secs": str(checkpoint_secs),
                     "restore_wait_secs": str(restore_wait_secs)}}
    for sec, kv in (extra or {}).items():
        cfg.setdefault(sec, {}).update(kv)
    return cfg


def state_pb2():
    lab.pb2()                           # puts the build's proto directory on sys.path
    import state_pb2
    return state_pb2


def health_check(app):
    """grpc.health.v1 Check("") on the appliance's channel: a callable -> status or None."""
    lab.pb2()
    import health_pb2 as hp
    call = app.channel.unary_unary("/grpc.health.v1.Health/Check",
                                   request_serializer=hp.HealthCheckRequest.SerializeToString,
                                   response_deserializer=hp.HealthCheckResponse.FromString)

    def status():
        resp = lab.rpc_status(call, hp.HealthCheckRequest(), timeout=2)[2]
        return resp.status if resp is not None else None
    return status, hp.HealthCheckResponse.SERVING


def create_many(app, requests, in_flight=64, timeout=60):
    """CreateSession for every request with IN_FLIGHT futures: ([SessionInfo...], [errors])."""
    import grpc
    call = app.stub.CreateSession.raw
    pending = collections.deque()
    made, failed = [], []

    def settle():
        req, fut = pending.popleft()
        try:
            made.append(fut.result().session)
        except grpc.RpcError as e:
            failed.append(f"{req.session_id}: {e.code().name} {e.details()}")
    for req in requests:
        if len(pending) >= in_flight:
            settle()
        pending.append((req, call.future(req, timeout=timeout)))
    while pending:
        settle()
    return made, failed


def destroy_many(app, ids, in_flight=64, timeout=60):
    import grpc
    pb = lab.pb2()
    call = app.stub.DestroySession.raw
    pending = collections.deque()
    failed = []

    def settle():
        sid, fut = pending.popleft()
        try:
            fut.result()
        except grpc.RpcError as e:
            failed.append(f"{sid}: {e.code().name} {e.details()}")
    for sid in ids:
        if len(pending) >= in_flight:
            settle()
        pending.append((sid, call.future(pb.DestroySessionRequest(session_id=sid),
                                         timeout=timeout)))
    while pending:
        settle()
    return failed


def list_all(app, states=None):
    """Every session the appliance shows (ListSessions pages): {id: SessionInfo}."""
    pb = lab.pb2()
    out, token = {}, ""
    for _ in range(10000):
        resp = app.stub.ListSessions(pb.ListSessionsRequest(page_size=10000, page_token=token,
                                                            states=states or []), timeout=60)
        for s in resp.sessions:
            out[s.session_id] = s
        token = resp.next_page_token
        if not token:
            break
    return out


def store_sessions(redis_lab, instance, prefix=PREFIX):
    """{id: (StoredSession, StoredCounters or None)} of every session key of INSTANCE."""
    sp = state_pb2()
    r = redis_lab.client
    base = f"{prefix}{instance}:"
    out = {}
    keys = list(r.scan_iter(match=base + "*", count=1000))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.hmget(k, "def", "ctr")
    for k, (d, c) in zip(keys, pipe.execute()):
        sid = k.decode()[len(base):]
        sd = sp.StoredSession.FromString(d) if d is not None else None
        sc = sp.StoredCounters.FromString(c) if c is not None else None
        out[sid] = (sd, sc)
    return out


def ep(e):
    return (e.address, e.port)


def definition(info):
    """What must match between the appliance and the store, from a SessionInfo."""
    return (info.session_id, ep(info.listen_endpoint), ep(info.forward_endpoint),
            ep(info.destination_endpoint), info.transport, info.enable_rtcp,
            info.bidirectional, info.idle_timeout_secs, info.latch_mode, info.strict_source,
            info.created_unix_ms, info.state, tuple(sorted(info.labels.items())))


def stored_definition(sd):
    r = sd.request
    return (r.session_id, ep(r.listen_endpoint), ep(r.forward_endpoint),
            ep(r.destination_endpoint), r.transport, r.enable_rtcp, r.bidirectional,
            r.idle_timeout_secs, r.latch_mode, r.strict_source, sd.created_unix_ms, sd.state,
            tuple(sorted(r.labels.items())))


def compare_store(app, redis_lab, instance):
    """Differences between what the appliance runs (sessions not CLOSED) and the store: a list
    of strings, empty when they match key by key (same ids, same definitions, no half-written
    key: every key has its "def")."""
    pb = lab.pb2()
    live = {k: v for k, v in list_all(app).items() if v.state != pb.SESSION_STATE_CLOSED}
    stored = store_sessions(redis_lab, instance)
    diffs = []
    for sid in sorted(set(live) - set(stored))[:5]:
        diffs.append(f"{sid}: running, not in the store")
    for sid in sorted(set(stored) - set(live))[:5]:
        diffs.append(f"{sid}: in the store, not running")
    n = 0
    for sid in set(live) & set(stored):
        sd = stored[sid][0]
        if sd is None:
            diffs.append(f"{sid}: key without def (half-written)")
        elif stored_definition(sd) != definition(live[sid]):
            diffs.append(f"{sid}: store {stored_definition(sd)} != appliance "
                         f"{definition(live[sid])}")
        else:
            continue
        n += 1
        if n >= 5:
            break
    if len(live) != len(stored):
        diffs.append(f"{len(live)} running, {len(stored)} stored")
    return diffs


def wait_store_matches(app, redis_lab, instance, timeout):
    """Poll compare_store until it is empty or TIMEOUT passes: (diffs, seconds)."""
    t0 = time.monotonic()
    ok = lab.wait_until(lambda: not compare_store(app, redis_lab, instance), timeout,
                        interval=0.25)
    return ([] if ok else compare_store(app, redis_lab, instance)), time.monotonic() - t0


def backend(app):
    """GetProxyStats.state (StateBackendStats)."""
    return app.proxy_stats().state
