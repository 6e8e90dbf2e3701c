"""`ObsSpec`: what an observation is made of, read from a gymnasium space, for replay, networks and checkpoints.

A flat ``Box`` observation is one float32 vector (today's path: ``obs_dim``, the fused update). A ``Dict`` of
``Box`` spaces is a set of named arrays, each kept in its own dtype: an image key (uint8, three dimensions
``(C, H, W)``, as Stable-Baselines3's ``is_image_space`` decides) is stored as uint8 and encoded by a CNN; every
other key is flattened into a float32 vector. A *privileged* key is an array the env reports in ``info`` (e.g. the
simulator state), stored with each observation for critics that see it (asymmetric actor-critic, Pinto et al.
2017) and never given to the acting policy.

Imports numpy only (gymnasium lazily), so the replay manager's process can unpickle a spec without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SUPPORTED = "a Box, or a Dict of Box spaces (uint8 images (C, H, W) and vectors)"


@dataclass(frozen=True)
class ObsSpec:
    """Keys, shapes and dtypes of an observation.

    ``entries``: ``(key, shape, dtype name)`` per array, in a fixed order (a flat Box has the single key
    ``"obs"``); ``is_dict``: whether observations are dicts; ``privileged``: keys that come from ``info``, not
    from the observation.
    """

    entries: tuple[tuple[str, tuple[int, ...], str], ...]
    is_dict: bool = True
    privileged: tuple[str, ...] = ()

    # -- construction
    @classmethod
    def box(cls, dim: int) -> ObsSpec:
        """A flat float32 observation of ``dim`` values."""
        return cls((("obs", (int(dim),), "float32"),), is_dict=False)

    @classmethod
    def from_space(cls, space: Any, privileged: dict[str, np.ndarray] | None = None) -> ObsSpec:
        """The spec of a gymnasium observation space (a Box, or a Dict of Boxes); ``privileged``: name -> an
        example array of each ``info`` key stored beside the observation (Dict spaces only). Anything else is a
        ValueError naming what is supported."""
        import gymnasium as gym

        if isinstance(space, gym.spaces.Box):
            if privileged:
                raise ValueError("a privileged (info) key needs a Dict observation space")
            return cls.box(int(np.prod(space.shape)))
        if not isinstance(space, gym.spaces.Dict):
            raise ValueError(f"observation space {type(space).__name__} is not supported: {SUPPORTED}")
        entries = []
        for key, sub in space.spaces.items():
            if not isinstance(sub, gym.spaces.Box):
                raise ValueError(
                    f"observation key {key!r} is a {type(sub).__name__} space: {SUPPORTED} (no nesting, no "
                    "Discrete, Tuple or MultiBinary)"
                )
            entries.append((str(key), tuple(int(d) for d in sub.shape), np.dtype(sub.dtype).name))
        for key, example in (privileged or {}).items():
            if key in space.spaces:
                raise ValueError(f"privileged key {key!r} is also an observation key")
            arr = np.asarray(example)
            dtype = "uint8" if arr.dtype == np.uint8 else "float32"
            entries.append((str(key), tuple(int(d) for d in arr.shape), dtype))
        return cls(tuple(entries), True, tuple(privileged or ()))

    # -- what it holds
    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _, _ in self.entries)

    def shape(self, key: str) -> tuple[int, ...]:
        return self._entry(key)[1]

    def dtype(self, key: str) -> np.dtype:
        return np.dtype(self._entry(key)[2])

    def is_image(self, key: str) -> bool:
        """uint8 with three dimensions, channels first (SB3's ``is_image_space``)."""
        _, shape, dtype = self._entry(key)
        return dtype == "uint8" and len(shape) == 3

    @property
    def image_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.keys if self.is_image(k))

    @property
    def observed_keys(self) -> tuple[str, ...]:
        """The keys the env's observation has (all but the privileged ones): what an acting policy may see."""
        return tuple(k for k in self.keys if k not in self.privileged)

    @property
    def flat_dim(self) -> int:
        """Size of a flat Box observation (ValueError for dict observations)."""
        if self.is_dict:
            raise ValueError(f"{self.describe()} have no flat size")
        return int(np.prod(self.entries[0][1]))

    def nbytes(self, keys: tuple[str, ...] | None = None) -> int:
        """Bytes of one observation stored in its own dtypes (of ``keys``, default all)."""
        return sum(int(np.prod(s)) * np.dtype(d).itemsize for k, s, d in self.entries if keys is None or k in keys)

    def select(self, keys: str | tuple[str, ...] | None, default: tuple[str, ...]) -> tuple[str, ...]:
        """The keys a network sees: ``keys`` (comma-separated or a tuple; None: ``default``), each checked."""
        if keys is None:
            return default
        chosen = tuple(k.strip() for k in keys.split(",") if k.strip()) if isinstance(keys, str) else tuple(keys)
        unknown = [k for k in chosen if k not in self.keys]
        if unknown or not chosen:
            raise ValueError(f"observation keys {list(chosen)} are not a subset of {list(self.keys)}")
        return chosen

    def _entry(self, key: str) -> tuple[str, tuple[int, ...], str]:
        for entry in self.entries:
            if entry[0] == key:
                return entry
        raise KeyError(f"no observation key {key!r} in {self.keys}")

    # -- text and files
    def describe(self) -> str:
        """One line: ``state observations (29,)`` or ``dict observations {depth: uint8 (1, 64, 64), ...}``."""
        if not self.is_dict:
            return f"state observations {self.entries[0][1]}"
        parts = []
        for k, s, d in self.entries:
            mark = " privileged" if k in self.privileged else ""
            parts.append(f"{k}: {d} {s}{mark}")
        return "dict observations {" + ", ".join(parts) + "}"

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (checkpoints load with ``weights_only=True``)."""
        return {
            "is_dict": self.is_dict,
            "entries": [[k, list(s), d] for k, s, d in self.entries],
            "privileged": list(self.privileged),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObsSpec:
        entries = tuple((str(k), tuple(int(d) for d in s), str(t)) for k, s, t in data["entries"])
        return cls(entries, bool(data["is_dict"]), tuple(data.get("privileged", ())))


def as_spec(obs: int | ObsSpec) -> ObsSpec:
    """An `ObsSpec` from a flat observation size or a spec."""
    return obs if isinstance(obs, ObsSpec) else ObsSpec.box(int(obs))
