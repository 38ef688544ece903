"""The 信用承诺 (credit commitment) a registering applicant accepts: a versioned text in zh and en.

The text is a document, not an interface string: it is kept here verbatim, and what is recorded
with each acceptance is its version, the language shown and the SHA-256 of exactly that text. A
changed text gets a new version; a form sent with an older version is shown the new text again.
"""

from __future__ import annotations

import hashlib

VERSION = "2026-11-v1"
TEXTS = {
    "zh": (
        "信用承诺书\n"
        "本单位（本人）在融资信用服务平台实名注册并申请融资，郑重承诺：\n"
        "一、所填报的统一社会信用代码、名称、法定代表人（经营者）、所在地区、所属行业、企业规模及联系方式"
        "等信息真实、准确、完整，如有变更及时更新；\n"
        "二、注册账号仅由本单位（本人）或经授权的人员使用，妥善保管密码与验证码；\n"
        "三、在平台提交的融资申请及补充材料真实有效，不提供虚假材料，不隐瞒影响融资的重大事项；\n"
        "四、依法依规使用所获融资，按约定履行还款等义务；\n"
        "五、同意平台依照有关规定，将违背本承诺的情况记入信用记录，并依法依规承担相应责任。\n"
        "本承诺自确认之日起生效。"
    ),
    "en": (
        "Credit commitment\n"
        "Registering under its real name on the financing credit service platform and applying for "
        "financing, the applicant solemnly undertakes:\n"
        "1. that the unified social credit code, name, legal representative (operator), region, industry, "
        "size and contact data it gives are true, accurate and complete, and will be kept up to date;\n"
        "2. that the account is used only by the applicant or persons it has authorized, who keep the "
        "password and verification codes safe;\n"
        "3. that applications and material submitted on the platform are true and valid, with no false "
        "material and no material fact concealed;\n"
        "4. to use any financing obtained lawfully and to meet the agreed obligations such as repayment;\n"
        "5. that the platform may, as the rules provide, record a breach of this commitment in its credit "
        "record, with the liability the law attaches.\n"
        "This commitment takes effect on the day it is confirmed."
    ),
}


def text(language: str) -> str:
    """The commitment in `language` (Chinese unless English is asked for)."""
    return TEXTS["en" if language == "en" else "zh"]


def sha256_of(language: str) -> str:
    return hashlib.sha256(text(language).encode("utf-8")).hexdigest()
