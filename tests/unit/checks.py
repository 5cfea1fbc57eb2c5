"""The check/eq/summary helpers of the Python unit tests (the C ones have check.h)."""

passed = failed = 0


def check(cond, desc, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok    {desc}", flush=True)
    else:
        failed += 1
        print(f"  FAIL  {desc}" + (f": {detail}" if detail else ""), flush=True)
    return cond


def eq(got, want, desc):
    return check(got == want, desc, f"got {got!r}, want {want!r}")


def summary(name):
    """Print "NAME: N passed, M failed"; the exit status: 0 only if something passed and
    nothing failed."""
    print(f"{name}: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1
