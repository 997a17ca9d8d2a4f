"""The training-speed benchmark runs on the CPU at tiny sizes and prints the figures it measured."""
import json

from chromolib.cli import main


def test_bench_prints_the_speeds_it_measured(tiny_run, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", str(tiny_run.dataset), "--profile", "tiny", "--steps", "3", "--warmup", "1",
                 "--workers", "0", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert r["reference_images_per_s"] > 0 and r["fast_images_per_s"] > 0
    # what is printed is what was measured and saved
    assert f"{r['reference_images_per_s']:.1f} images/s" in text and f"{r['fast_images_per_s']:.1f} images/s" in text
    assert f"ratio fast/reference: {r['ratio']:.2f}" in text
    assert f"{r['paper_schedule_seconds_projected']:.0f} s" in text
    assert r["config"]["batch_size"] == 16 and r["environment"]["device"] == "cpu"


def test_bench_accuracy_trains_both_loops_and_tests_the_difference(tiny_run, tmp_path, capsys):
    out = tmp_path / "acc.json"
    assert main(["bench", str(tiny_run.dataset), "--accuracy", "--profile", "tiny", "--epochs", "2", "--workers", "0",
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


def test_bench_trace_writes_where_the_fast_path_spends_its_time(tiny_run, tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    assert main(["bench", str(tiny_run.dataset), "--profile", "tiny", "--steps", "2", "--warmup", "1", "--workers",
                 "0", "--trace", str(trace), "--trace-steps", "2"]) == 0
    assert str(trace) in capsys.readouterr().out
    table = trace.read_text()
    assert "sorted by self_cpu_time_total" in table
    assert "aten::convolution" in table or "aten::mkldnn_convolution" in table or "conv" in table.lower()


def test_bench_ablation_times_each_speed_setting_in_turn(tiny_run, tmp_path, capsys):
    out = tmp_path / "abl.json"
    assert main(["bench", str(tiny_run.dataset), "--ablation", "--profile", "tiny", "--steps", "2", "--warmup", "1",
                 "--json", str(out)]) == 0
    assert "channels_last" in capsys.readouterr().out
    rows = json.loads(out.read_text())["ablation"]
    assert [(r["precision"], r["layout"], r["compile"]) for r in rows] == [
        ("fp32", "contiguous", "none"), ("bf16", "contiguous", "none"), ("bf16", "channels_last", "none")]
    assert rows[0]["speed-up"] == 1.0 and all(r["images_per_s"] > 0 for r in rows)


def test_bench_without_a_data_set_builds_a_small_synthetic_one(capsys):
    assert main(["bench", "--profile", "tiny", "--steps", "1", "--warmup", "1", "--workers", "0", "--cells", "1"]) == 0
    assert "ratio fast/reference" in capsys.readouterr().out
