"""The 52 ARKit blendshapes of the built-in face model, as displacement fields.

Each shape is written the way an animator would describe it: which landmarks move, in which
direction, by how many millimetres at full weight, and which regions must stay put. The
fields in between come from :meth:`Mesh.harmonic`. Coordinates are millimetres with x toward
the subject's left, y up and z toward the viewer; the face is 140 mm wide.

Magnitudes are taken from the typical range of motion of an adult face at an ARKit weight
of 1.0 (a full expression, not a physiological extreme).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tdmm_lm.face import topology as tp
from tdmm_lm.face.authoring.fields import Mesh, smoothstep
from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES

__all__ = ["JAW_OPEN_DEGREES", "build_blendshapes", "jaw_weight", "lid_closure"]

SIDES = ("Left", "Right")
JAW_OPEN_DEGREES = 18.0  # mandible rotation of a wide-open mouth
# A wide-open jaw also glides: the condyles slide forward and down the articular eminence.
# Without it, rotation alone about the ear would swing the chin back into the neck.
JAW_OPEN_GLIDE_MM = (0.0, -8.0, 16.0)
EYE_LOOK_SHIFT_MM = (4.0, 3.2)  # iris travel at full eyeLook weight (sideways, up/down)
REGION_RADIUS_MM = {"lid": 16.0, "brow": 38.0, "mouth": 30.0, "cheek": 28.0, "nose": 18.0}

Vec = Sequence[float]
Handles = dict[int, np.ndarray]


def _v(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    return np.array([x, y, z], dtype=np.float64)


def _curve_y_at(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Height of the polyline ``points`` (sorted by x inside) at the given x positions."""
    order = np.argsort(points[:, 0])
    return np.interp(x, points[order, 0], points[order, 1])


def lid_closure(m: Mesh, side: str, meet: float = 0.3) -> tuple[Handles, Handles]:
    """Displacements that bring the lids of one eye together.

    Args:
        m: The neutral mesh.
        side: ``"Left"`` or ``"Right"``.
        meet: Where the lids meet, as a fraction of the opening from the lower lid (0.3:
            the upper lid travels most of the way, as in a real blink).

    Returns:
        (upper-lid handles, lower-lid handles); the corners do not move.
    """
    v = m.vertices
    upper, lower = tp.EYE_UPPER[side][1:-1], tp.EYE_LOWER[side][1:-1]
    up_pts, low_pts = v[list(tp.EYE_UPPER[side])], v[list(tp.EYE_LOWER[side])]
    up_h: Handles = {}
    low_h: Handles = {}
    for i in upper:
        y_low = _curve_y_at(low_pts, v[i, 0])
        y_meet = y_low + meet * (v[i, 1] - y_low)
        up_h[i] = _v(y=y_meet - v[i, 1], z=1.0)  # the closed lid bulges over the cornea
    for i in lower:
        y_up = _curve_y_at(up_pts, v[i, 0])
        y_meet = v[i, 1] + meet * (y_up - v[i, 1])
        low_h[i] = _v(y=y_meet - v[i, 1], z=0.5)
    return up_h, low_h


def jaw_weight(m: Mesh) -> np.ndarray:
    """(V,) how rigidly each vertex follows the mandible: 1 on chin and lower lip, 0 above."""
    v = m.vertices
    lower_lip = set(tp.LIP_OUTER_LOWER[1:-1]) | set(tp.LIP_INNER_LOWER[1:-1])
    upper_lip = set(tp.LIP_OUTER_UPPER[1:-1]) | set(tp.LIP_INNER_UPPER[1:-1])
    y_corner = v[list(tp.MOUTH_CORNERS), 1].mean()
    y_lip_bottom = v[tp.LIP_OUTER_LOWER[5], 1]
    handles = {i: np.ones(1) for i in lower_lip}
    handles.update({i: np.ones(1) for i in np.flatnonzero(v[:, 1] < y_lip_bottom - 4.0)})
    anchors = upper_lip | set(np.flatnonzero(v[:, 1] > y_corner + 4.0))
    w = m.harmonic(handles, anchors=anchors)[:, 0]
    # The lowest part of the cheek, behind the jaw angle, stays with the skull.
    far_back = smoothstep(0.75, 0.95, np.abs(v[:, 0]) / np.abs(v[:, 0]).max())
    return np.clip(w * (1.0 - 0.5 * far_back), 0.0, 1.0)


