"""Named landmark groups of the MediaPipe Face Mesh topology (468 vertices + 10 iris points).

Indices are those of MediaPipe's canonical face mesh. "Left" and "right" are the *subject's*,
as in ARKit: the subject's left eye appears on the right of a non-mirrored frontal image and
sits at +x in model coordinates. Loops are ordered around the contour.
"""

from __future__ import annotations

__all__ = [
    "IRIS_LEFT",
    "IRIS_RIGHT",
    "LIP_INNER_LOWER",
    "LIP_INNER_UPPER",
    "LIP_OUTER_LOWER",
    "LIP_OUTER_UPPER",
    "MOUTH_CORNERS",
    "N_LANDMARKS",
    "N_MESH_VERTICES",
]

N_MESH_VERTICES = 468  # the face surface
N_LANDMARKS = 478  # plus 5 points per iris (centre first, then a ring of four)

# Iris: centre, then the ring. 468.. is the subject's right iris, 473.. the left one.
IRIS_RIGHT = (468, 469, 470, 471, 472)
IRIS_LEFT = (473, 474, 475, 476, 477)

# Eye contours, corner to corner. Upper lid, then lower lid; both include the two corners.
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)

# Brows: outer end first. "Upper" and "lower" are the two rows of the brow band.
BROW_RIGHT_UPPER = (70, 63, 105, 66, 107)
BROW_RIGHT_LOWER = (46, 53, 52, 65, 55)
BROW_LEFT_UPPER = (300, 293, 334, 296, 336)
BROW_LEFT_LOWER = (276, 283, 282, 295, 285)

# Lips, from the subject's right corner (61 / 78) to the left corner (291 / 308).
LIP_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIP_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNERS = (61, 291, 78, 308)

# Face outline, closed loop starting at the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

NOSE_TIP = 1
NOSE_BRIDGE = 168  # between the eyes
SUBNASALE = 2  # where the nose meets the upper lip
CHIN = 152
CHEEK_EDGE_RIGHT = 234  # widest points of the face outline, used for the metric scale
CHEEK_EDGE_LEFT = 454
NOSE_ALA_RIGHT = (98, 64, 48, 115, 220, 45)
NOSE_ALA_LEFT = (327, 294, 278, 344, 440, 275)
CHEEK_RIGHT = (50, 205, 187, 123, 147, 207)
CHEEK_LEFT = (280, 425, 411, 352, 376, 427)
CHEEKBONE_RIGHT = (116, 117, 118, 101)
CHEEKBONE_LEFT = (345, 346, 347, 330)

# ARKit convention: "Left" channels act on the subject's left side (+x).
EYE_UPPER = {"Left": EYE_LEFT_UPPER, "Right": EYE_RIGHT_UPPER}
EYE_LOWER = {"Left": EYE_LEFT_LOWER, "Right": EYE_RIGHT_LOWER}
IRIS = {"Left": IRIS_LEFT, "Right": IRIS_RIGHT}
BROW_UPPER = {"Left": BROW_LEFT_UPPER, "Right": BROW_RIGHT_UPPER}
BROW_LOWER = {"Left": BROW_LEFT_LOWER, "Right": BROW_RIGHT_LOWER}
NOSE_ALA = {"Left": NOSE_ALA_LEFT, "Right": NOSE_ALA_RIGHT}
CHEEK = {"Left": CHEEK_LEFT, "Right": CHEEK_RIGHT}
CHEEKBONE = {"Left": CHEEKBONE_LEFT, "Right": CHEEKBONE_RIGHT}
SIDE_SIGN = {"Left": 1.0, "Right": -1.0}  # the sign of x on that side
