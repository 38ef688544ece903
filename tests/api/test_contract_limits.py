"""The API's contract holds for any input: JSON errors with a request id, limits, no oracle, a truthful document."""

from __future__ import annotations

import io
import json
import logging
import re

import jsonschema_rs
import pytest
import sqlalchemy as sa
from flask import Response
from werkzeug.test import EnvironBuilder

from engine.loans import commands, queries
from engine.models import LoanApplication, UserAccount
from engine.platform.access import SYSTEM_ADMIN, create_user, issue_user_token
from engine.workflow.errors import ValidationFailed
from engine.workflow.timers import sweep_due_timers
from tests.api.conftest import Caller
from tests.conftest import application_input, cst, scalar

APPLICATIONS = "/api/v1/applications"
EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:59:59+00:00",
                 "2201-01-01T00:00:00+00:00", "2026-09-30T10:00:00", "2026-09-30", "not a time"]
MEBIBYTE = 1024 * 1024


def _submit(callers, parties, clock, **overrides) -> str:
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), **overrides))
    assert response.status_code == 201, response.json
    return response.json["reference"]


def _post_raw(caller: Caller, path: str, body: str | bytes, **kwargs):
    return caller.client.post(path, data=body, content_type="application/json", headers=caller._headers(), **kwargs)


def _assert_json_error(response, status: int, field: str | None = None) -> dict:
    """A JSON error of the documented shape, its request id also in the header; never HTML."""
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json", response.get_data()[:300]
    body = response.json
    assert {"code", "message", "errors", "request_id"} <= set(body), body
    assert body["request_id"] and body["request_id"] == response.headers["X-Request-Id"]
    if field is not None:
        assert field in body["errors"], body
    return body


# 1. Input that used to raise: extreme or naive times, deep nesting, lone surrogates

@pytest.mark.parametrize("value", EXTREME_TIMES)
@pytest.mark.parametrize("field", ["granted_at", "expires_at"])
def test_extreme_or_naive_authorization_times_are_field_errors(callers, parties, clock, field, value):
    data = application_input(parties, clock.now())
    data["authorization"][field] = value
    _assert_json_error(callers.enterprise.post(APPLICATIONS, data), 422, f"authorization.{field}")


@pytest.mark.parametrize("value", EXTREME_TIMES)
@pytest.mark.parametrize("field", ["due_before", "updated_since"])
def test_extreme_or_naive_times_in_list_filters_are_field_errors(callers, field, value):
    response = callers.bank_a.get(APPLICATIONS, query_string={field: value})
    _assert_json_error(response, 422, field)


def test_times_at_the_edges_of_the_allowed_years_are_accepted(callers):
    for value in ("1900-01-01T00:00:00+14:00", "2200-12-31T23:59:59-14:00"):
        assert callers.bank_a.get(APPLICATIONS, query_string={"due_before": value}).status_code == 200


def test_the_engine_refuses_extreme_times_without_the_web_layer(parties, clock):
    data = application_input(parties, clock.now())
    data["authorization"]["expires_at"] = "9999-12-31T23:59:59-14:00"
    with pytest.raises(ValidationFailed) as refused:
        commands.load(commands.SubmitSchema, data)
    assert "authorization.expires_at" in refused.value.errors


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_json_nested_deeper_than_32_levels_is_a_400(callers, depth):
    body = '{"purpose": ' + "[" * depth + "]" * depth + "}"
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, body), 400)


def test_json_nested_32_levels_deep_reaches_validation(callers):
    body = '{"purpose": ' + "[" * 31 + "]" * 31 + "}"  # the object itself is the first level
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, body), 422, "purpose")


@pytest.mark.parametrize(("body", "field"), [
    ('{"purpose": "\\ud800"}', "purpose"),
    ('{"purpose": "ok \\udfff ok"}', "purpose"),
    ('{"authorization": {"scope": "\\udbff"}}', "authorization.scope"),
    ('{"\\ud800": 1}', "_schema"),
])
def test_lone_surrogates_anywhere_in_json_are_a_400(callers, body, field):
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, body), 400, field)


