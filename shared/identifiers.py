"""Check characters of Chinese national identifiers.

- Resident ID number (GB 11643-1999): 6-digit address code, birth date
  YYYYMMDD, 3-digit sequence (odd: male), check character by ISO 7064 MOD 11-2.
- Unified social credit code (GB 32100-2015): 18 characters over an alphabet
  without I, O, S, V, Z; check character from weights 3^(i-1) mod 31.

Functions without third-party dependencies, so any service may import them ("today" is the
system's clock, shared/clock.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shared import clock

# Kinds of identity document; the first two carry a resident ID number (GB 11643).
ID_TYPES = (
    "resident_id",
    "household_register",
    "officer_card",
    "passport",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_residence",
)
RESIDENT_ID_TYPES = ("resident_id", "household_register")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CREDIT_SHAPE = re.compile(f"^[{CREDIT_ALPHABET}]{{18}}$")


class InvalidIdentifier(ValueError):
    """Why an identifier is not valid; ``rule`` names the check that failed."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    gender: str  # "male" or "female"
    region: str  # the 6-digit address code


def resident_id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS))
    return ID_CHECK[total % 11]


def parse_resident_id(number: str, today: dt.date | None = None) -> ResidentId:
    """Validate an 18-character resident ID number and read its birth date and gender."""
    number = (number or "").strip().upper()
    if not _ID_SHAPE.match(number):
        raise InvalidIdentifier(
            "format", "a resident ID number has 17 digits and a check digit or X (身份证号码格式错误)"
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdentifier(
            "birth_date", "the ID number's birth date is not a real date (身份证号码出生日期错误)"
        ) from None
    if birth > (today or clock.today()) or birth.year < 1900:
        raise InvalidIdentifier("birth_date", "the ID number's birth date is impossible (身份证号码出生日期错误)")
    if resident_id_check_char(number[:17]) != number[17]:
        raise InvalidIdentifier("check_digit", "the ID number's check digit is wrong (身份证号码校验位错误)")
    gender = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number, birth, gender, number[:6])


def is_valid_resident_id(number: str) -> bool:
    try:
        parse_resident_id(number)
    except InvalidIdentifier:
        return False
    return True


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(char) * weight for char, weight in zip(first17, CREDIT_WEIGHTS))
    value = 31 - total % 31
    return CREDIT_ALPHABET[0 if value == 31 else value]


def check_credit_code(code: str) -> str:
    """Validate a unified social credit code; returns it normalised to upper case."""
    code = (code or "").strip().upper()
    if not _CREDIT_SHAPE.match(code):
        raise InvalidIdentifier(
            "format",
            "a unified social credit code has 18 characters from 0-9 and "
            "A-Y without I, O, S, V, Z (统一社会信用代码格式错误)",
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise InvalidIdentifier(
            "check_character", "the unified social credit code's check character is wrong (统一社会信用代码校验位错误)"
        )
    return code


def is_valid_credit_code(code: str) -> bool:
    try:
        check_credit_code(code)
    except InvalidIdentifier:
        return False
    return True


def mask_id_number(id_number: str) -> str:
    """An ID number as it may be shown or logged: the first and last four characters only."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:] if len(id_number) > 8 else "****"
