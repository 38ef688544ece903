"""Passwords are stored as salted scrypt hashes outside the test suite."""

from __future__ import annotations

from werkzeug.security import check_password_hash

from engine.platform import access


def test_the_production_method_is_scrypt(monkeypatch):
    monkeypatch.undo()  # the suite's cheap method, set by an autouse fixture, is taken away
    assert access.PASSWORD_HASH_METHOD == "scrypt"
    stored = access.hash_password("correct horse battery staple")
    assert stored.startswith("scrypt:32768:8:1$") and "correct horse" not in stored
    assert check_password_hash(stored, "correct horse battery staple")
    assert not check_password_hash(stored, "Correct horse battery staple")
    assert access.hash_password("correct horse battery staple") != stored  # salted
