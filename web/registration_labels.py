"""Names of what a registration records, in the reader's language: applicant kinds, GB/T 4754 sections,
size classes, Hunan's prefecture-level divisions; and the registration problems' wording."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

APPLICANT_KIND = {"enterprise": _l("Enterprise"), "individual_business": _l("Individual business (个体工商户)"),
                  "farmer_cooperative": _l("Farmers' specialized cooperative (农民专业合作社)")}
SIZE_CLASS = {"micro": _l("Micro"), "small": _l("Small"), "medium": _l("Medium"), "large": _l("Large")}
# GB/T 4754-2017, the 20 sections (门类).
INDUSTRY_SECTION = {
    "A": _l("Agriculture, forestry, animal husbandry and fishery"), "B": _l("Mining"), "C": _l("Manufacturing"),
    "D": _l("Production and supply of electricity, heat, gas and water"), "E": _l("Construction"),
    "F": _l("Wholesale and retail trade"), "G": _l("Transport, storage and postal services"),
    "H": _l("Accommodation and catering"),
    "I": _l("Information transmission, software and information technology services"), "J": _l("Finance"),
    "K": _l("Real estate"), "L": _l("Leasing and business services"),
    "M": _l("Scientific research and technical services"),
    "N": _l("Water conservancy, environment and public facilities management"),
    "O": _l("Resident services, repair and other services"), "P": _l("Education"),
    "Q": _l("Health and social work"), "R": _l("Culture, sports and entertainment"),
    "S": _l("Public administration, social security and social organizations"),
    "T": _l("International organizations"),
}
HUNAN_PREFECTURE = {
    "430100": _l("Changsha"), "430200": _l("Zhuzhou"), "430300": _l("Xiangtan"), "430400": _l("Hengyang"),
    "430500": _l("Shaoyang"), "430600": _l("Yueyang"), "430700": _l("Changde"), "430800": _l("Zhangjiajie"),
    "430900": _l("Yiyang"), "431000": _l("Chenzhou"), "431100": _l("Yongzhou"), "431200": _l("Huaihua"),
    "431300": _l("Loudi"), "433100": _l("Xiangxi Tujia and Miao Autonomous Prefecture"),
}
IDENTITY_STATUS = {"pending": _l("Waiting for manual review"), "verified": _l("Verified"),
                   "refused": _l("Refused")}
IDENTITY_METHOD = {"manual_review": _l("Manual review"), "test_double": _l("TEST DOUBLE (no real check)")}
# engine.platform.registration.form's problem codes.
PROBLEM = {
    "required": _l("Missing data for required field."),
    "length": _l("Between %(min)s and %(max)s characters."),
    "control": _l("Control characters are not allowed."),
    "choose": _l("Choose one of the options."),
    "credit_code_format": _l("18 characters: digits and capital letters other than I, O, Z, S and V."),
    "credit_code_check": _l("The last character is not this code's check character (GB 32100); check the code."),
    "credit_code_kind": _l("This kind of applicant has a code beginning with %(prefix)s."),
    "credit_code_taken": _l("This unified social credit code is registered already. If it is yours, contact the "
                            "platform's operator."),
    "region_format": _l("Six digits (administrative division code)."),
    "region_province": _l("No province-level division begins with these two digits."),
    "username_rule": _l("3 to 100 letters, digits, dots, hyphens, underscores or @."),
    "username_taken": _l("This username is taken."),
    "email_format": _l("Not a valid e-mail address."),
    "phone_format": _l("A mobile number of 11 digits."),
    "sms_unavailable": _l("Codes by text message are not available: no SMS provider is configured."),
    "email_unavailable": _l("Codes by e-mail are not available: no mail server is configured."),
    "password_short": _l("At least %(min)s characters."),
    "password_long": _l("At most %(max)s characters."),
    "passwords_differ": _l("The two passwords are not the same."),
    "commitment_required": _l("Registration needs the credit commitment accepted."),
    "commitment_changed": _l("The credit commitment was revised; read the new text and accept it again."),
}


def worded(problems: dict[str, list[tuple[str, dict[str, Any]]]] | None) -> dict[str, list[str]]:
    """Each field's problems in the reader's language."""
    return {name: [str(PROBLEM[code]) % params if params else str(PROBLEM[code]) for code, params in found]
            for name, found in (problems or {}).items()}


def region_name(code: str | None) -> str:
    if not code:
        return ""
    return f"{code} {HUNAN_PREFECTURE[code]}" if code in HUNAN_PREFECTURE else code
