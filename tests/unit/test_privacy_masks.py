"""Masked forms of personal data."""

from __future__ import annotations

import pytest

from engine.platform.privacy import mask_account, mask_id_number, mask_phone


@pytest.mark.parametrize(("value", "masked"), [
    ("13800138000", "138****8000"), ("0731-8888123", "073*****8123"), ("12345", "*****"), (None, None), ("", ""),
])
def test_phone_numbers_keep_the_prefix_and_last_four(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("430102198001011234", "430***********1234"), ("43010219800101123X", "430***********123X"), ("1234567", "*******"),
])
def test_id_numbers_keep_the_region_prefix_and_last_four(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("6222021234567890123", "***************0123"), ("1234", "****"), (None, None),
])
def test_accounts_keep_the_last_four(value, masked):
    assert mask_account(value) == masked