def _rotation_x(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


class _Author:
    """Builds the fields for one neutral mesh; one method per family of shapes."""

    def __init__(self, m: Mesh, jaw_pivot: np.ndarray) -> None:
        self.m = m
        self.v = m.vertices
        self.jaw_pivot = jaw_pivot
        self.w_jaw = jaw_weight(m)
        rot = _rotation_x(JAW_OPEN_DEGREES)  # + about x drops the chin (y down, z forward)
        rel = self.v - jaw_pivot
        # displacement of a rigid jaw at full open: rotation plus glide
        self.jaw_open_full = rel @ rot.T - rel + np.array(JAW_OPEN_GLIDE_MM)
        self.iris_all = list(tp.IRIS_LEFT + tp.IRIS_RIGHT)

    # -- helpers ------------------------------------------------------------------------
    def field(self, handles: Handles, region: str, anchors: Sequence[int] = ()) -> np.ndarray:
        anchors = set(anchors) | set(self.iris_all) - set(handles)
        return self.m.harmonic(handles, anchors=anchors, radius=REGION_RADIUS_MM[region])

    def side_mask(self, side: str) -> np.ndarray:
        return self.m.side_weight(tp.SIDE_SIGN[side])[:, None]

    def lips(self, side: str | None = None) -> dict[str, list[int]]:
        groups = {
            "outer_upper": tp.LIP_OUTER_UPPER[1:-1],
            "outer_lower": tp.LIP_OUTER_LOWER[1:-1],
            "inner_upper": tp.LIP_INNER_UPPER[1:-1],
            "inner_lower": tp.LIP_INNER_LOWER[1:-1],
        }
        if side is None:
            return {k: list(g) for k, g in groups.items()}
        s = tp.SIDE_SIGN[side]
        return {k: [i for i in g if s * self.v[i, 0] > -1.0] for k, g in groups.items()}

    def corner(self, side: str) -> list[int]:
        return [291, 308] if side == "Left" else [61, 78]

    def eye_anchors(self, side: str) -> list[int]:
        """The opposite lid rows and the brow, so a lid shape stays on its lid."""
        return list(tp.BROW_UPPER[side] + tp.BROW_LOWER[side])

    # -- eyes ---------------------------------------------------------------------------
    def eye(self, side: str) -> dict[str, np.ndarray]:
        up_close, low_close = lid_closure(self.m, side)
        upper, lower = list(up_close), list(low_close)
        iris = list(tp.IRIS[side])
        s = tp.SIDE_SIGN[side]
        out = {}
        h = {**up_close, **low_close}
        out["eyeBlink"] = self.field(h, "lid", self.eye_anchors(side))
        wide = {i: _v(y=2.8, z=0.3) for i in upper} | {i: _v(y=-0.6) for i in lower}
        out["eyeWide"] = self.field(wide, "lid", self.eye_anchors(side))
        squint = {i: 0.55 * d for i, d in low_close.items()}
        squint |= {i: 0.15 * d for i, d in up_close.items()}
        out["eyeSquint"] = self.field(squint, "lid", self.eye_anchors(side))
        dx, dy = EYE_LOOK_SHIFT_MM
        looks = {
            "eyeLookUp": (_v(y=dy), _v(y=1.4), _v(y=0.4)),
            "eyeLookDown": (_v(y=-dy), _v(y=-2.4), _v(y=-0.6)),
            "eyeLookIn": (_v(x=-s * dx), _v(x=-s * 0.4), _v()),
            "eyeLookOut": (_v(x=s * dx), _v(x=s * 0.4), _v()),
        }
        for name, (iris_shift, upper_shift, lower_shift) in looks.items():
            h = {i: upper_shift for i in upper} | {i: lower_shift for i in lower}
            field = self.field(h, "lid", self.eye_anchors(side))
            field[iris] = iris_shift
            out[name] = field
        return out

    # -- brows --------------------------------------------------------------------------
    def brows(self) -> dict[str, np.ndarray]:
        out = {}
        inner = {}
        for side in SIDES:
            rows = list(tp.BROW_UPPER[side]) + list(tp.BROW_LOWER[side])
            for i in rows:
                # Inner brow (near the midline) rises most; the outer third barely moves.
                t = smoothstep(38.0, 8.0, abs(self.v[i, 0]))
                inner[i] = _v(y=7.0 * t, x=-np.sign(self.v[i, 0]) * 0.8 * t)
        eye_lids = [i for s in SIDES for i in tp.EYE_UPPER[s] + tp.EYE_LOWER[s]]
        out["browInnerUp"] = self.field(inner, "brow", eye_lids)
        for side in SIDES:
            rows = list(tp.BROW_UPPER[side]) + list(tp.BROW_LOWER[side])
            lids = list(tp.EYE_UPPER[side] + tp.EYE_LOWER[side])
            outer = {i: _v(y=6.0 * smoothstep(12.0, 45.0, abs(self.v[i, 0]))) for i in rows}
            out[f"browOuterUp{side}"] = self.field(outer, "brow", lids) * self.side_mask(side)
            down = {}
            for i in rows:
                t = smoothstep(50.0, 10.0, abs(self.v[i, 0]))
                down[i] = _v(y=-4.0 - 1.5 * t, x=-np.sign(self.v[i, 0]) * 2.5 * t, z=0.8)
            out[f"browDown{side}"] = self.field(down, "brow", lids) * self.side_mask(side)
        return out

    # -- jaw ----------------------------------------------------------------------------
    def jaw(self) -> dict[str, np.ndarray]:
        w = self.w_jaw[:, None]
        out = {"jawOpen": w * self.jaw_open_full}
        out["jawForward"] = w * _v(z=6.0)
        out["jawLeft"] = w * _v(x=7.0)
        out["jawRight"] = w * _v(x=-7.0)
        # mouthClose: with the jaw open, bring the lips back together (60 % lower lip rising,
        # 40 % upper lip falling). On its own it pushes the lips into each other slightly.
        lips = self.lips()
        gap = self.jaw_open_full
        close: Handles = {}
        for i in lips["outer_lower"] + lips["inner_lower"]:
            close[i] = -0.6 * gap[i]
        for i in lips["outer_upper"] + lips["inner_upper"]:
            partner = min(lips["inner_lower"], key=lambda j, i=i: abs(self.v[j, 0] - self.v[i, 0]))
            close[i] = 0.4 * gap[partner]
        out["mouthClose"] = self.field(close, "mouth")
        return out

    # -- mouth --------------------------------------------------------------------------
    def mouth_whole(self) -> dict[str, np.ndarray]:
        lips = self.lips()
        allp = sorted({i for g in lips.values() for i in g} | set(tp.MOUTH_CORNERS))
        centre = self.v[allp].mean(axis=0)
        out = {}
        funnel: Handles = {}
        pucker: Handles = {}
        for i in allp:
            rel = self.v[i] - centre
            toward_x = -rel[0]
            inner = i in lips["inner_upper"] or i in lips["inner_lower"]
            upper = i in lips["inner_upper"] or i in lips["outer_upper"]
            open_y = (2.5 if upper else -3.5) if inner else (1.5 if upper else -2.0)
            funnel[i] = _v(x=0.35 * toward_x, y=open_y, z=5.0)
            pucker[i] = _v(x=0.5 * toward_x, y=-0.35 * rel[1] if not inner else 0.0, z=8.0)
        out["mouthFunnel"] = self.field(funnel, "mouth")
        out["mouthPucker"] = self.field(pucker, "mouth")
        shift = {i: _v(x=6.0) for i in allp}
        out["mouthLeft"] = self.field(shift, "mouth")
        out["mouthRight"] = -out["mouthLeft"]
        roll_lower = {i: _v(y=2.5, z=-3.5) for i in lips["outer_lower"]}
        roll_lower |= {i: _v(y=0.5, z=-3.0) for i in lips["inner_lower"]}
        out["mouthRollLower"] = self.field(roll_lower, "mouth", lips["inner_upper"])
        roll_upper = {i: _v(y=-2.5, z=-3.5) for i in lips["outer_upper"]}
        roll_upper |= {i: _v(y=-0.5, z=-3.0) for i in lips["inner_upper"]}
        out["mouthRollUpper"] = self.field(roll_upper, "mouth", lips["inner_lower"])
        shrug_lower = {i: _v(y=3.0, z=1.5) for i in lips["outer_lower"] + lips["inner_lower"]}
        chin = [i for i in range(tp.N_MESH_VERTICES) if self.w_jaw[i] > 0.9]
        shrug_lower |= {i: _v(y=2.0, z=1.0) for i in chin if i not in shrug_lower}
        out["mouthShrugLower"] = self.field(shrug_lower, "mouth", lips["inner_upper"])
        shrug_upper = {i: _v(y=2.5, z=1.0) for i in lips["outer_upper"] + lips["inner_upper"]}
        out["mouthShrugUpper"] = self.field(shrug_upper, "mouth", lips["inner_lower"])
        return out

    def mouth_side(self, side: str) -> dict[str, np.ndarray]:
        s = tp.SIDE_SIGN[side]
        mask = self.side_mask(side)
        lips = self.lips(side)
        corner = self.corner(side)
        cheek = list(tp.CHEEK[side])
        out = {}
        # Lip handles near the corner follow it; the effect fades toward the lip centre.
        near = {
            i: smoothstep(0.0, abs(self.v[corner[0], 0]), s * self.v[i, 0])
            for g in lips.values()
            for i in g
        }
        eyes = list(tp.EYE_LOWER[side])

        def corner_pull(d: np.ndarray, cheek_d: np.ndarray | None = None) -> np.ndarray:
            h: Handles = {i: d for i in corner}
            h |= {i: d * w for i, w in near.items()}
            if cheek_d is not None:
                h |= {i: cheek_d for i in cheek}
            return self.field(h, "mouth", eyes) * mask

        out["mouthSmile"] = corner_pull(_v(x=s * 6.0, y=8.0, z=-3.0), _v(y=2.5, z=1.5))
        out["mouthFrown"] = corner_pull(_v(x=s * 1.0, y=-6.0, z=-0.5))
        out["mouthDimple"] = corner_pull(_v(x=s * 3.5, y=0.5, z=-4.5))
        stretch = corner_pull(_v(x=s * 7.0, y=-2.5, z=-2.0))
        out["mouthStretch"] = stretch
        press: Handles = {}
        for i in lips["inner_upper"]:
            press[i] = _v(y=-1.2, z=-0.5)
        for i in lips["inner_lower"]:
            press[i] = _v(y=1.2, z=-0.5)
        for i in lips["outer_upper"]:
            press[i] = _v(y=-1.5, z=-1.0)
        for i in lips["outer_lower"]:
            press[i] = _v(y=1.8, z=-1.0)
        out["mouthPress"] = self.field(press, "mouth") * mask
        lower = {i: _v(y=-4.5, z=0.8) for i in lips["outer_lower"] + lips["inner_lower"]}
        out["mouthLowerDown"] = self.field(lower, "mouth", lips["inner_upper"]) * mask
        upper = {i: _v(y=4.5, z=0.8) for i in lips["outer_upper"] + lips["inner_upper"]}
        nose = list(tp.NOSE_ALA[side])
        out["mouthUpperUp"] = self.field(upper, "mouth", lips["inner_lower"] + nose) * mask
        return out

    # -- cheeks and nose ----------------------------------------------------------------
    def cheeks_nose(self) -> dict[str, np.ndarray]:
        out = {}
        puff: Handles = {}
        for side in SIDES:
            s = tp.SIDE_SIGN[side]
            for i in tp.CHEEK[side]:
                puff[i] = _v(x=s * 6.0, z=4.0)
        lips = [i for g in self.lips().values() for i in g]
        out["cheekPuff"] = self.field(puff, "cheek", lips)
        for side in SIDES:
            mask = self.side_mask(side)
            lower_lid = list(tp.EYE_LOWER[side][1:-1])
            h = {i: _v(y=3.5, z=1.5) for i in tp.CHEEKBONE[side] + tp.CHEEK[side]}
            h |= {i: _v(y=1.2) for i in lower_lid}
            out[f"cheekSquint{side}"] = self.field(h, "cheek", list(tp.EYE_UPPER[side])) * mask
            sneer = {i: _v(y=3.0, z=0.5) for i in tp.NOSE_ALA[side]}
            sneer |= {i: _v(y=1.5) for i in self.lips(side)["outer_upper"]}
            sneer |= {i: _v(y=-1.0) for i in tp.BROW_LOWER[side][-2:]}
            out[f"noseSneer{side}"] = self.field(sneer, "nose") * mask
        # No tongue geometry in the Face Mesh topology: the lips part and the lower lip is
        # pushed forward and down; the renderer draws the tongue in the mouth opening.
        lips_all = self.lips()
        tongue = {i: _v(y=-3.0, z=3.0) for i in lips_all["outer_lower"] + lips_all["inner_lower"]}
        tongue |= {i: _v(y=0.8) for i in lips_all["inner_upper"]}
        out["tongueOut"] = self.field(tongue, "mouth")
        return out


def build_blendshapes(m: Mesh, jaw_pivot: np.ndarray) -> np.ndarray:
    """Author all 52 ARKit blendshapes on the neutral mesh ``m``.

    Args:
        m: The neutral skin mesh (vertices in mm, 478 points including the irises).
        jaw_pivot: (3,) the temporomandibular axis point, mm.

    Returns:
        (52, V, 3) float32 displacement at weight 1, in ARKit order.
    """
    author = _Author(m, jaw_pivot)
    shapes: dict[str, np.ndarray] = {}
    makers: list[Callable[[], dict[str, np.ndarray]]] = [
        author.jaw,
        author.mouth_whole,
        author.brows,
        author.cheeks_nose,
    ]
    for make in makers:
        shapes.update(make())
    for side in SIDES:
        shapes.update({f"{k}{side}": f for k, f in author.eye(side).items()})
        shapes.update({f"{k}{side}": f for k, f in author.mouth_side(side).items()})
    missing = [n for n in ARKIT_BLENDSHAPES if n not in shapes]
    extra = [n for n in shapes if n not in ARKIT_BLENDSHAPES]
    if missing or extra:
        raise RuntimeError(f"blendshape set incomplete: missing {missing}, unexpected {extra}")
    return np.stack([shapes[n] for n in ARKIT_BLENDSHAPES]).astype(np.float32)