def test_a_lone_surrogate_in_a_whole_submission_or_a_sign_in_changes_nothing(callers, parties, clock, engine):
    data = {**application_input(parties, clock.now()), "purpose": "x\ud800y"}
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, json.dumps(data)), 400, "purpose")
    _assert_json_error(_post_raw(Caller(callers.anonymous, ""), "/api/v1/tokens",
                                 '{"username": "\\ud800", "password": "x"}'), 400, "username")
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0


@pytest.mark.parametrize("body", ['{"amount": NaN}', '{"amount": Infinity}', "{", "\xff\xfe",
                                  '{"a": ' + "9" * 5000 + "}"])
def test_bodies_that_are_not_json_are_a_400(callers, body):
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, body.encode("latin-1")), 400)


# Every error on /api/v1 is JSON with a request id

def test_unknown_routes_wrong_methods_and_bad_json_are_json_errors(callers):
    _assert_json_error(callers.bank_a.get("/api/v1/no-such-thing"), 404)
    _assert_json_error(callers.anonymous.post("/api/v1/no-such-thing", json={}), 404)
    not_allowed = callers.bank_a.client.delete(APPLICATIONS, headers=callers.bank_a._headers())
    _assert_json_error(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, "{not json"), 400)
    _assert_json_error(callers.anonymous.get(APPLICATIONS), 401)


