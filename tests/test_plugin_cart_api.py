"""``cart.visitor_token()``: plugins find the anonymous cart without the cookie's internals."""

from __future__ import annotations

from shopbuilder.services import cart


def test_visitor_token_reads_the_signed_cart_cookie_and_refuses_a_forged_one(app):
    token = cart.new_token()
    with app.test_request_context():
        signed = cart.sign_token(token)
    with app.test_request_context(headers={"Cookie": f"{cart.COOKIE_NAME}={signed}"}):
        assert cart.visitor_token() == token
    with app.test_request_context(headers={"Cookie": f"{cart.COOKIE_NAME}={token}"}):
        assert cart.visitor_token() is None
    with app.test_request_context():
        assert cart.visitor_token() is None
