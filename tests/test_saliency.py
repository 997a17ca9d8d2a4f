"""Tests of chromolib.saliency."""
import numpy as np

from chromolib.saliency import occlusion


def test_occlusion_finds_the_part_the_decision_rests_on():
    class DarkTop:
        """P(up) = share of dark pixels in the top quarter: the answer rests on the top only."""
        def tensors(self, batch):
            return batch

        def predict(self, batch):
            top = (np.asarray(batch)[:, :8] < 128).mean(axis=(1, 2))
            return np.stack([1 - top, top], 1)

    img = np.full((32, 16), 255, np.uint8)
    img[:, 4:12] = 0
    m = occlusion(DarkTop(), img[None], [1], patch=4, stride=4)[0]
    assert m[:8].mean() > 0.05 and np.abs(m[12:]).max() == 0
