"""The canary.dev/request annotation is read strictly: anything but the documented JSON object is a
BadRequest naming the field, never a guess."""

from __future__ import annotations

import json

import pytest

from canary.models.requests import REQUEST_ANNOTATION, BadRequest, Request, RequestAction, parse_request


def test_a_request_reads_back_as_written() -> None:
    request = Request("0123abcd", RequestAction.PROMOTE, "alice@example.com", full=True)
    assert parse_request({REQUEST_ANNOTATION: request.wire()}) == request
    assert parse_request({"other": "x"}) is None
    set_image = Request("1", RequestAction.SET_IMAGE, "bob", images=(("app", "ghcr.io/acme/web:2"),))
    assert parse_request({REQUEST_ANNOTATION: set_image.wire()}) == set_image
    assert parse_request(None) is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("promote", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"action": "promote", "by": "a"}), ".id"),
        (json.dumps({"id": "x" * 65, "action": "promote", "by": "a"}), ".id"),
        (json.dumps({"id": "1", "action": "rollback", "by": "a"}), ".action: one of promote, abort"),
        (json.dumps({"id": "1", "action": "abort"}), ".by"),
        (json.dumps({"id": "1", "action": "promote", "by": "a", "full": "yes"}), ".full"),
        ("x" * 5000, "longer than 4096 bytes"),
        (json.dumps({"id": "1", "action": "set-image", "by": "a"}), ".images: set-image needs it"),
        (json.dumps({"id": "1", "action": "abort", "by": "a", "images": {"app": "x"}}), "nothing else"),
        (json.dumps({"id": "1", "action": "set-image", "by": "a", "images": {"app": 3}}), ".images: a map"),
    ],
)
def test_a_malformed_request_is_refused_naming_the_field(raw: str, field: str) -> None:
    with pytest.raises(BadRequest, match=f"annotations\\[{REQUEST_ANNOTATION}\\]") as e:
        parse_request({REQUEST_ANNOTATION: raw})
    assert field in str(e.value)
