"""RFC 9457 problem details: every API error is ``application/problem+json``.

Each kind of error has a stable ``code`` that clients switch on (the ``title``
is for people and may be translated); validation errors also list each field
and why it was refused in ``errors``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, jsonify
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: The stable codes, their HTTP status, and a default English title (msgid).
CODES: dict[str, tuple[int, Any]] = {
    "bad_request": (400, _l("The request could not be read.")),
    "unauthorized": (401, _l("Sign in first: a valid bearer token is needed.")),
    "invalid_credentials": (401, _l("Wrong email or password.")),
    "forbidden": (403, _l("This is not allowed.")),
    "not_found": (404, _l("Not found.")),
    "method_not_allowed": (405, _l("This method is not allowed here.")),
    "not_acceptable": (406, _l("Not acceptable.")),
    "conflict": (409, _l("The request conflicts with the current state.")),
    "idempotency_conflict": (409, _l("This Idempotency-Key was used for a different request.")),
    "payload_too_large": (413, _l("The request is too large.")),
    "unsupported_media_type": (415, _l("Send the body as application/json.")),
    "validation_failed": (422, _l("Some fields are invalid.")),
    "checkout_refused": (409, _l("The order cannot be placed.")),
    "rate_limited": (429, _l("Too many requests; slow down.")),
    "internal_error": (500, _l("Something went wrong on our side.")),
    "store_closed": (503, _l("This store is closed.")),
    "unavailable": (503, _l("The service is unavailable.")),
}

#: HTTP status -> the code used when a plain HTTP error reaches the API.
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "store_closed",
}


class ApiProblem(Exception):
    """Raise anywhere in an API view to answer with a problem document."""

    def __init__(self, code: str, detail: str | None = None, *, status: int | None = None,
                 title: str | None = None, errors: list[dict] | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail or code)
        default_status, default_title = CODES.get(code, (status or 400, code))
        self.code = code
        self.status = status or default_status
        self.title = title or default_title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem(code: str, detail: str | None = None, **kwargs) -> ApiProblem:
    """Build an :class:`ApiProblem` to ``raise``: ``raise problem("not_found")``."""
    return ApiProblem(code, detail, **kwargs)


def problem_response(exc: ApiProblem):
    body = {
        "type": f"/api/v1/docs#problem-{exc.code}",
        "title": _(exc.title) if isinstance(exc.title, str) else str(exc.title),
        "status": exc.status,
        "code": exc.code,
    }
    if exc.detail:
        body["detail"] = exc.detail
    if exc.errors is not None:
        body["errors"] = exc.errors
    body.update(exc.extra)
    response = jsonify(body)
    response.status_code = exc.status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response


def from_http_exception(error: HTTPException) -> ApiProblem:
    status = error.code or 500
    code = _STATUS_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return ApiProblem(code, status=status, headers=headers)


def handle_error(error: Exception):
    """The error handler of every API blueprint: nothing leaves as HTML or a traceback."""
    if isinstance(error, ApiProblem):
        return problem_response(error)
    if isinstance(error, HTTPException):
        return problem_response(from_http_exception(error))
    log.exception("unhandled error in API view")
    if current_app.config.get("API_PROPAGATE_ERRORS"):
        raise error
    return problem_response(ApiProblem("internal_error"))
