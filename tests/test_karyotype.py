"""Tests of chromolib.karyotype: one table of the 24 types that everything else reads."""
from chromolib import karyotype as k


def test_the_24_types_in_karyogram_order():
    assert k.TYPES == tuple(str(i) for i in range(1, 23)) + ("X", "Y")
    assert set(k.RELATIVE_LENGTH) == set(k.CENTROMERE_INDEX) == set(k.TYPES)


def test_sizes_and_centromeres_are_textbook_values():
    for t in k.TYPES:
        assert 1.0 < k.RELATIVE_LENGTH[t] < 9.0 and 0.1 < k.CENTROMERE_INDEX[t] <= 0.5
    assert k.RELATIVE_LENGTH["1"] > k.RELATIVE_LENGTH["21"]
    assert all(k.CENTROMERE_INDEX[t] < 0.2 for t in ("13", "14"))  # acrocentric


def test_karyogram_rows_hold_every_type_once_in_the_standard_layout():
    flat = [t for row in k.KARYOGRAM_ROWS for t in row]
    assert sorted(flat, key=k.TYPES.index) == list(k.TYPES) and len(flat) == 24
    assert k.KARYOGRAM_ROWS[1][-1] == "X" and k.KARYOGRAM_ROWS[3][-1] == "Y"
    assert k.KARYOGRAM_ROWS[0] == ("1", "2", "3", "4", "5")


def test_long_types_are_1_to_12_and_x():
    assert k.LONG_TYPES == {*map(str, range(1, 13)), "X"}


def test_karyotype_order_puts_unknown_types_last():
    assert k.karyotype_order(["Y", "?", "1", "22"]) == ["1", "22", "Y", "?"]
