"""Enterprises register themselves under their real name (实名注册): codes.py (credit code, division,
industry and size checks), form.py (the form's problems as codes), commitment.py (the 信用承诺 text),
providers.py (SMS sender and identity verifier interfaces), service.py (start, resend, verify)."""

from engine.platform.registration.codes import credit_code_check_character, credit_code_is_valid
from engine.platform.registration.service import (
    EMAIL_CODE_TOPIC,
    Outcome,
    RegistrationSettings,
    Started,
    Waiting,
    resend,
    start,
    verify,
    waiting,
)

__all__ = ["EMAIL_CODE_TOPIC", "Outcome", "RegistrationSettings", "Started", "Waiting", "credit_code_check_character",
           "credit_code_is_valid", "resend", "start", "verify", "waiting"]
