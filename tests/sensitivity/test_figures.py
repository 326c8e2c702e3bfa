"""TensorBoard figures: which data are images, and figures that show what they say."""
import numpy as np

from derivtrain.sensitivity.figures import class_heatmaps_figure, image_grid, importance_figure
from derivtrain.sensitivity.importance import Importance


def test_pixel_features_in_row_major_order_are_an_image():
    assert image_grid([f"pixel_{r}_{c}" for r in range(8) for c in range(8)]) == (8, 8)
    assert image_grid([f"pixel_{r}_{c}" for r in range(2) for c in range(3)]) == (2, 3)
    assert image_grid([f"pixel_{r}_{c}" for c in range(3) for r in range(2)]) is None  # column-major
    assert image_grid(["pixel_0_0", "pixel_0_1", "age"]) is None
    assert image_grid(["mean radius", "mean texture"]) is None


def test_importance_bars_name_the_features_most_important_first():
    table = Importance.of(np.array([[0.1, 3.0, -2.0]]), ["low", "high", "mid"])
    fig = importance_figure("saliency", table)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["high", "mid", "low"]  # inverted y axis: the first label is drawn on top
    assert [round(b.get_width(), 6) for b in fig.axes[0].patches] == [3.0, 2.0, 0.1]


def test_one_heatmap_per_explained_class_on_one_colour_scale():
    values = np.zeros((4, 4))
    values[0, 0], values[1, 3] = 2.0, -1.0
    fig = class_heatmaps_figure("ig", values, np.array([0, 1, 1, 2]), ["0", "1", "2", "3"], (2, 2))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3  # class 3 explained for no row: no panel
    np.testing.assert_allclose(images[0].get_array(), [[2.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(images[1].get_array(), [[0.0, 0.0], [0.0, -0.5]])
    assert all(im.get_clim() == (-2.0, 2.0) for im in images)
