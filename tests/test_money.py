"""Money in fen: what a form or CSV shows is what parse_yuan reads back."""

from __future__ import annotations

import pytest

from shopbuilder.money import parse_yuan, yuan_text


@pytest.mark.parametrize("fen", [0, 5, 80, 1280, 23800, 99999999])
def test_yuan_text_reads_back_to_the_same_fen(fen):
    assert parse_yuan(yuan_text(fen)) == fen


def test_yuan_text_of_no_price_is_empty():
    assert yuan_text(None) == ""
    assert yuan_text(1205) == "12.05"
