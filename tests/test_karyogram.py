"""The karyogram sheet puts each type in its row of the standard layout, homologues side by side."""
import numpy as np

from chromolib.karyogram import karyogram_sheet

HEIGHT = 60
PAD, LABEL = 6, 14  # padding above and below a chromosome, the type's label under it


def _where(sheet, value, row_heights):
    """(row index, mean x) of the pixels of a given gray value; rows are ``row_heights`` chromosome
    heights tall, each with its padding and label."""
    starts = np.cumsum([0] + [h + 2 * PAD + LABEL for h in row_heights])
    assert sheet.shape[0] == starts[-1]
    ys, xs = np.nonzero(sheet == value)
    row = np.searchsorted(starts, ys, side="right") - 1
    keep = ys < starts[row + 1] - LABEL  # above the row's type labels (antialiased: any gray)
    rows = set(row[keep])
    xs = xs[keep]
    assert len(rows) == 1, f"value {value} spans rows {rows}"
    return rows.pop(), xs.mean()


def test_karyogram_sheet_puts_types_in_their_rows_and_homologues_side_by_side():
    # one gray value per chromosome, so each can be found on the sheet
    types = ["Y", "1", "21", "X", "1", "13"]
    imgs = [np.full((h, 8), v, np.uint8) for h, v in zip((20, 60, 18, 40, 58, 30), (10, 20, 30, 40, 50, 60))]
    sheet = karyogram_sheet(imgs, types, height=HEIGHT)
    assert sheet.dtype == np.uint8
    # each row as tall as its tallest chromosome: 1 (60), X (40), 13 (30), Y (20)
    pos = {v: _where(sheet, v, (60, 40, 30, 20)) for v in (10, 20, 30, 40, 50, 60)}
    assert pos[20][0] == pos[50][0] == 0            # both chromosomes 1 in row 1-5 ...
    assert abs(pos[20][1] - pos[50][1]) < 8 + 6 + 1  # ... next to each other
    assert pos[40][0] == 1                           # X closes the row 6-12
    assert pos[60][0] == 2                           # 13
    assert pos[30][0] == pos[10][0] == 3 and pos[30][1] < pos[10][1]  # 21 before Y


def test_without_types_the_sheet_is_a_grid_in_input_order():
    imgs = [np.full((30, 5), 10 + i, np.uint8) for i in range(14)]
    sheet = karyogram_sheet(imgs, None, height=HEIGHT)
    assert [_where(sheet, 10 + i, (30, 30))[0] for i in range(14)] == [0] * 12 + [1, 1]
    xs = [_where(sheet, 10 + i, (30, 30))[1] for i in range(12)]
    assert xs == sorted(xs)


def test_lengths_share_one_scale():
    sheet = karyogram_sheet([np.full((240, 10), 50, np.uint8), np.full((120, 10), 100, np.uint8)], ["1", "2"],
                            height=HEIGHT)
    tall = (sheet == 50).any(axis=1).sum()
    short = (sheet == 100).any(axis=1).sum()
    assert tall == HEIGHT and short == HEIGHT // 2
