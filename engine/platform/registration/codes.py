"""The identifiers a registration is checked against: 统一社会信用代码 (GB 32100-2015), administrative
division codes (GB/T 2260), industry sections (GB/T 4754-2017), applicant kinds and size classes.

Pure functions and constants; the names people read live in the web layer's catalogs.
"""

from __future__ import annotations

import re

# GB 32100-2015: 18 characters from 0-9 and the capitals without I, O, Z, S and V; the 18th is the
# check character over the first 17 with weights 3^(i-1) mod 31.
CREDIT_CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = tuple(pow(3, position, 31) for position in range(17))
CREDIT_CODE = re.compile(rf"\A[{CREDIT_CODE_CHARACTERS}]{{18}}\Z")

ENTERPRISE_KIND, INDIVIDUAL_BUSINESS, FARMER_COOPERATIVE = "enterprise", "individual_business", "farmer_cooperative"
APPLICANT_KINDS = (ENTERPRISE_KIND, INDIVIDUAL_BUSINESS, FARMER_COOPERATIVE)
# The code's first two characters: registered by market regulation (9), and the category: 1 enterprise,
# 2 个体工商户, 3 农民专业合作社 (GB 32100-2015, table 1 of the registration authorities' codes).
KIND_PREFIX = {ENTERPRISE_KIND: "91", INDIVIDUAL_BUSINESS: "92", FARMER_COOPERATIVE: "93"}
SIZE_CLASSES = ("micro", "small", "medium", "large")
# GB/T 4754-2017 门类 A..T (20 sections).
INDUSTRY_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")
# GB/T 2260 provinces, autonomous regions, municipalities and SARs: the first two digits of a division code.
PROVINCE_PREFIXES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
})
REGION_CODE = re.compile(r"\A\d{6}\Z")
# Hunan's 14 prefecture-level divisions (13 cities and 湘西 autonomous prefecture), for the form's list.
HUNAN_PREFECTURES = ("430100", "430200", "430300", "430400", "430500", "430600", "430700", "430800",
                     "430900", "431000", "431100", "431200", "431300", "433100")


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character of a code's first 17 characters (which must be of the code's alphabet)."""
    total = sum(CREDIT_CODE_CHARACTERS.index(character) * weight
                for character, weight in zip(first17, _WEIGHTS, strict=True))
    return CREDIT_CODE_CHARACTERS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """What is wrong with a unified social credit code (`format` or `check_character`), or None."""
    if not CREDIT_CODE.fullmatch(code):
        return "format"
    if credit_code_check_character(code[:17]) != code[17]:
        return "check_character"
    return None


def credit_code_is_valid(code: str) -> bool:
    return credit_code_problem(code) is None


def region_code_problem(code: str) -> str | None:
    """What is wrong with a division code (`format`, `province`), or None.

    Six digits whose first two name a province-level division; the other four are not checked
    against the (yearly revised) list, so that a new county's code is not refused.
    """
    if not REGION_CODE.fullmatch(code):
        return "format"
    if code[:2] not in PROVINCE_PREFIXES:
        return "province"
    return None
