"""The motion summary Motion2Language reads: whole-clip statistics and the timeline."""

from __future__ import annotations

import numpy as np
import pytest

from tdmm_lm.lm.summary import SUMMARY_STATS, WINDOW_STATS, summarise


def _step(first: float, second: float, frames: int = 40) -> np.ndarray:
    """(frames, 3) parameters: channel 0 at ``first`` for half the clip, then ``second``."""
    params = np.zeros((frames, 3), np.float32)
    params[: frames // 2, 0], params[frames // 2 :, 0] = first, second
    return params


def test_the_timeline_tells_which_expression_comes_first():
    smile_then_frown, frown_then_smile = _step(1.0, -1.0), _step(-1.0, 1.0)
    whole = len(SUMMARY_STATS) * 3
    # Whole-clip statistics cannot tell the two orders apart ...
    np.testing.assert_allclose(summarise(smile_then_frown), summarise(frown_then_smile))
    assert summarise(smile_then_frown).shape == (whole,)
    # ... the timeline can: each window's mean of channel 0, in time order.
    timeline = summarise(smile_then_frown, windows=2)
    assert timeline.shape == (whole + 2 * len(WINDOW_STATS) * 3,)
    np.testing.assert_allclose(timeline[:whole], summarise(smile_then_frown))
    first, second = timeline[whole:].reshape(2, len(WINDOW_STATS), 3)
    assert first[0, 0] == 1.0 and second[0, 0] == -1.0
    # The one step lies between the windows, so neither window's mean change holds it.
    assert first[1, 0] == 0.0 and second[1, 0] == 0.0
    assert summarise(smile_then_frown, windows=3)[whole:].reshape(3, 2, 3)[1, 1, 0] > 0


def test_a_clip_shorter_than_the_timeline_repeats_its_frames():
    one_frame = np.array([[0.5, -0.5]], np.float32)
    timeline = summarise(one_frame, windows=4)[len(SUMMARY_STATS) * 2 :].reshape(4, 2, 2)
    np.testing.assert_allclose(timeline[:, 0], np.tile(one_frame, (4, 1)))  # means
    np.testing.assert_allclose(timeline[:, 1], 0.0)  # no change within one frame
    with pytest.raises(ValueError, match="windows"):
        summarise(one_frame, windows=-1)
