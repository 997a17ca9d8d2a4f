"""Type over the whole cell: the Hungarian assignment to two of each autosome, XX or XY."""
import numpy as np
import pytest

from chromolib.assignment import EXTRA_COPY_COST, assign_by_cell, assign_cell, normal_copies, slots
from chromolib.karyotype import TYPES


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    """Probability rows from {type: p}; the rest of each row spread evenly."""
    out = np.zeros((len(rows), len(TYPES)))
    for i, r in enumerate(rows):
        rest = (1 - sum(r.values())) / (len(TYPES) - len(r))
        out[i] = rest
        for t, p in r.items():
            out[i, TYPES.index(t)] = p
    return out


def _male_cell() -> list[str]:
    return [t for t in TYPES[:22] for _ in range(2)] + ["X", "Y"]


@pytest.mark.parametrize("sex", ["XX", "XY"])
def test_slots_are_those_of_a_normal_cell_plus_one_costly_extra_per_type(sex):
    kind, cost = slots(sex)
    assert len(kind) == 46 + len(TYPES)  # a normal cell, and one extra of each type
    copies = normal_copies(sex)
    assert (copies["X"], copies["Y"]) == ((2, 0) if sex == "XX" else (1, 1))
    for i, t in enumerate(TYPES):
        assert (kind == i).sum() == copies[t] + 1
        assert sorted(cost[kind == i])[-1] == pytest.approx(EXTRA_COPY_COST)


def test_a_female_cell_does_not_keep_a_y_nor_a_male_cell_a_second_x():
    female = [t for t in TYPES[:22] for _ in range(2)] + ["X", "X"]
    rows = [{t: 0.9} for t in female]
    rows[-3] = {"22": 0.40, "Y": 0.45}  # the last 22 looks a little like a Y
    assigned = [TYPES[i] for i in assign_cell(_probs(rows))]
    assert assigned == female
    male = [t for t in TYPES[:22] for _ in range(2)] + ["X", "Y"]
    rows = [{t: 0.9} for t in male]
    rows[16] = {"9": 0.40, "X": 0.45}  # a 9 that looks a little like an X, beside the one X
    assert [TYPES[i] for i in assign_cell(_probs(rows))] == male


def test_a_third_4_gives_way_to_the_missing_5():
    # three chromosomes the network calls "4"; the third is nearly as likely a "5", and no "5" is in the cell
    p = _probs([{"4": 0.9}, {"4": 0.9}, {"4": 0.5, "5": 0.4}])
    assert [TYPES[i] for i in p.argmax(1)] == ["4", "4", "4"]
    assert [TYPES[i] for i in assign_cell(p)] == ["4", "4", "5"]


def test_a_sure_trisomy_is_kept():
    # the third 21 is a 22 with probability 0.0002: a cost of 8.5 nats, beyond the extra copy's 4.6
    p = _probs([{"21": 0.995}, {"21": 0.995}, {"21": 0.995}])
    assert [TYPES[i] for i in assign_cell(p)] == ["21", "21", "21"]


def test_assignment_corrects_a_noisy_classifier_over_whole_cells():
    """Simulated cells: logits = 2.5 at the true type + noise. The assignment must be right more
    often than the per-chromosome answer, and no type exceeds its slots."""
    rng = np.random.default_rng(0)
    truth = np.array([TYPES.index(t) for t in _male_cell()])
    right_best = right_assigned = 0
    for _ in range(30):
        z = rng.normal(0, 1, (len(truth), len(TYPES)))
        z[np.arange(len(truth)), truth] += 2.5
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        a = assign_cell(p)
        right_best += (p.argmax(1) == truth).sum()
        right_assigned += (a == truth).sum()
        for i, t in enumerate(TYPES):
            assert (a == i).sum() <= max(normal_copies(s)[t] for s in ("XX", "XY")) + 1
    n = 30 * len(truth)
    assert right_assigned / n > right_best / n + 0.02, (right_best / n, right_assigned / n)


def test_more_chromosomes_than_slots_keep_their_best_type():
    p = np.random.default_rng(1).dirichlet(np.ones(len(TYPES)), size=80)
    assert (assign_cell(p) == p.argmax(1)).all()
    assert assign_cell(np.zeros((0, len(TYPES)))).shape == (0,)


def test_cells_are_assigned_separately():
    # each cell alone has one "1" and one "2"-ish chromosome; together they would compete
    p = _probs([{"1": 0.6, "2": 0.3}, {"1": 0.7, "2": 0.2}, {"1": 0.6, "2": 0.3}])
    both = assign_by_cell(p, ["a", "a", "b"])
    assert [TYPES[i] for i in both] == ["1", "1", "1"]


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="24"):
        assign_cell(np.ones((3, 2)) / 2)


def test_hungarian_finds_scipys_least_total_cost_on_random_and_tied_matrices():
    from scipy.optimize import linear_sum_assignment

    from chromolib.assignment import hungarian

    rng = np.random.default_rng(0)
    for t in range(400):
        n = int(rng.integers(1, 12))
        m = int(rng.integers(n, 16))
        cost = rng.integers(0, 4, (n, m)).astype(float) if t % 2 else rng.random((n, m))  # ties, and none
        rows, cols = hungarian(cost)
        best_rows, best_cols = linear_sum_assignment(cost)
        assert list(rows) == list(range(n)) and len(set(cols)) == n
        assert np.isclose(cost[rows, cols].sum(), cost[best_rows, best_cols].sum())
    with pytest.raises(ValueError, match="more rows"):
        hungarian(np.zeros((3, 2)))
