"""The benchmark's timing rule (cxent._bench.interleaved_medians), on a fake clock: which calls
are timed, in what order, and what is left out."""

import pytest

from cxent import _bench


class FakeClock:
    """time.perf_counter for _bench: moves only when a timed function or a setup says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(_bench.time, "perf_counter", c)
    return c


def test_each_function_gets_its_own_median(clock):
    costs = {"a": [0.010, 0.010, 0.011, 0.050, 0.012], "b": [0.030] * 5}
    calls = {"a": 0, "b": 0}

    def make(name):
        def f():
            cost = costs[name][min(calls[name], len(costs[name]) - 1)]
            calls[name] += 1
            clock.now += cost
        return f

    res = _bench.interleaved_medians({"a": make("a"), "b": make("b")}, budget=0.0,
                                     min_rounds=3)
    # two warm-up calls each (0.010, 0.010 for a), then three rounds: a 0.011, 0.050, 0.012
    assert calls == {"a": 5, "b": 5}
    assert res == {"a": pytest.approx(0.012), "b": pytest.approx(0.030)}


def test_rounds_alternate_and_setups_are_untimed(clock):
    log = []

    def fn(name, cost):
        def f():
            log.append(name)
            clock.now += cost
        return f

    def setup():
        log.append("setup")
        clock.now += 1.0  # would dominate the median if it were timed

    fns = {"x": fn("x", 0.004), "y": fn("y", 0.005), "z": fn("z", 0.006)}
    res = _bench.interleaved_medians(fns, budget=0.05, min_rounds=3, setups={"z": setup})
    assert res == {"x": pytest.approx(0.004), "y": pytest.approx(0.005),
                   "z": pytest.approx(0.006)}
    assert log[:8] == ["x", "x", "y", "y", "setup", "z", "setup", "z"]  # the warm-up calls
    body = log[8:]
    rounds = [body[i:i + 4] for i in range(0, len(body), 4)]
    assert all(sorted(r) == ["setup", "x", "y", "z"] for r in rounds)
    assert all(r[r.index("setup") + 1] == "z" for r in rounds)  # each z right after its setup
    firsts = [r[0] for r in rounds[:3]]
    assert firsts == ["x", "y", "setup"]  # the order rotates: x y z, y z x, z x y
    assert len(rounds) == 3  # min_rounds: the setups alone took the budget


def test_fast_functions_are_timed_in_batches(clock):
    n = {"fast": 0, "slow": 0}

    def fast():
        n["fast"] += 1
        clock.now += 1e-5

    def slow():
        n["slow"] += 1
        clock.now += 1e-2

    res = _bench.interleaved_medians({"fast": fast, "slow": slow}, budget=0.0, min_rounds=4)
    assert res == {"fast": pytest.approx(1e-5), "slow": pytest.approx(1e-2)}
    assert n["slow"] == 2 + 4
    assert n["fast"] == 2 + 4 * 200  # 2 ms per turn: 200 calls of 10 us