def test_pages_keep_their_html_error_pages(callers):
    missing = callers.anonymous.get("/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "X-Request-Id" not in missing.headers


def test_a_sane_request_id_is_kept_and_anything_else_is_replaced(callers):
    kept = callers.bank_a.get("/api/v1/no-such-thing", headers={"X-Request-Id": "bank-a:2026-09-30.0001"})
    assert _assert_json_error(kept, 404)["request_id"] == "bank-a:2026-09-30.0001"
    assert callers.bank_a.get(APPLICATIONS, headers={"X-Request-Id": "ok-1"}).headers["X-Request-Id"] == "ok-1"
    for odd in ("has space", "x" * 101, "<script>", "semi;colon", ""):
        replaced = callers.bank_a.get("/api/v1/no-such-thing", headers={"X-Request-Id": odd})
        assert re.fullmatch(r"[0-9a-f]{32}", _assert_json_error(replaced, 404)["request_id"]), odd


def test_an_unexpected_error_is_a_json_500_whose_request_id_is_in_the_log(callers, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: table loan_application, id 4")

    monkeypatch.setattr(queries, "list_applications", broken)
    with caplog.at_level(logging.ERROR):
        response = callers.bank_a.get(APPLICATIONS, headers={"X-Request-Id": "trace-me-500"})
    body = _assert_json_error(response, 500)
    assert body["request_id"] == "trace-me-500"
    assert "secret" not in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)
    logged = [record for record in caplog.records if "trace-me-500" in record.getMessage()]
    assert logged and logged[0].exc_info and "secret internals" in str(logged[0].exc_info[1])


# 2. Request size

class _EndlessBody(io.RawIOBase):
    """A client body that never ends, counting what the server read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - io protocol
        buffer[:] = b" " * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def test_a_body_over_the_limit_is_a_413_on_the_api_and_on_the_pages(callers):
    oversized = b'{"purpose": "' + b"x" * MEBIBYTE + b'"}'
    _assert_json_error(_post_raw(callers.enterprise, APPLICATIONS, oversized), 413)
    _assert_json_error(callers.anonymous.post("/api/v1/tokens", data=oversized, content_type="application/json"), 413)
    page = callers.anonymous.post("/login", data=b"username=" + b"x" * MEBIBYTE,
                                  content_type="application/x-www-form-urlencoded")
    assert page.status_code == 413 and page.mimetype == "text/html"


def _post_stream(app, path: str, body: _EndlessBody, content_type: str, length: int | None):
    """POST `body` as a server would hand it over: with a Content-Length, or de-chunked without one
    (a server that de-chunks Transfer-Encoding: chunked says so with wsgi.input_terminated)."""
    environ = EnvironBuilder(path=path, method="POST", content_type=content_type).get_environ()
    environ["wsgi.input"] = body
    if length is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(length)
    response = Response.from_app(app, environ)
    return response


def test_a_200_megabyte_post_is_refused_without_reading_it(app):
    body = _EndlessBody()
    response = _post_stream(app, "/api/v1/tokens", body, "application/json", 200 * MEBIBYTE)
    _assert_json_error(response, 413)
    assert body.read_bytes == 0


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit_with_a_413(app):
    body = _EndlessBody()
    _assert_json_error(_post_stream(app, "/api/v1/tokens", body, "application/json", None), 413)
    assert body.read_bytes <= MEBIBYTE + 64 * 1024
    page = _post_stream(app, "/login", _EndlessBody(), "application/x-www-form-urlencoded", None)
    assert page.status_code == 413 and page.mimetype == "text/html"


def test_a_body_under_the_limit_is_read(callers, parties, clock):
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), purpose="x" * 900_000))
    _assert_json_error(response, 422, "purpose")  # too long a purpose, but read and answered


# 3. Money, rates, text

@pytest.mark.parametrize("amount", ["１００", "١٠٠", "100\n", " 100", "100 ", "1e5", "+100", "100.", ".5",
                                    "1_000", "0x10", "NaN", "100.001", "1234567890123456"])
def test_money_other_than_ascii_digits_with_two_places_is_refused(callers, parties, clock, amount):
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), amount=amount))
    _assert_json_error(response, 422, "amount")
    with pytest.raises(ValidationFailed) as refused:
        commands.load(commands.SubmitSchema, application_input(parties, clock.now(), amount=amount))
    assert "amount" in refused.value.errors


@pytest.mark.parametrize("rate", ["３.85", "٣.85", "3.85\n", " 3.85", "3.12345", "100", "1e1"])
def test_rates_other_than_ascii_digits_with_four_places_are_refused(callers, parties, clock, rate):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"{APPLICATIONS}/{reference}/accept", {})
    response = callers.bank_a.post(f"{APPLICATIONS}/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": rate, "term_months": 12})
    _assert_json_error(response, 422, "annual_rate")
    with pytest.raises(ValidationFailed) as refused:
        commands.load(commands.ApproveSchema, {"amount": "400000.00", "annual_rate": rate, "term_months": 12})
    assert "annual_rate" in refused.value.errors


def test_money_in_the_engine_still_takes_decimals_and_plain_strings(parties, clock):
    loaded = commands.load(commands.ApproveSchema, {"amount": "400000.5", "annual_rate": "3.85", "term_months": 12})
    assert (str(loaded["amount"]), str(loaded["annual_rate"])) == ("400000.5", "3.85")


def test_text_with_percent_zero_zero_is_accepted_and_a_real_nul_is_not(callers, parties, clock):
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), purpose="50%00"))
    assert response.status_code == 201, response.json
    assert response.json["purpose"] == "50%00"
    backslash_text = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(),
                                                                             purpose="C:\\u0000"))
    assert backslash_text.status_code == 201 and backslash_text.json["purpose"] == "C:\\u0000"
    real_nul = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), purpose="50\x00"))
    _assert_json_error(real_nul, 400)
    _assert_json_error(callers.bank_a.get(f"{APPLICATIONS}?status=%00"), 400)


@pytest.mark.parametrize(("change", "field"), [
    ({"purpose": "bell \x07"}, "purpose"),
    ({"purpose": "escape \x1b[31m"}, "purpose"),
    ({"purpose": "c1 \x85"}, "purpose"),
    ({"authorization": {"scope": "line\nbreak", "granted_by": "ent-user",
                        "granted_at": "2026-09-30T10:00:00+08:00", "expires_at": "2026-12-30T10:00:00+08:00"}},
     "authorization.scope"),
])
def test_control_characters_in_text_are_refused(callers, parties, clock, change, field):
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), **change))
    _assert_json_error(response, 422, field)


def test_multi_line_text_keeps_tabs_and_line_breaks(callers, parties, clock):
    purpose = "Working capital:\r\n\tmaterials\n\tsalaries"
    response = callers.enterprise.post(APPLICATIONS, application_input(parties, clock.now(), purpose=purpose))
    assert response.status_code == 201 and response.json["purpose"] == purpose


def test_a_contract_number_with_a_line_break_is_refused(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"{APPLICATIONS}/{reference}/accept", {})
    callers.bank_a.post(f"{APPLICATIONS}/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 12})
    response = callers.bank_a.post(f"{APPLICATIONS}/{reference}/disbursement", {
        "contract_number": "HT-1\nHT-2", "amount": "400000.00", "disbursed_on": "2026-09-30"})
    _assert_json_error(response, 422, "contract_number")


# 4. No existence oracle

def test_another_partys_application_and_a_missing_one_get_the_same_404_byte_for_byte(callers, parties, clock,
                                                                                     engine):
    reference = _submit(callers, parties, clock)
    missing = "LA20260930DEADBEEF"
    assert len(missing) == len(reference)
    application_id = scalar(engine, sa.select(LoanApplication.id).where(LoanApplication.reference == reference))
    same_id = {"X-Request-Id": "same-request-id"}
    attempts = [
        (callers.bank_b, "get", "", None),
        (callers.bank_b, "post", "/accept", {}),
        (callers.bank_b, "post", "/decision", {"decision": "reject", "reason": "x"}),
        (callers.bank_b, "post", "/decision", {"decision": "approve", "amount": "1.00", "annual_rate": "3.85",
                                               "term_months": 12}),
        (callers.bank_b, "post", "/disbursement", {"contract_number": "HT", "amount": "1.00",
                                                   "disbursed_on": "2026-09-30"}),
        (callers.bank_b, "post", "/settlement", {"settled_on": "2026-09-30"}),
        (callers.other_enterprise, "get", "", None),
        (callers.other_enterprise, "post", "/withdraw", {}),
        (callers.enterprise, "post", "/accept", {}),  # the owner, but not a bank
        (callers.bank_a, "post", "/withdraw", {}),  # the bank, but not the owner
    ]
    for caller, method, step, body in attempts:
        kwargs = {"headers": same_id} if body is None else {"json": body, "headers": same_id}
        theirs = getattr(caller, method)(f"{APPLICATIONS}/{reference}{step}", **kwargs)
        nobodys = getattr(caller, method)(f"{APPLICATIONS}/{missing}{step}", **kwargs)
        _assert_json_error(theirs, 404)
        assert theirs.get_data() == nobodys.get_data(), (caller, step, theirs.json, nobodys.json)
        assert theirs.json["message"] == "No such application."
        assert str(application_id) not in theirs.json["message"]


# 5. The OpenAPI document tells the truth

def test_the_openapi_document_declares_money_and_rates_as_strings_with_a_pattern(app):
    schemas = app.test_client().get("/api/v1/openapi.json").json["components"]["schemas"]
    money = [("SubmitIn", "amount"), ("DecisionIn", "amount"), ("DisbursementIn", "amount"),
             ("ApplicationOut", "amount"), ("ApplicationOut", "approved_amount"),
             ("ApplicationOut", "disbursed_amount")]
    rates = [("DecisionIn", "annual_rate"), ("ApplicationOut", "annual_rate")]
    for (schema, field), pattern in [*((m, commands.MONEY_PATTERN) for m in money),
                                     *((r, commands.RATE_PATTERN) for r in rates)]:
        declared = schemas[schema]["properties"][field]
        assert declared["type"] == "string" and declared["pattern"] == pattern, (schema, field, declared)
    assert re.fullmatch(r"\^\[0-9\]\{1,15\}.*\$", commands.MONEY_PATTERN)
    assert "request_id" in schemas["ErrorOut"]["required"]


def _as_json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema (draft 4), stricter than the document: objects are
    closed (an undocumented field fails) and every documented field must be there unless the
    document says which are."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {}
    for key, value in node.items():
        if key in ("nullable", "readOnly", "writeOnly", "example", "deprecated"):
            continue
        if key == "properties":
            converted[key] = {name: _as_json_schema(schema) for name, schema in value.items()}
        else:
            converted[key] = _as_json_schema(value)
    if "properties" in node:
        converted.setdefault("additionalProperties", False)
        converted.setdefault("required", sorted(node["properties"]))
    if node.get("nullable"):
        converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class _Document:
    """The served OpenAPI document, and the schema it declares for an answer of an operation."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.components = {"schemas": {name: _as_json_schema(schema)
                                       for name, schema in spec["components"]["schemas"].items()}}

    def response_schema(self, path: str, method: str, status: int) -> dict:
        responses = self.spec["paths"][path][method]["responses"]
        response = responses.get(str(status)) or responses["default"]
        if "$ref" in response:
            response = self.spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        return response["content"]["application/json"]["schema"]

    def check(self, path: str, method: str, response) -> None:
        schema = {"$schema": "http://json-schema.org/draft-04/schema#", "components": self.components,
                  "allOf": [_as_json_schema(self.response_schema(path, method, response.status_code))]}
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}"
                  for error in validator.iter_errors(response.json)]
        assert not errors, (method.upper(), path, response.status_code, errors[:5])


