"""The OpenAPI document says which routes need a token, and those routes refuse anonymous calls
before reading their body: the Swagger UI's Authorize button works, and nobody without a token
makes the server validate a body."""

from __future__ import annotations

import re

import pytest

from tm_service.auth import BEARER_SCHEME

METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/openapi.json").json


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def test_the_document_has_a_bearer_security_scheme(spec):
    scheme = spec["components"]["securitySchemes"][BEARER_SCHEME]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_exactly_the_operations_that_answer_401_for_no_token_declare_the_scheme(spec):
    for method, path, operation in operations(spec):
        needs_token = "401" in operation["responses"]
        declared = operation.get("security") == [{BEARER_SCHEME: []}]
        assert needs_token == declared, (method.upper(), path, operation.get("security"))


def test_token_routes_exist_and_public_reads_stay_public(spec):
    secured = {(m, p) for m, p, op in operations(spec) if "security" in op}
    assert ("put", "/api/v1/regions/{region}/pages/{external_id}/translations/{language}") in (
        secured
    )
    assert ("get", "/api/v1/suggestions/{suggestion_id}") in secured
    assert ("get", "/api/v1/regions") not in secured
    assert ("post", "/api/v1/tm/lookup") not in secured


def test_every_token_route_refuses_an_anonymous_call_before_reading_the_body(client, spec):
    secured = [(m, p) for m, p, op in operations(spec) if "security" in op]
    assert len(secured) >= 10
    for method, path in secured:
        url = re.sub(r"\{(?:suggestion_id|entry_id|concept_id)\}", "1", path)
        url = re.sub(r"\{[a-z_]+\}", "alpha", url)
        # Broken JSON would be a 400 if the body were read first.
        response = client.open(
            url, method=method.upper(), data="{broken", content_type="application/json"
        )
        assert response.status_code == 401, (method.upper(), path, response.json)
        assert response.headers["Content-Type"] == "application/problem+json"
