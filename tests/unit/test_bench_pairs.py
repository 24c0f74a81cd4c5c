"""bench/pairs.py's arithmetic: what a pair compares, read from bench/run.py's results.json, and the table of the
pairs with each one's ratio and the median."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is a folder of scripts, not a package

from bench.pairs import figures, table  # noqa: E402


def results(per_second: float, consumers: float, review: float, other: float, clients: float) -> dict:
    """The part of a results.json that bench/pairs.py reads (bench/run.py writes much more)."""
    return {
        "social": [
            {
                "lifecycles_per_second": per_second,
                "failures": [],
                "cpu": {
                    "seconds_per_lifecycle": {
                        "system: consumers, relays, scheduler, dispatcher": consumers,
                        "system: review HTTP": review,
                        "system: other HTTP apps": other,
                        "benchmark clients (this process)": clients,
                        "PostgreSQL": 0.09,  # not the system's own code: left out of its CPU
                        "RabbitMQ": 0.07,
                    }
                },
            }
        ]
    }


def test_a_run_gives_its_throughput_the_systems_cpu_and_the_clients():
    found = figures(results(2.5, 0.3, 0.2, 0.1, 0.06))
    assert found["lifecycles_per_second"] == 2.5
    assert round(found["system_cpu"], 9) == 0.6
    assert found["clients_cpu"] == 0.06
    assert found["failed"] == 0


def test_the_table_gives_each_pairs_ratio_and_the_median_with_its_spread():
    pairs = [
        (figures(results(2.0, 0.4, 0.2, 0.2, 0.1)), figures(results(2.2, 0.36, 0.18, 0.18, 0.06))),
        (figures(results(2.0, 0.4, 0.2, 0.2, 0.1)), figures(results(3.0, 0.3, 0.15, 0.15, 0.06))),
        (figures(results(2.0, 0.4, 0.2, 0.2, 0.1)), figures(results(1.9, 0.4, 0.2, 0.2, 0.06))),
    ]
    text = table(pairs)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| 1 | 2.000 | 2.200 | 1.100 | 0.800 | 0.720 | 0.900 | 0.100 | 0.060 |")
    assert rows[2].startswith("| 2 | 2.000 | 3.000 | 1.500 | 0.800 | 0.600 | 0.750 |")
    assert rows[-1] == "| median | | | **1.100** (0.950-1.500) | | | **0.900** (0.750-1.000) | | |"
    assert "failed" not in text


def test_failed_lifecycles_are_said():
    failing = results(2.0, 0.4, 0.2, 0.2, 0.1)
    failing["social"][0]["failures"] = ["timed out"]
    text = table([(figures(results(2.0, 0.4, 0.2, 0.2, 0.1)), figures(failing))])
    assert "1 lifecycles failed in these runs" in text


def test_the_systems_cpu_against_the_clients_cancels_the_hosts_speed():
    """A host a fifth slower in the after run (every process's CPU a lifecycle up by a fifth, the clients' too)
    and a change that saved a tenth of the system's CPU: the relative figure shows the tenth."""
    before = figures(results(2.0, 0.4, 0.2, 0.2, 0.1))
    after = figures(results(1.8, 0.4 * 1.2 * 0.9, 0.2 * 1.2 * 0.9, 0.2 * 1.2 * 0.9, 0.1 * 1.2))
    text = table([(before, after), (before, figures(results(2.0, 0.4, 0.2, 0.2, 0.1)))])
    assert "after/before: 0.900, 1.000; median **0.950** (0.900-1.000)." in text