def _fresh_caller(client, engine, username: str) -> Caller:
    with engine.transaction() as session:
        user = session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).one()
        return Caller(client, issue_user_token(session, engine.clock.now(), user)[0])


def test_every_read_endpoint_answers_what_the_openapi_document_declares(app, callers, parties, clock, engine):
    # One application through to disbursement (money, a rate, a masked account), one that misses its deadline.
    done = _submit(callers, parties, clock)
    for step, body in (("accept", {"note": "ok"}),
                       ("decision", {"decision": "approve", "amount": "400000.00", "annual_rate": "3.85",
                                     "term_months": 12, "conditions": "guarantee"}),
                       ("disbursement", {"contract_number": "HT-1", "amount": "400000.00",
                                         "disbursed_on": "2026-09-30", "account": "6222020200112233"})):
        assert callers.bank_a.post(f"{APPLICATIONS}/{done}/{step}", body).status_code == 200
    late = _submit(callers, parties, clock)
    clock.set(cst("2026-10-11 00:00"))
    sweep_due_timers(engine)
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "sysadmin", "long-enough-password", SYSTEM_ADMIN)
    client = callers.anonymous
    readers = [callers.bank_a, callers.bank_b] + [_fresh_caller(client, engine, name) for name in
                                                  ("ent-user", "officer-a", "supervisor", "author", "sysadmin")]
    instance = _fresh_caller(client, engine, "supervisor").get(
        "/api/v1/process-definitions/loan_lifecycle/1/instances").json["items"][0]["id"]
    task = callers.bank_a.get("/api/v1/tasks").json["items"][0]["id"]
    values = {"reference": done, "institution_id": parties.bank_a_id, "key": "loan_lifecycle", "version": 1,
              "instance_id": instance, "task_id": task}
    document = _Document(client.get("/api/v1/openapi.json").json)
    reads = [path for path, operations in document.spec["paths"].items() if "get" in operations]
    assert len(reads) >= 7
    checked = 0
    for path in reads:
        names = re.findall(r"\{(\w+)\}", path)
        assert set(names) <= set(values), f"give {path} a value for {names} in this test"
        urls = [re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)]
        if "reference" in names:
            urls.append(path.replace("{reference}", late))
        for url in urls:
            for reader in readers:
                for query in ({}, {"limit": 1}, {"no_such_parameter": "x"}):
                    response = reader.get(url, query_string=query)
                    assert response.mimetype == "application/json", (url, response.status_code)
                    document.check(path, "get", response)
                    checked += response.status_code == 200
            document.check(path, "get", client.get(url))  # no credentials: 401
    assert checked >= 2 * len(reads), checked


def test_the_control_character_message_is_translated_for_the_pages(app):
    from web.labels import translate

    with app.test_request_context("/?lang=zh"):
        assert translate(commands.CONTROL_REFUSED) == "不能包含控制字符。"
