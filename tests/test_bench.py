"""The training-speed benchmark runs on the CPU at tiny sizes and prints its figures."""
import json

from chromolib.cli import main


def test_bench_prints_both_speeds_their_ratio_and_the_projection(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--profile", "tiny", "--steps", "3", "--warmup", "1", "--workers", "0", "--cells", "2",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reference loop" in text and "fast path" in text and "ratio fast/reference" in text
    r = json.loads(out.read_text())
    assert r["reference_images_per_s"] > 0 and r["fast_images_per_s"] > 0
    assert abs(r["ratio"] - r["fast_images_per_s"] / r["reference_images_per_s"]) < 0.05 * r["ratio"]
    assert abs(r["paper_schedule_seconds_projected"] - 314300 / r["fast_images_per_s"]) < 1
    assert r["config"]["batch_size"] == 16 and r["environment"]["device"] == "cpu"


def test_bench_accuracy_trains_both_loops_and_tests_the_difference(tmp_path, capsys):
    out = tmp_path / "acc.json"
    assert main(["bench", "--accuracy", "--profile", "tiny", "--epochs", "2", "--workers", "0", "--cells", "2",
                 "--quiet", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 epochs each" in text and "McNemar" in text
    r = json.loads(out.read_text())
    for key in ("reference", "fast"):
        lo, hi = r[key]["accuracy_ci95"]
        assert 0 <= lo <= r[key]["accuracy"] <= hi <= 1 and r[key]["train_seconds"] > 0
    t = r["mcnemar"]
    # the two differ on at most the held-out images, and the accuracies follow from the split
    assert t["only_a_right"] + t["only_b_right"] <= r["n_test"] and 0 < t["p_value"] <= 1
    diff = (t["only_a_right"] - t["only_b_right"]) / r["n_test"]
    assert abs((r["reference"]["accuracy"] - r["fast"]["accuracy"]) - diff) < 1e-9
    assert r["config"]["epochs"] == 2


def test_bench_trace_writes_where_the_fast_path_spends_its_time(tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    assert main(["bench", "--profile", "tiny", "--steps", "2", "--warmup", "1", "--workers", "0", "--cells", "2",
                 "--trace", str(trace), "--trace-steps", "2"]) == 0
    assert str(trace) in capsys.readouterr().out
    table = trace.read_text()
    assert "sorted by self_cpu_time_total" in table
    assert "aten::convolution" in table or "aten::mkldnn_convolution" in table or "conv" in table.lower()


def test_bench_ablation_times_each_speed_setting_in_turn(tmp_path, capsys):
    out = tmp_path / "abl.json"
    assert main(["bench", "--ablation", "--profile", "tiny", "--steps", "2", "--warmup", "1", "--cells", "2",
                 "--json", str(out)]) == 0
    assert "channels_last" in capsys.readouterr().out
    rows = json.loads(out.read_text())["ablation"]
    assert [(r["precision"], r["layout"], r["compile"]) for r in rows] == [
        ("fp32", "contiguous", "none"), ("bf16", "contiguous", "none"), ("bf16", "channels_last", "none")]
    assert rows[0]["speed-up"] == 1.0 and all(r["images_per_s"] > 0 for r in rows)
    assert abs(rows[2]["speed-up"] - rows[2]["images_per_s"] / rows[0]["images_per_s"]) < 0.01 * rows[2]["speed-up"] + 0.01
