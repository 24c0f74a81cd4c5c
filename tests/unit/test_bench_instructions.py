"""bench/instructions.py reads cachegrind's count of instructions off its summary."""

from bench.instructions import instructions_in


def test_the_count_is_read_off_cachegrinds_summary():
    report = "==13855== Command: python x.py\n==13855==\n==13855== I   refs:      7,062,557,103\n"
    assert instructions_in(report) == 7_062_557_103


def test_a_report_without_the_count_gives_none():
    assert instructions_in("valgrind: the 'cachegrind' tool is not installed\n") is None
