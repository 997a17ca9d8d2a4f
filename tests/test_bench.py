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
