"""time_calls: measures what it is given, interleaved, and rejects empty input."""

import time

import pytest

from littlebook.timing import best_time, time_calls


def test_a_slower_call_measures_slower():
    times = time_calls({"sleep": lambda: time.sleep(0.002), "nothing": lambda: None}, rounds=3)
    assert times["sleep"] >= 0.002  # a sleep never returns early
    assert times["nothing"] < times["sleep"]


def test_clock_chooses_what_is_measured():
    # a sleeping program uses almost no processor time: the wall clock counts the sleep, process_time does not
    wall = best_time(lambda: time.sleep(0.002), rounds=2)
    cpu = best_time(lambda: time.sleep(0.002), rounds=2, clock=time.process_time)
    assert wall >= 0.002 and cpu < 0.001
    spin = time_calls({"spin": lambda: sum(range(20_000))}, rounds=2, clock=time.process_time)["spin"]
    assert spin > 0


def test_best_time_counts_calls():
    calls = []
    t = best_time(lambda: calls.append(1), rounds=2, seconds_per_round=0.001)
    assert t > 0 and len(calls) >= 3  # warm-up call plus at least one call per round


def test_bad_arguments():
    with pytest.raises(ValueError, match="time_calls"):
        time_calls({})
    with pytest.raises(ValueError, match="rounds"):
        time_calls({"f": lambda: None}, rounds=0)
