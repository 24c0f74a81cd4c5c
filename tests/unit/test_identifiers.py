"""GB 11643 resident ID numbers and GB 32100 credit codes on published examples and mutations."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.identifiers import (
    CREDIT_ALPHABET,
    InvalidIdentifier,
    check_credit_code,
    credit_code_check_char,
    is_valid_credit_code,
    is_valid_resident_id,
    parse_resident_id,
    resident_id_check_char,
)

GB_SAMPLE = "11010519491231002X"  # the standard's own example
PUBLISHED_CODES = ["9144030071526726XG", "914403001922038216", "91330100716105852F"]  # Tencent, Huawei, Alibaba


def test_the_standards_sample_passes_and_reads_birth_and_gender():
    parsed = parse_resident_id(GB_SAMPLE)
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "female"  # 17th digit 2 is even
    assert parsed.region == "110105"
    assert resident_id_check_char(GB_SAMPLE[:17]) == "X"


def test_lower_case_x_is_accepted():
    assert parse_resident_id(GB_SAMPLE.lower()).number == GB_SAMPLE


def test_the_demo_applicant_is_a_valid_tianjin_male():
    parsed = parse_resident_id("120101198806120032")
    assert (parsed.birth_date, parsed.gender) == (dt.date(1988, 6, 12), "male")


@pytest.mark.parametrize("position", range(18))
def test_every_single_digit_change_of_the_sample_is_caught(position):
    for replacement in "0123456789X":
        if replacement == GB_SAMPLE[position] or (replacement == "X" and position != 17):
            continue
        mutated = GB_SAMPLE[:position] + replacement + GB_SAMPLE[position + 1 :]
        assert not is_valid_resident_id(mutated), mutated


def test_swapping_adjacent_digits_is_caught():
    for i in range(16):
        if GB_SAMPLE[i] != GB_SAMPLE[i + 1]:
            swapped = GB_SAMPLE[:i] + GB_SAMPLE[i + 1] + GB_SAMPLE[i] + GB_SAMPLE[i + 2 :]
            assert not is_valid_resident_id(swapped), swapped


@pytest.mark.parametrize(
    "number, rule",
    [
        ("11010519491231002", "format"),
        ("11010519491231002XX", "format"),
        ("1101051949123100AX", "format"),
        ("110105194913310021", "birth_date"),  # month 13
        ("11010519490230002X", "birth_date"),  # 30 February
        ("11010519491231002Y", "format"),
        ("110105194912310021", "check_digit"),
    ],
)
def test_malformed_numbers_name_the_failed_rule(number, rule):
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id(number)
    assert caught.value.rule == rule


def test_a_birth_date_in_the_future_is_impossible():
    first17 = "12010120990101003"
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id(first17 + resident_id_check_char(first17), today=dt.date(2026, 1, 1))
    assert caught.value.rule == "birth_date"


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_credit_codes_pass(code):
    assert check_credit_code(code) == code
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_every_single_character_change_of_a_credit_code_is_caught(code):
    for position in range(18):
        for replacement in CREDIT_ALPHABET:
            if replacement != code[position]:
                mutated = code[:position] + replacement + code[position + 1 :]
                assert not is_valid_credit_code(mutated), mutated


def test_an_early_legal_code_fails_the_check():
    with pytest.raises(InvalidIdentifier) as caught:
        check_credit_code("91350100M0001TGQXM")
    assert caught.value.rule == "check_character"


@pytest.mark.parametrize(
    "code",
    [
        "9144030071526726X",
        "9144030071526726XGG",
        "9144030071526726IG",
        "9144030071526726OG",
        "9144030071526726SG",
        "91440300715267-6XG",
    ],
)
def test_malformed_credit_codes_are_format_errors(code):
    with pytest.raises(InvalidIdentifier) as caught:
        check_credit_code(code)
    assert caught.value.rule == "format"


def test_a_check_value_of_31_is_written_as_zero():
    # search a prefix whose weighted sum is a multiple of 31
    for n in range(10_000):
        prefix = f"91120000{n:09d}"
        total = sum(CREDIT_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(prefix))
        if total % 31 == 0:
            assert credit_code_check_char(prefix) == "0"
            assert is_valid_credit_code(prefix + "0")
            return
    pytest.fail("no prefix found")


def test_the_demo_directory_codes_pass():
    import json
    from importlib import resources

    directory = json.loads(resources.files("shared.demo").joinpath("directory.json").read_text("utf-8"))
    for org in directory["organisations"]:
        assert is_valid_credit_code(org["code"]), org
