"""Schemathesis checks of the TMF630 error convention, loaded by scripts/fuzz/run.sh (SCHEMATHESIS_HOOKS).

Every rejection — any 4xx or 5xx — must carry the TMF error body: JSON with "@type": "Error", a "code", a
"reason" and the "status" as a string equal to the HTTP status. (Schemathesis' own not_a_server_error check
covers the 5xx themselves.)

Loading this file also works around a CPython 3.11 fault met on the deepest schemas (catalog's productOffering,
TMF620, TMF622). Hypothesis names each `.map`/`.filter` lambda of a strategy by parsing the source file that
defines it, and on those schemas it does so deep inside a nested repr, where `ast.parse` can fail with
"SystemError: AST constructor recursion depth mismatch" (cpython#106905). Hypothesis only expects a
SyntaxError there, so the fault escaped as an internal error of the fuzzer and failed the operation. The name
is only text for messages, so such a lambda is now called `lambda: <unnamed>`; nothing generated changes.
"""

import schemathesis
from hypothesis.internal import lambda_sources


def _describe_lambda_or_leave_unnamed(describe):
    def describe_or_unnamed(function):
        try:
            return describe(function)
        except SystemError:
            return "lambda: <unnamed>"

    return describe_or_unnamed


# Hypothesis is pinned (scripts/fuzz/run.sh); the guard keeps a future layout from breaking the hooks.
if hasattr(lambda_sources, "_lambda_description"):
    lambda_sources._lambda_description = _describe_lambda_or_leave_unnamed(lambda_sources._lambda_description)


@schemathesis.check
def tmf_error_body(ctx, response, case):
    status = response.status_code
    if status < 400 or case.method.upper() == "HEAD":
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        raise AssertionError(f"{status} without a JSON error body (content-type {content_type or 'none'})")
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"{status} with a body that is not JSON: {error}") from error
    if not isinstance(body, dict) or body.get("@type") != "Error":
        raise AssertionError(f"{status} without a TMF error body: {str(body)[:200]}")
    missing = [name for name in ("code", "reason", "status") if not body.get(name)]
    if missing:
        raise AssertionError(f"{status} TMF error without {', '.join(missing)}: {str(body)[:200]}")
    if body["status"] != str(status):
        raise AssertionError(f"{status} TMF error whose status says {body['status']!r}")
    return None
