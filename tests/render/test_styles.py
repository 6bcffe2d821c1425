"""Behaviour of the mesh and photo styles, and the photo style's trackability."""

import numpy as np
import pytest

from tdmm_lm.face import ARKIT, FaceModel, FaceSequence
from tdmm_lm.face import topology as tp
from tdmm_lm.render import MeshRenderer, PhotoRenderer, render_sequence

SIZE = 256


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


@pytest.fixture(scope="module")
def photo(model) -> PhotoRenderer:
    return PhotoRenderer(model, SIZE)


def params(**weights: float) -> np.ndarray:
    p = np.zeros((1, ARKIT.dim), np.float32)
    for name, w in weights.items():
        p[0, ARKIT.index(name)] = w
    return p


def render_one(renderer, **weights: float) -> np.ndarray:
    return next(iter(renderer.frames(params(**weights))))


def region_box(renderer: PhotoRenderer, model: FaceModel, ids, p: np.ndarray, pad: int = 0):
    xy, _ = renderer._project(model.vertices(p)[0])
    pts = xy[list(ids)]
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    return slice(y0, y1), slice(x0, x1)


def test_mesh_style_draws_a_grey_face_on_white(model):
    image = render_one(MeshRenderer(model, SIZE))
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert (image[0, 0] == 255).all()  # background
    centre = image[SIZE // 2 - 10 : SIZE // 2 + 10, SIZE // 2 - 10 : SIZE // 2 + 10]
    assert 60 < centre.mean() < 250
    assert np.ptp(centre[..., 0].astype(int) - centre[..., 1].astype(int)) < 3  # grey


def test_mesh_style_shows_the_open_mouth_dark(model):
    r = MeshRenderer(model, SIZE)
    closed, opened = render_one(r), render_one(r, jawOpen=1.0)
    xy, _ = r.framing.project(model.vertices(params(jawOpen=1.0))[0])
    mouth = np.round(0.5 * (xy[13] + xy[14])).astype(int)
    assert opened[mouth[1], mouth[0]].mean() < 80
    assert closed[mouth[1], mouth[0]].mean() > 80


def test_photo_background_is_left_intact(model, photo):
    image = render_one(photo, jawOpen=1.0, headYaw=0.3)
    far = np.ones((SIZE, SIZE), bool)
    ring = photo.ring_out
    x0, y0 = np.floor(ring.min(0)).astype(int) - 2
    x1, y1 = np.ceil(ring.max(0)).astype(int) + 2
    far[max(y0, 0) : y1, max(x0, 0) : x1] = False
    assert far.sum() > 0.2 * SIZE * SIZE
    np.testing.assert_array_equal(image[far], photo.background[far])


def test_photo_mouth_interior_is_dark_when_the_jaw_opens(model, photo):
    open_p = params(jawOpen=1.0)
    rows, cols = region_box(photo, model, tp.LIP_INNER_UPPER + tp.LIP_INNER_LOWER, open_p)
    closed, opened = render_one(photo), render_one(photo, jawOpen=1.0)
    luminance = lambda im: im[rows, cols].mean(axis=2)  # noqa: E731
    assert (luminance(opened) < 60).mean() > 0.3
    assert (luminance(closed) < 60).mean() < 0.1


def test_photo_lids_cover_the_eyes_on_blink(model, photo):
    rows, cols = region_box(photo, model, tp.IRIS_LEFT, params())
    opened, blinked = render_one(photo), render_one(photo, eyeBlinkLeft=1.0)
    # The dark iris disappears under the (lighter) lid skin.
    assert blinked[rows, cols].mean() > opened[rows, cols].mean() + 15


def test_render_sequence_writes_a_playable_video(tmp_path, model):
    import imageio.v3 as iio

    p = np.repeat(params(jawOpen=0.5), 6, axis=0)
    seq = FaceSequence(p, space="arkit", fps=25.0)
    out = render_sequence(seq, tmp_path / "a.mp4", style="photo", size=128)
    frames = iio.imread(out)
    assert frames.shape[0] == 6 and frames.shape[1:3] == (128, 128)


def test_photo_style_stays_trackable(model):
    """MediaPipe must find the face in >= 95% of photo-style frames (issue 2 acceptance)."""
    mp = pytest.importorskip("mediapipe")
    n = 60
    t = np.linspace(0, 1, n)
    p = np.zeros((n, ARKIT.dim), np.float32)
    p[:, ARKIT.index("jawOpen")] = 0.8 * np.clip(np.sin(2 * np.pi * t * 2), 0, 1)
    smile = 0.9 * np.clip(np.sin(2 * np.pi * (t * 1.5 + 0.3)), 0, 1)
    p[:, ARKIT.index("mouthSmileLeft")] = smile
    p[:, ARKIT.index("mouthSmileRight")] = smile
    blink = (np.abs(t - 0.5) < 0.04).astype(np.float32)
    p[:, ARKIT.index("eyeBlinkLeft")] = blink
    p[:, ARKIT.index("eyeBlinkRight")] = blink
    p[:, ARKIT.index("headYaw")] = np.deg2rad(25) * np.sin(2 * np.pi * t)
    renderer = PhotoRenderer(model, 512)
    found = 0
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, refine_landmarks=True, max_num_faces=1
    ) as mesh:
        for frame in renderer.frames(p):
            found += mesh.process(frame).multi_face_landmarks is not None
    assert found / n >= 0.95, f"face found in {found}/{n} frames"
