import numpy as np
import pytest
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, FaceModel
from tdmm_lm.face import topology as tp


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


def frame(**weights: float) -> np.ndarray:
    p = np.zeros((1, ARKIT.dim), np.float32)
    for name, w in weights.items():
        p[0, ARKIT.index(name)] = w
    return p


def test_zeros_give_the_neutral_mesh(model):
    v = model.vertices(np.zeros((3, 61), np.float32))
    assert v.shape == (3, 478, 3)
    np.testing.assert_allclose(v[0], model.neutral, atol=1e-5)


def test_face_is_140mm_wide(model):
    width = np.linalg.norm(model.neutral[tp.CHEEK_EDGE_LEFT] - model.neutral[tp.CHEEK_EDGE_RIGHT])
    assert width == pytest.approx(140.0, rel=0.05)


def test_numpy_and_torch_agree_and_torch_is_differentiable(model):
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random((4, 52)), rng.uniform(-0.4, 0.4, (4, 9))], 1).astype(np.float32)
    pt = torch.tensor(p, requires_grad=True)
    vt = model.vertices(pt)
    assert isinstance(vt, torch.Tensor) and vt.shape == (4, 478, 3)
    np.testing.assert_allclose(vt.detach().numpy(), model.vertices(p), atol=1e-3)
    vt.square().sum().backward()
    assert pt.grad is not None and torch.isfinite(pt.grad).all() and pt.grad.abs().sum() > 0


def test_wrong_channel_count_is_a_clear_error(model):
    with pytest.raises(InvalidInputError, match="61 arkit channels"):
        model.vertices(np.zeros((2, 58), np.float32))


def test_every_blendshape_moves_the_face(model):
    moved = np.abs(model.blendshapes).max(axis=(1, 2))
    assert (moved > 1.0).all(), [n for n, m in zip(ARKIT.channels, moved, strict=True) if m <= 1.0]
    assert np.isfinite(model.blendshapes).all()


def test_smile_goes_up_and_out(model):
    d = model.vertices(frame(mouthSmileLeft=1.0))[0] - model.neutral
    corner = d[291]  # the subject's left mouth corner, at +x
    assert corner[1] > 4.0 and corner[0] > 3.0
    assert np.abs(d[61]).max() < 1.0  # the other corner stays


def test_frown_goes_down(model):
    d = model.vertices(frame(mouthFrownRight=1.0))[0] - model.neutral
    assert d[61, 1] < -4.0


def test_blink_closes_the_lid(model):
    v = model.vertices(frame(eyeBlinkLeft=1.0))[0]
    upper, lower = v[list(tp.EYE_LEFT_UPPER[1:-1])], v[list(tp.EYE_LEFT_LOWER[1:-1])]
    n = model.neutral
    open_gap = n[386, 1] - n[374, 1]
    assert open_gap > 5.0
    assert abs(v[386, 1] - v[374, 1]) < 0.1 * open_gap  # lid centres meet
    assert upper[:, 1].min() > lower[:, 1].min() - 0.5
    # the other eye stays open
    assert np.abs(v[159] - n[159]).max() < 0.1


def test_jaw_open_drops_chin_not_forehead(model):
    d = model.vertices(frame(jawOpen=1.0))[0] - model.neutral
    assert d[tp.CHIN, 1] < -14.0
    assert d[14, 1] < -10.0  # lower lip goes with the jaw
    assert abs(d[13, 1]) < 2.0  # upper lip stays
    assert np.abs(d[10]).max() < 1e-3  # forehead untouched


def test_brows_raise(model):
    d = model.vertices(frame(browInnerUp=1.0))[0] - model.neutral
    assert d[107, 1] > 4.0 and d[336, 1] > 4.0


def test_head_rotation_is_rigid_and_signed(model):
    v = model.vertices(frame(headYaw=0.5))[0]
    d0 = np.linalg.norm(model.neutral[None] - model.neutral[:, None], axis=2)
    d1 = np.linalg.norm(v[None] - v[:, None], axis=2)
    np.testing.assert_allclose(d0, d1, atol=1e-3)
    assert v[tp.NOSE_TIP, 0] > model.neutral[tp.NOSE_TIP, 0] + 10  # + yaw turns toward +x
    down = model.vertices(frame(headPitch=0.3))[0]
    assert down[tp.NOSE_TIP, 1] < model.neutral[tp.NOSE_TIP, 1]


def test_eye_rotation_moves_only_that_iris(model):
    d = model.vertices(frame(leftEyeYaw=0.3))[0] - model.neutral
    assert d[tp.IRIS_LEFT[0], 0] > 2.0
    assert np.abs(d[: tp.N_MESH_VERTICES]).max() < 1e-5
    assert np.abs(d[list(tp.IRIS_RIGHT)]).max() < 1e-5


def test_asset_topology_is_consistent(model):
    topo = model.topology
    for tris in (topo.skin, topo.eye_left, topo.eye_right, topo.mouth):
        assert tris.min() >= 0 and tris.max() < model.n_vertices
    assert len(topo.skin) == 852
    assert set(tp.IRIS_LEFT[:1]) <= set(topo.eye_left.ravel())
