"""Temporally correlated ("colored") exploration noise for the acting policy.

SAC explores by sampling ``u = mean + std * eps`` with ``eps`` drawn independently at every step (white noise).
Over a 50-step grasping episode such noise averages itself away: a hand that should travel 20 cm down, or a
gripper that should stay closed for the lift, gets a fresh coin flip each step. Colored noise (Eberhard et al.,
"Pink Noise Is All You Need", ICLR 2023) keeps each ``eps`` a standard normal at every step, so the policy's
distribution and its log-probabilities are unchanged, but correlates it over time: its power spectrum falls as
``1 / f**beta`` (beta 0: white; 1: pink; 2: red, a random walk). Only acting changes; SAC's update is off-policy
and never sees how an action was drawn.

`powerlaw_noise` draws whole sequences by the method of Timmer & Koenig (1995): random Fourier amplitudes shaped
to the spectrum, inverse FFT, divided by the exact standard deviation of a sample. `ColoredNoise` hands out one
step at a time per env and starts a fresh sequence at every episode.
"""

from __future__ import annotations

import numpy as np


def powerlaw_noise(beta: float, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Gaussian sequences along the last axis of ``size`` with power spectrum ``1 / f**beta``, unit variance.

    The lowest frequency is ``1 / n`` for a sequence of ``n`` samples (the zero-frequency term gets the amplitude
    of that one, so a red sequence still wanders around zero rather than starting far away). ``beta = 0`` gives
    white noise.
    """
    if beta < 0 or not np.isfinite(beta):
        raise ValueError(f"noise exponent beta must be a finite number >= 0, got {beta!r}")
    n = int(size[-1])
    if n < 2:
        return rng.standard_normal(size)
    f = np.fft.rfftfreq(n)
    f[0] = 1.0 / n
    scale = f ** (-beta / 2.0)
    # The DC term (and for even n the Nyquist term) is real with variance 2 scale^2; every other term adds
    # 4 scale^2 to n^2 var(x_t): sigma is the exact standard deviation of each sample.
    power = 4.0 * scale**2
    power[0] = 2.0 * scale[0] ** 2
    if n % 2 == 0:
        power[-1] = 2.0 * scale[-1] ** 2
    sigma = np.sqrt(np.sum(power)) / n
    shape = (*size[:-1], len(f))
    real = rng.standard_normal(shape) * scale
    imag = rng.standard_normal(shape) * scale
    if n % 2 == 0:
        imag[..., -1] = 0.0
        real[..., -1] *= np.sqrt(2.0)
    imag[..., 0] = 0.0
    real[..., 0] *= np.sqrt(2.0)
    return np.fft.irfft(real + 1j * imag, n=n, axis=-1) / sigma


class ColoredNoise:
    """Per-env streams of colored standard-normal noise, one ``(n_envs, action_dim)`` row per step.

    Args:
        beta: spectral exponent (0 white, 1 pink, 2 red).
        n_envs, action_dim: shape of each step's noise.
        horizon: samples per drawn sequence: the episode length if known. A longer episode continues with a
            fresh sequence.
        rng: the generator (seeded by the runner, so a seed fixes the exploration).
    """

    def __init__(self, beta: float, n_envs: int, action_dim: int, horizon: int, rng: np.random.Generator) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon!r}")
        self.beta, self.action_dim, self.horizon, self.rng = float(beta), int(action_dim), int(horizon), rng
        self.sequences = [self._draw() for _ in range(n_envs)]
        self.t = np.zeros(n_envs, dtype=np.int64)

    def _draw(self) -> np.ndarray:
        return powerlaw_noise(self.beta, (self.action_dim, self.horizon), self.rng).astype(np.float32)

    def next(self) -> np.ndarray:
        """This step's noise of every env, ``(n_envs, action_dim)`` float32; advances each stream by one."""
        out = np.empty((len(self.sequences), self.action_dim), dtype=np.float32)
        for i, seq in enumerate(self.sequences):
            if self.t[i] >= self.horizon:
                self.sequences[i], self.t[i] = self._draw(), 0
                seq = self.sequences[i]
            out[i] = seq[:, self.t[i]]
            self.t[i] += 1
        return out

    def reset(self, env_index: int) -> None:
        """A new episode in env ``env_index``: a fresh sequence."""
        self.sequences[env_index] = self._draw()
        self.t[env_index] = 0
