"""Replay buffers: a pre-allocated numpy ring buffer, and the same buffer served to many processes.

`ReplayBuffer` stores ``obs, action, reward, next_obs, terminated`` (gymnasium's names, used throughout the
package) in arrays allocated once. ``terminated`` is true termination only: a time-limit truncation is pushed with
``terminated=False`` so the critic bootstraps through it.

`DictReplayBuffer` does the same for dict observations (`sac.spaces.ObsSpec`): one pre-allocated array per key
in the key's own dtype (uint8 images stay uint8), and each observation stored once, however the transitions that
use it arrive (several envs interleaved, n-step windows, demonstrations).

`start_replay_manager` starts a `multiprocessing` manager process (``spawn``) serving one `ReplayBuffer`; its
proxy can be handed to ``spawn``ed workers. Every proxy call is a round trip to that process (tens of
microseconds), so workers push in batches (`push_many`) and the learner samples a whole batch in one call.
bench/replay_speed.py measures what that costs.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sac.spaces import ObsSpec, as_spec

_FIELDS = ("obs", "action", "reward", "next_obs", "terminated")
_LEGACY_FIELDS = {"obs": "state", "next_obs": "next_state", "terminated": "done"}  # .npz files of earlier versions


class Batch(NamedTuple):
    """A sampled batch: float32 arrays, ``obs``/``next_obs`` ``(n, state_dim)``, ``action`` ``(n, action_dim)``,
    ``reward`` and ``terminated`` ``(n,)`` (``terminated`` is 1.0 at true termination only)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions in pre-allocated float32 numpy arrays.

    Args:
        capacity: number of transitions kept; the oldest are overwritten first.
        state_dim: observation size.
        action_dim: action size.
        seed: seed of the sampling RNG (``numpy.random.default_rng``).
    """

    def __init__(self, capacity: int, state_dim: int, action_dim: int, seed: int | None = None) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.state_dim = int(state_dim)
        self.action_dim = int(action_dim)
        self.rng = np.random.default_rng(seed)
        self.states = np.zeros((self.capacity, self.state_dim), dtype=np.float32)
        self.actions = np.zeros((self.capacity, self.action_dim), dtype=np.float32)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.next_states = np.zeros((self.capacity, self.state_dim), dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.ptr = 0  # next slot to write
        self._size = 0
        self.total_pushed = 0  # transitions ever pushed (not capped by capacity)

    # -- filling -------------------------------------------------------------------------------------------

    def push(self, obs: Any, action: Any, reward: float, next_obs: Any, terminated: bool | float) -> None:
        """Add one transition (``terminated``: true termination only, not truncation)."""
        i = self.ptr
        self.states[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_states[i] = next_obs
        self.dones[i] = float(terminated)
        self.ptr = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self.total_pushed += 1

    def push_many(self, obs: Any, actions: Any, rewards: Any, next_obs: Any, terminated: Any) -> None:
        """Add ``n`` transitions given as arrays with a leading dimension ``n`` (one proxy call for many)."""
        states = np.asarray(obs, dtype=np.float32).reshape(-1, self.state_dim)
        n = len(states)
        actions = np.asarray(actions, dtype=np.float32).reshape(n, self.action_dim)
        rewards = np.asarray(rewards, dtype=np.float32).reshape(n)
        next_states = np.asarray(next_obs, dtype=np.float32).reshape(n, self.state_dim)
        dones = np.asarray(terminated, dtype=np.float32).reshape(n)
        self.total_pushed += n
        if n > self.capacity:  # only the newest `capacity` survive
            cut = n - self.capacity
            states, actions, rewards, next_states, dones = (
                a[cut:] for a in (states, actions, rewards, next_states, dones)
            )
            n = self.capacity
        first = min(n, self.capacity - self.ptr)  # rows before the wrap
        for dst, src in (
            (self.states, states),
            (self.actions, actions),
            (self.rewards, rewards),
            (self.next_states, next_states),
            (self.dones, dones),
        ):
            dst[self.ptr : self.ptr + first] = src[:first]
            dst[: n - first] = src[first:]
        self.ptr = (self.ptr + n) % self.capacity
        self._size = min(self._size + n, self.capacity)

    @classmethod
    def from_arrays(
        cls,
        obs: Any,
        actions: Any,
        rewards: Any,
        next_obs: Any,
        terminated: Any,
        capacity: int | None = None,
        seed: int | None = None,
    ) -> ReplayBuffer:
        """A buffer holding exactly these transitions (``capacity`` defaults to their number)."""
        obs = np.asarray(obs, dtype=np.float32)
        actions = np.asarray(actions, dtype=np.float32)
        if obs.ndim != 2 or actions.ndim != 2 or len(obs) == 0:
            raise ValueError("observations and actions must be non-empty 2-D arrays")
        buffer = cls(capacity or len(obs), obs.shape[1], actions.shape[1], seed=seed)
        buffer.push_many(obs, actions, rewards, next_obs, terminated)
        return buffer

    @classmethod
    def from_transitions(cls, transitions: Any, capacity: int | None = None, seed: int | None = None) -> ReplayBuffer:
        """A buffer from an object with arrays ``obs, action, reward, next_obs, terminated`` (e.g. the
        ``Transitions`` of ``grasp_env.expert.collect_demonstrations``); truncated steps bootstrap."""
        return cls.from_arrays(
            transitions.obs,
            transitions.action,
            transitions.reward,
            transitions.next_obs,
            transitions.terminated,
            capacity=capacity,
            seed=seed,
        )

    # -- reading -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def size(self) -> int:
        """Number of stored transitions (same as ``len()``; a plain method for manager proxies)."""
        return self._size

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = self.rng.integers(0, self._size, size=batch_size)
        return Batch(self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx], self.dones[idx])

    def _chronological(self) -> tuple[np.ndarray, ...]:
        """The stored rows, oldest first."""
        if self._size < self.capacity:
            order = slice(0, self._size)
            return tuple(a[order] for a in self._arrays())
        return tuple(np.concatenate([a[self.ptr :], a[: self.ptr]]) for a in self._arrays())

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.states, self.actions, self.rewards, self.next_states, self.dones)

    # -- persistence ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (oldest first), dimensions, counters and the sampling RNG state."""
        data: dict[str, Any] = dict(zip(_FIELDS, self._chronological()))
        data.update(
            capacity=np.int64(self.capacity),
            state_dim=np.int64(self.state_dim),
            action_dim=np.int64(self.action_dim),
            total_pushed=np.int64(self.total_pushed),
            rng_state=np.array(json.dumps(self.rng.bit_generator.state)),
        )
        return data

    def load_state_dict(self, data: Any) -> None:
        """Replace the contents with ``data`` (from `state_dict` or an ``.npz``). Capacity may differ: if
        smaller, the newest transitions are kept."""
        state_dim, action_dim = int(data["state_dim"]), int(data["action_dim"])
        if (state_dim, action_dim) != (self.state_dim, self.action_dim):
            raise ValueError(
                f"replay data has state_dim={state_dim}, action_dim={action_dim}; "
                f"this buffer has state_dim={self.state_dim}, action_dim={self.action_dim}"
            )
        self.ptr = 0
        self._size = 0
        self.push_many(*(np.asarray(data[k if k in data else _LEGACY_FIELDS.get(k, k)]) for k in _FIELDS))
        self.total_pushed = int(data["total_pushed"]) if "total_pushed" in data else self._size
        if "rng_state" in data:
            self.rng.bit_generator.state = json.loads(str(np.asarray(data["rng_state"])))

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` atomically (`sac.checkpoint.atomic_write`)."""
        from sac.checkpoint import atomic_write

        return atomic_write(path, lambda f: np.savez(f, **self.state_dict()))

    def load(self, path: str | os.PathLike) -> ReplayBuffer:
        """Fill this buffer from an ``.npz`` written by `save`; returns ``self``."""
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict(data)
        return self

    @classmethod
    def from_file(cls, path: str | os.PathLike, capacity: int | None = None, seed: int | None = None) -> ReplayBuffer:
        """A new buffer holding the transitions of an ``.npz`` written by `save` (e.g. a demonstration set);
        ``capacity`` defaults to the number stored."""
        with np.load(path, allow_pickle=False) as data:
            if "obs_spec" in data:
                raise ValueError(f"{path} holds dict observations: use DictReplayBuffer.from_file")
            n = len(data["reward"])
            buffer = cls(capacity or max(n, 1), int(data["state_dim"]), int(data["action_dim"]), seed=seed)
            buffer.load_state_dict(data)
        if seed is not None:  # an explicit seed wins over the saved RNG state
            buffer.rng = np.random.default_rng(seed)
        return buffer


class DictBatch(NamedTuple):
    """A sampled batch of dict observations: ``obs`` and ``next_obs`` map each key to ``(n, *shape)`` in the key's
    own dtype (images stay uint8: the networks scale them); ``action`` ``(n, action_dim)``, ``reward`` and
    ``terminated`` ``(n,)`` float32."""

    obs: dict[str, np.ndarray]
    action: np.ndarray
    reward: np.ndarray
    next_obs: dict[str, np.ndarray]
    terminated: np.ndarray


_CHUNK = 4096  # transitions per step when a saved buffer is read back (bounds the temporary copy)


class DictReplayBuffer:
    """Ring buffer of transitions whose observations are dicts of arrays, each observation stored once.

    Observations live in a pool of *frames*: one pre-allocated array per key, ``(frame_capacity, *shape)`` in the
    key's dtype. A transition holds the frame indices of its ``obs`` and ``next_obs``. A pushed observation whose
    bytes equal a stored frame's (found through a hash of the bytes, then compared) reuses that frame, so
    ``next_obs`` of step t and ``obs`` of step t+1 share one frame whatever order the transitions arrive in (several
    envs interleaved, n-step windows, chunks from different workers), and the final observation of a truncated
    episode is its own frame, never the reset observation that follows it. Frames are reference-counted and freed
    when the last transition using them is overwritten. A stream of episodes needs about one frame per transition
    plus one per episode end; ``frame_capacity`` (default ``capacity + capacity // 4 + 16``) bounds the memory, and
    should the pool run out, the oldest transitions are dropped early to free frames (``len`` is then below
    ``capacity``).

    ``bytes_per_transition()`` is the allocated memory divided by ``capacity`` (bench/image_replay.py
    prints it for the camera observation); the hash index adds a Python dict entry per live frame.

    Args:
        capacity: number of transitions kept; the oldest are overwritten first.
        spec: the observation's keys, shapes and dtypes (`sac.spaces.ObsSpec`, dict observations).
        action_dim: action size.
        seed: seed of the sampling RNG.
        frame_capacity: observations the pool holds (at least 2).
    """

    def __init__(
        self, capacity: int, spec: ObsSpec, action_dim: int, seed: int | None = None, frame_capacity: int | None = None
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if not spec.is_dict:
            raise ValueError("DictReplayBuffer holds dict observations; use ReplayBuffer for a flat Box")
        self.capacity = int(capacity)
        self.spec = spec
        self.action_dim = int(action_dim)
        self.frame_capacity = int(frame_capacity or self.capacity + self.capacity // 4 + 16)
        if self.frame_capacity < 2:
            raise ValueError("frame_capacity must be at least 2")
        self.rng = np.random.default_rng(seed)
        f = self.frame_capacity
        self.frames = {k: np.zeros((f, *spec.shape(k)), dtype=spec.dtype(k)) for k in spec.keys}
        self.refcount = np.zeros(f, dtype=np.int32)
        self.frame_hash = np.zeros(f, dtype=np.int64)
        self._free = np.arange(f - 1, -1, -1, dtype=np.int32)  # a stack: the lowest index on top
        self._n_free = f
        self._index: dict[int, int] = {}  # hash of a frame's bytes -> frame
        self.obs_frame = np.zeros(self.capacity, dtype=np.int32)
        self.next_frame = np.zeros(self.capacity, dtype=np.int32)
        self.actions = np.zeros((self.capacity, self.action_dim), dtype=np.float32)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.ptr = 0  # next slot to write
        self._size = 0
        self.total_pushed = 0

    # -- frames
    def _rows(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        missing = [k for k in self.spec.keys if k not in obs]
        if missing:
            raise KeyError(f"observation lacks keys {missing} (buffer holds {list(self.spec.keys)})")
        return {
            k: np.ascontiguousarray(np.asarray(obs[k], dtype=self.spec.dtype(k)).reshape(-1, *self.spec.shape(k)))
            for k in self.spec.keys
        }

    def _frame(self, rows: dict[str, np.ndarray], i: int) -> int:
        """The frame holding observation ``i`` of ``rows`` (an equal stored one, or a new one), referenced once
        more."""
        data = b"".join(rows[k][i].tobytes() for k in self.spec.keys)
        h = hash(data)
        f = self._index.get(h)
        if f is None or not all(np.array_equal(self.frames[k][f], rows[k][i]) for k in self.spec.keys):
            f = self._alloc()
            for k in self.spec.keys:
                self.frames[k][f] = rows[k][i]
            self.frame_hash[f] = h
            self._index.setdefault(h, f)  # on a collision the first frame keeps the entry
        self.refcount[f] += 1
        return int(f)

    def _alloc(self) -> int:
        while self._n_free == 0:  # the pool is full: drop the oldest transition until a frame frees
            self._evict_oldest()
        self._n_free -= 1
        return int(self._free[self._n_free])

    def _release(self, f: int) -> None:
        self.refcount[f] -= 1
        if self.refcount[f] == 0:
            h = int(self.frame_hash[f])
            if self._index.get(h) == f:
                del self._index[h]
            self._free[self._n_free] = f
            self._n_free += 1

    def _evict_oldest(self) -> None:
        if self._size == 0:
            raise RuntimeError("replay frame pool exhausted with no transition to drop")
        i = (self.ptr - self._size) % self.capacity
        self._release(int(self.obs_frame[i]))
        self._release(int(self.next_frame[i]))
        self._size -= 1

    # -- filling
    def push(self, obs: dict[str, Any], action: Any, reward: float, next_obs: dict[str, Any], terminated: Any) -> None:
        """Add one transition (``terminated``: true termination only, not truncation)."""
        self.push_many(obs, [action], [reward], next_obs, [terminated])

    def push_many(
        self, obs: dict[str, Any], actions: Any, rewards: Any, next_obs: dict[str, Any], terminated: Any
    ) -> None:
        """Add ``n`` transitions: ``obs`` and ``next_obs`` map each key to ``(n, *shape)`` (one proxy call)."""
        obs_rows, next_rows = self._rows(obs), self._rows(next_obs)
        n = len(obs_rows[self.spec.keys[0]])
        actions = np.asarray(actions, dtype=np.float32).reshape(n, self.action_dim)
        rewards = np.asarray(rewards, dtype=np.float32).reshape(n)
        dones = np.asarray(terminated, dtype=np.float32).reshape(n)
        for i in range(n):
            if self._size == self.capacity:
                self._evict_oldest()
            f_obs = self._frame(obs_rows, i)
            f_next = self._frame(next_rows, i)
            j = self.ptr
            self.obs_frame[j], self.next_frame[j] = f_obs, f_next
            self.actions[j], self.rewards[j], self.dones[j] = actions[i], rewards[i], dones[i]
            self.ptr = (j + 1) % self.capacity
            self._size += 1
        self.total_pushed += n

    # -- reading
    def __len__(self) -> int:
        return self._size

    def size(self) -> int:
        """Number of stored transitions (a plain method for manager proxies)."""
        return self._size

    def frames_used(self) -> int:
        """Distinct observations stored."""
        return self.frame_capacity - self._n_free

    def bytes_per_transition(self) -> float:
        """Allocated bytes (frames, transitions, pool bookkeeping) divided by ``capacity``."""
        return self.allocated_bytes(self.capacity, self.spec, self.action_dim, self.frame_capacity) / self.capacity

    @staticmethod
    def allocated_bytes(capacity: int, spec: ObsSpec, action_dim: int, frame_capacity: int | None = None) -> int:
        """The arrays' bytes of a buffer of this size (without allocating it): per frame the observation, its
        reference count, hash and free-stack slot (4 + 8 + 4); per transition two frame indices, the action, the
        reward and the termination flag."""
        frames = frame_capacity or capacity + capacity // 4 + 16
        return frames * (spec.nbytes() + 16) + capacity * (4 + 4 + 4 * action_dim + 4 + 4)

    def _slots(self) -> np.ndarray:
        """Slot indices of the stored transitions, oldest first."""
        return (self.ptr - self._size + np.arange(self._size)) % self.capacity

    def _gather(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        return {k: self.frames[k][frames] for k in self.spec.keys}

    def sample(self, batch_size: int) -> DictBatch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = (self.ptr - self._size + self.rng.integers(0, self._size, size=batch_size)) % self.capacity
        return DictBatch(
            self._gather(self.obs_frame[idx]),
            self.actions[idx],
            self.rewards[idx],
            self._gather(self.next_frame[idx]),
            self.dones[idx],
        )

    def _chronological(self) -> tuple[Any, ...]:
        """The stored transitions, oldest first, as ``push_many`` takes them (observations copied out)."""
        s = self._slots()
        return (
            self._gather(self.obs_frame[s]),
            self.actions[s],
            self.rewards[s],
            self._gather(self.next_frame[s]),
            self.dones[s],
        )

    # -- persistence
    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (oldest first) with each observation once: ``frame.<key>`` arrays and the
        ``obs_frame`` / ``next_frame`` indices into them; the spec, counters and the sampling RNG state."""
        s = self._slots()
        used, inverse = np.unique(np.concatenate([self.obs_frame[s], self.next_frame[s]]), return_inverse=True)
        data: dict[str, Any] = {f"frame.{k}": self.frames[k][used] for k in self.spec.keys}
        data.update(
            obs_frame=inverse[: len(s)],
            next_frame=inverse[len(s) :],
            action=self.actions[s],
            reward=self.rewards[s],
            terminated=self.dones[s],
            obs_spec=np.array(json.dumps(self.spec.to_dict())),
            capacity=np.int64(self.capacity),
            action_dim=np.int64(self.action_dim),
            total_pushed=np.int64(self.total_pushed),
            rng_state=np.array(json.dumps(self.rng.bit_generator.state)),
        )
        return data

    def load_state_dict(self, data: Any) -> None:
        """Replace the contents with ``data`` (from `state_dict` or an ``.npz``); if this buffer is smaller, the
        newest transitions are kept."""
        spec = ObsSpec.from_dict(json.loads(str(np.asarray(data["obs_spec"]))))
        if spec != self.spec or int(data["action_dim"]) != self.action_dim:
            raise ValueError(
                f"replay data has {spec.describe()}, action_dim={int(data['action_dim'])}; this buffer has "
                f"{self.spec.describe()}, action_dim={self.action_dim}"
            )
        self.refcount[:] = 0
        self._free = np.arange(self.frame_capacity - 1, -1, -1, dtype=np.int32)
        self._n_free, self._index, self.ptr, self._size = self.frame_capacity, {}, 0, 0
        frames = {k: np.asarray(data[f"frame.{k}"]) for k in self.spec.keys}
        obs_frame, next_frame = np.asarray(data["obs_frame"]), np.asarray(data["next_frame"])
        action, reward, done = (np.asarray(data[k]) for k in ("action", "reward", "terminated"))
        start = max(0, len(reward) - self.capacity)
        for lo in range(start, len(reward), _CHUNK):
            s = slice(lo, min(lo + _CHUNK, len(reward)))
            self.push_many(
                {k: v[obs_frame[s]] for k, v in frames.items()},
                action[s],
                reward[s],
                {k: v[next_frame[s]] for k, v in frames.items()},
                done[s],
            )
        self.total_pushed = int(data["total_pushed"]) if "total_pushed" in data else self._size
        if "rng_state" in data:
            self.rng.bit_generator.state = json.loads(str(np.asarray(data["rng_state"])))

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` atomically (`sac.checkpoint.atomic_write`)."""
        from sac.checkpoint import atomic_write

        return atomic_write(path, lambda f: np.savez(f, **self.state_dict()))

    def load(self, path: str | os.PathLike) -> DictReplayBuffer:
        """Fill this buffer from an ``.npz`` written by `save`; returns ``self``."""
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict(data)
        return self

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, capacity: int | None = None, seed: int | None = None
    ) -> DictReplayBuffer:
        """A new buffer holding the transitions of an ``.npz`` written by `save` (``capacity`` defaults to the
        number stored)."""
        with np.load(path, allow_pickle=False) as data:
            if "obs_spec" not in data:
                raise ValueError(f"{path} holds flat observations: use ReplayBuffer.from_file")
            spec = ObsSpec.from_dict(json.loads(str(np.asarray(data["obs_spec"]))))
            n = len(data["reward"])
            buffer = cls(capacity or max(n, 1), spec, int(data["action_dim"]), seed=seed)
            buffer.load_state_dict(data)
        if seed is not None:
            buffer.rng = np.random.default_rng(seed)
        return buffer


def replay_from_file(path: str | os.PathLike, capacity: int | None = None, seed: int | None = None) -> Any:
    """The buffer an ``.npz`` of `ReplayBuffer.save` or `DictReplayBuffer.save` holds, whichever it is (e.g. a
    demonstration file of a state run or of a camera run)."""
    with np.load(path, allow_pickle=False) as data:
        is_dict = "obs_spec" in data
    return (DictReplayBuffer if is_dict else ReplayBuffer).from_file(path, capacity=capacity, seed=seed)


def transitions_buffer(
    transitions: Any, spec: ObsSpec, action_dim: int, privileged_key: str | None = None, seed: int | None = None
) -> Any:
    """A buffer of exactly ``transitions`` (arrays ``obs, action, reward, next_obs, terminated``; e.g. the
    ``Transitions`` of ``grasp_env.expert.collect_demonstrations``) for observations of ``spec``. Dict observations
    get the privileged ``state`` arrays beside them under ``privileged_key`` when the spec stores one."""
    if not spec.is_dict:
        return ReplayBuffer.from_transitions(transitions, seed=seed)
    obs, next_obs = dict(transitions.obs), dict(transitions.next_obs)
    if privileged_key:
        if transitions.state is None:
            raise ValueError(f"the transitions carry no state to store under {privileged_key!r}")
        obs[privileged_key], next_obs[privileged_key] = transitions.state, transitions.next_state
    if set(obs) != set(spec.keys):
        raise ValueError(f"the transitions have keys {sorted(obs)}; the buffer stores {spec.describe()}")
    buffer = DictReplayBuffer(max(len(transitions.reward), 1), spec, action_dim, seed=seed)
    buffer.push_many(obs, transitions.action, transitions.reward, next_obs, transitions.terminated)
    return buffer


def make_replay_buffer(capacity: int, obs: int | ObsSpec, action_dim: int, seed: int | None = None) -> Any:
    """A `ReplayBuffer` for a flat observation (a size or a Box spec), a `DictReplayBuffer` for dict ones."""
    spec = as_spec(obs)
    if spec.is_dict:
        return DictReplayBuffer(capacity, spec, action_dim, seed=seed)
    return ReplayBuffer(capacity, spec.flat_dim, action_dim, seed=seed)


class PrefetchingSampler:
    """Wraps a buffer (typically a manager proxy) so ``sample(n)`` returns a batch fetched in the background.

    Each call returns the batch requested by the previous call (fetched by a helper thread while the caller was
    busy, e.g. with a gradient update) and starts fetching the next one, so the proxy round trip is hidden. The
    batch is therefore one call old, which does not matter for uniform replay. Other methods pass through.
    Picklable: the thread is not sent along; it starts again on first use.
    """

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[int, Future[Batch]] | None = None

    def sample(self, batch_size: int) -> Batch:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == batch_size:
            batch = pending[1].result()
        else:
            batch = self.buffer.sample(batch_size)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-prefetch")
        self._pending = (batch_size, self._pool.submit(self.buffer.sample, batch_size))
        return batch

    def close(self) -> None:
        """Stop the helper thread (also safe to skip: it is a daemon-like pool thread)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._pending = None, None

    def __len__(self) -> int:
        return len(self.buffer)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":  # not yet set (during unpickling)
            raise AttributeError(name)
        return getattr(self.buffer, name)

    def __getstate__(self) -> dict[str, Any]:
        return {"buffer": self.buffer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["buffer"])  # type: ignore[misc]


