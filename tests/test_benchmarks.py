"""The benchmark's own bookkeeping: floors, steal, and the median over repeated processes (not its timings)."""

import pytest

from benchmarks import common, repeat


@pytest.fixture(autouse=True)
def fresh_results(monkeypatch):
    monkeypatch.setattr(common, "RESULTS", [])
    monkeypatch.setattr(common, "NUMBERS", {})


def test_floor_verdict_says_when_a_target_is_below_the_floor():
    assert "unreachable" in common.floor_verdict(0.73, 0.6)
    assert "leaves 0.10×" in common.floor_verdict(0.5, 0.6)


def test_record_keeps_numbers_only_with_a_limit():
    assert common.record("a", "0.70×", "≤ 0.6×", False, number=0.7, limit=0.6) == "FAIL"
    assert common.record("b", "n", "t", None) == "n/a"
    assert list(common.NUMBERS) == ["a"]
    assert common.NUMBERS["a"]["limit"] == 0.6 and not common.NUMBERS["a"]["higher"]


def test_the_median_decides_not_the_best_or_the_first_run():
    ratio = {"number": 0.5, "limit": 0.6, "higher": False, "format": "{:.2f}×", "target": "≤ 0.6×"}
    share = {"number": 0.9, "limit": 0.8, "higher": True, "format": "{:.0%}", "target": "≥ 80%"}
    runs = [{"ratio": ratio, "share": share},
            {"ratio": dict(ratio, number=0.7), "share": dict(share, number=0.7)},
            {"ratio": dict(ratio, number=0.65), "share": dict(share, number=0.85)}]
    lines = repeat.summarise(runs)
    assert lines[0].startswith("FAIL") and "median  0.65×" in lines[0]  # 0.5 in the first run would PASS
    assert lines[1].startswith("PASS") and "median    85%" in lines[1]
    assert common.RESULTS == [("ratio (median of 3)", "0.65×", "≤ 0.6×", False),
                              ("share (median of 3)", "85%", "≥ 80%", True)]


def test_a_figure_missing_from_a_run_is_judged_on_the_runs_that_have_it():
    ratio = {"number": 0.5, "limit": 0.6, "higher": False, "format": "{:.2f}×", "target": "≤ 0.6×"}
    repeat.summarise([{"ratio": ratio}, {}, {"ratio": dict(ratio, number=0.9)}])
    assert common.RESULTS == [("ratio (median of 2)", "0.70×", "≤ 0.6×", False)]


def test_tables_of_drops_the_machine_lines_and_the_summary():
    out = "title\n  CPU x\n  malloc y\n\nMLP step\nrow 1\n\nSummary (issue 18 targets)\nFAIL a\n"
    assert repeat.tables_of(out) == "\nMLP step\nrow 1"


def test_steal_is_the_share_of_stolen_time_since_the_start(monkeypatch):
    monkeypatch.setattr(common, "cpu_times", lambda: (1100.0, 15.0))
    assert common.steal_since((1000.0, 10.0)) == "steal 5.0 % of CPU time"
    assert common.steal_since(None) == "steal unknown"
