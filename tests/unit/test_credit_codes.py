"""统一社会信用代码 (GB 32100-2015) check characters and administrative division codes (GB/T 2260)."""

from __future__ import annotations

import pytest

from engine.platform.registration.codes import (
    credit_code_check_character,
    credit_code_is_valid,
    credit_code_problem,
    region_code_problem,
)
from tests.registration_helpers import PUBLISHED_CODES


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_codes_have_the_right_check_character(code):
    assert credit_code_is_valid(code)
    assert credit_code_check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_every_other_check_character_is_refused(code):
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for wrong in alphabet.replace(code[17], ""):
        assert credit_code_problem(code[:17] + wrong) == "check_character"


def test_a_changed_character_in_the_body_is_caught():
    code = PUBLISHED_CODES[0]  # 91440300708461136T
    assert credit_code_problem("91440300708461137T") == "check_character"
    assert credit_code_problem(code[:3] + code[4] + code[3] + code[5:]) == "check_character"  # two swapped


def test_a_check_sum_of_zero_gives_the_character_zero():
    body = "00000000000000000"
    assert credit_code_check_character(body) == "0"


@pytest.mark.parametrize("code", [
    "", "91440300708461136", "91440300708461136TT",  # 17 and 19 characters
    "91440300708461136t",  # lower case
    "9144030070846113IT", "9144030070846113OT", "9144030070846113ZT", "9144030070846113ST",
    "9144030070846113VT",  # letters outside the code's alphabet
    "91440300-08461136T", "９1440300708461136T",  # punctuation, a full-width digit
])
def test_wrong_length_or_characters_are_refused_as_format(code):
    assert credit_code_problem(code) == "format"
    assert not credit_code_is_valid(code)


@pytest.mark.parametrize("code", ["430100", "430000", "433130", "110105", "820000", "710000"])
def test_division_codes_of_existing_provinces_pass(code):
    assert region_code_problem(code) is None


@pytest.mark.parametrize("code,problem", [("4301", "format"), ("43010a", "format"), ("4301000", "format"),
                                          ("000000", "province"), ("100100", "province"),
                                          ("990100", "province"), ("", "format")])
def test_malformed_division_codes_are_refused(code, problem):
    assert region_code_problem(code) == problem