# -- the shared buffer -------------------------------------------------------------------------------------


class ReplayManager(BaseManager):
    """Manager whose server process holds one `ReplayBuffer` (see `start_replay_manager`)."""


_EXPOSED = ("push", "push_many", "sample", "size", "__len__", "state_dict", "load_state_dict", "save", "load")
ReplayManager.register("ReplayBuffer", ReplayBuffer, exposed=_EXPOSED)
ReplayManager.register("DictReplayBuffer", DictReplayBuffer, exposed=(*_EXPOSED, "bytes_per_transition"))


def _serve_init(parent_pid: int) -> None:
    """Runs in the manager process: let the owner shut it down, and exit if the owner dies without doing so."""
    # Ctrl-C goes to the whole process group; the owner's `finally` should be the one to stop the server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="replay-parent-watch", daemon=True).start()


def start_replay_manager(
    capacity: int, state_dim: int | ObsSpec, action_dim: int, seed: int | None = None, start_method: str = "spawn"
) -> tuple[ReplayManager, Any]:
    """Start a manager process serving one `ReplayBuffer` (a `DictReplayBuffer` when ``state_dim`` is a spec of
    dict observations) and return ``(manager, proxy)``.

    The proxy has ``push``, ``push_many``, ``sample``, ``size``, ``__len__`` (and ``state_dict``,
    ``load_state_dict``, ``save``, ``load``); it can be passed to ``spawn``ed processes. The caller owns
    ``manager.shutdown()`` (use ``try/finally``); the server also exits by itself if its parent process dies.
    """
    manager = ReplayManager(ctx=get_context(start_method))
    manager.start(initializer=_serve_init, initargs=(os.getpid(),))
    try:
        spec = as_spec(state_dim)
        if spec.is_dict:
            proxy = manager.DictReplayBuffer(capacity, spec, action_dim, seed)  # type: ignore[attr-defined]
        else:
            proxy = manager.ReplayBuffer(capacity, spec.flat_dim, action_dim, seed)  # type: ignore[attr-defined]
    except BaseException:
        manager.shutdown()
        raise
    return manager, proxy
