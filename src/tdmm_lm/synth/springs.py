"""Damped second-order dynamics and Ornstein–Uhlenbeck noise, applied in the frequency domain.

A damped spring ``x'' = ω² (u - x) - 2 ζ ω x'`` driven by a target ``u(t)`` held constant
over each frame is, sampled at the frame rate, exactly a two-pole IIR filter. Its transfer
function has a closed form, so the response of every channel (each with its own ω and ζ)
costs one batched real FFT of the targets, a complex multiply and one inverse FFT: no
per-frame loop and no kernel to transform. The OU noise is drawn directly as a spectrum
(complex Gaussian white noise times the OU transfer function), so it adds no FFT at all.

Signals are zero-padded to ``n_fft >= 2 T`` frames; the springs and the OU process decay
within that window, so the circular convolution behaves like the causal one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["apply_response", "fft_length", "ou_noise_spectrum", "spring_gain", "spring_response"]


def fft_length(n_frames: int) -> int:
    """The padded FFT length for ``n_frames``: the power of two ``>= 2 n_frames``."""
    return 1 << max(int(2 * n_frames - 1).bit_length(), 1)


@lru_cache(maxsize=16)
def _delays(n_fft: int) -> np.ndarray:
    """``(F,)`` complex ``z^-1 = exp(-2πik/n)`` at the rfft frequencies."""
    k = np.arange(n_fft // 2 + 1)
    z = np.exp(-2j * np.pi * k / n_fft)
    z.setflags(write=False)
    return z


def _step(sigma: np.ndarray, omega_d: np.ndarray, ratio: np.ndarray, t: float) -> np.ndarray:
    """Continuous unit-step response of the spring at time ``t``, per channel."""
    return 1.0 - np.exp(-sigma * t) * (np.cos(omega_d * t) + ratio * np.sin(omega_d * t))


def spring_response(omega: np.ndarray, zeta: np.ndarray, dt: float, n_fft: int) -> np.ndarray:
    """Transfer functions of under-damped springs at the rfft frequencies (unit DC gain).

    The frame-sampled spring with a target held over each frame has the step response
    ``s(k dt)`` of the continuous spring. It is a two-pole filter
    ``(b1 z + b2 z²) / (1 + a1 z + a2 z²)`` in ``z = e^{-iθ}``; one frame of advance is
    removed so a target change at frame ``k`` starts moving the channel at frame ``k``.

    Args:
        omega: ``(C,)`` natural angular frequencies (rad/s), > 0.
        zeta: ``(C,)`` damping ratios in (0, 1).
        dt: Frame period in seconds.
        n_fft: FFT length (see :func:`fft_length`).

    Returns:
        ``(C, n_fft // 2 + 1)`` complex responses (channel-major: FFTs along the last axis
        of contiguous rows are the fast ones).
    """
    omega, zeta = omega[:, None], zeta[:, None]  # (C, 1) against (F,) frequencies
    root = np.sqrt(1.0 - zeta * zeta)
    sigma, omega_d, ratio = zeta * omega, omega * root, zeta / root
    decay = np.exp(-sigma * dt)
    a1 = -2.0 * decay * np.cos(omega_d * dt)
    a2 = decay * decay
    s1, s2 = _step(sigma, omega_d, ratio, dt), _step(sigma, omega_d, ratio, 2.0 * dt)
    b1 = s1
    b2 = s2 + a1 * s1 - b1  # from the recursion y2 + a1 y1 = b1 + b2 for a unit step
    z = _delays(n_fft)
    return (b1 + b2 * z) / (1.0 + a1 * z + a2 * z * z)


def spring_gain(omega: float, zeta: float, freq_hz: float) -> float:
    """Amplitude response ``|H(f)|`` of the continuous spring at ``freq_hz`` (1 at DC)."""
    r = 2.0 * np.pi * freq_hz / omega
    return float(1.0 / np.hypot(1.0 - r * r, 2.0 * zeta * r))


def ou_noise_spectrum(
    rng: np.random.Generator, tau_s: np.ndarray, dt: float, n_fft: int
) -> np.ndarray:
    """The spectra of unit-variance OU processes with correlation times ``tau_s`` ``(S,)``.

    White noise of unit variance over ``n_fft`` frames has independent complex Gaussian
    rfft coefficients of mean power ``n_fft`` (real at DC and Nyquist); the OU process is that
    noise through ``sqrt(1 - a²) / (1 - a z)`` with ``a = exp(-dt / tau)``.

    Returns:
        ``(S, n_fft // 2 + 1)`` complex; ``np.fft.irfft(.., n_fft)`` gives the noise.
    """
    tau = np.asarray(tau_s, dtype=np.float64)[:, None]  # (S, 1)
    n_freq = n_fft // 2 + 1
    draws = rng.standard_normal((2, len(tau), n_freq))
    white = (draws[0] + 1j * draws[1]) * np.sqrt(n_fft / 2.0)
    white[:, 0] = draws[0, :, 0] * np.sqrt(n_fft)
    white[:, -1] = draws[0, :, -1] * np.sqrt(n_fft)
    a = np.exp(-dt / tau)
    return white * (np.sqrt(1.0 - a * a) / (1.0 - a * _delays(n_fft)))


def apply_response(
    x: np.ndarray, response: np.ndarray, n_fft: int, added: np.ndarray | None = None
) -> np.ndarray:
    """Filter ``x`` by ``response``, optionally adding a spectrum before filtering.

    Args:
        x: ``(T, C)`` signals.
        response: ``(C, F)`` transfer functions from :func:`spring_response`.
        n_fft: FFT length.
        added: ``(C, F)`` spectrum added to ``x``'s before filtering (noise), or None.

    Returns:
        ``(T, C)`` filtered signals (a transposed view).
    """
    spectrum = np.fft.rfft(x.T, n_fft)  # (C, F)
    if added is not None:
        spectrum += added
    spectrum *= response
    return np.fft.irfft(spectrum, n_fft)[:, : len(x)].T
