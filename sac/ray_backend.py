"""The actor-learner split on a Ray cluster (``python train.py --backend ray``).

Ray is an optional dependency (``pip install -e '.[ray]'``); nothing here imports it at module level, and
:func:`require_ray` turns its absence into a one-line error.

Layout:

- :class:`RayLearner`, one Ray actor (``--ray-learner-cpus`` CPUs, one GPU with ``--device cuda``): owns the replay
  buffer -- actors send transitions to it once, the update reads them locally, so no sample ever crosses the
  network -- and the demonstration buffer; trains in a background thread at ``--update-itr`` updates per
  received env step; every ``--publish-every`` updates it puts the policy weights in the object store once, and
  actors fetch that object (a broadcast through the object store, not one copy per request).
- :class:`RayActor`, ``--workers`` Ray actors with one CPU and their own headless envs each: act with the latest
  weights, send transitions and finished episodes to the learner every ``--push-every`` steps. The learner's
  reply carries its counters, so the replay-ratio control (actors wait when ``--max-lead-steps`` ahead) costs no
  extra call. Ray restarts a dead actor (``--max-restarts``); what it sent before is in the learner's buffer.
- The driver (``train.py``'s :class:`RayRun`) polls the learner for counters, episodes and losses, evaluates,
  and writes every checkpoint itself (the learner may be on another machine).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

INSTALL_HINT = "pip install -e '.[ray]'"


class RayMissingError(RuntimeError):
    """``--backend ray`` without Ray installed."""


def prepare_client_auth() -> None:
    """Send Ray's auth token when one is available, as ``ray start`` does on the cluster side.

    Since Ray 2.5x, ``ray start --head`` turns token authentication on whenever a token exists (``~/.ray/auth_token``
    or ``RAY_AUTH_TOKEN[_PATH]``), but a client's ``ray.init(address=...)`` does not, and is then refused
    ("InvalidAuthToken"). A client in token mode also works with a cluster that has authentication off. Ray reads
    the mode when it is imported, so this must run before the first ``import ray`` (:func:`require_ray` does).
    """
    import os
    from pathlib import Path

    if os.environ.get("RAY_AUTH_MODE"):
        return  # the user decided
    if (
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").is_file()
    ):
        os.environ["RAY_AUTH_MODE"] = "token"


def require_ray() -> Any:
    prepare_client_auth()
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError(f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


class _LockedBuffer:
    """A replay buffer shared by the learner's request threads (pushes) and its training thread (samples)."""

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.lock = threading.Lock()

    def push_many(self, *arrays: Any) -> None:
        with self.lock:
            self.buffer.push_many(*arrays)

    def sample(self, batch_size: int) -> Any:
        with self.lock:
            return self.buffer.sample(batch_size)

    def __len__(self) -> int:
        return len(self.buffer)


class RayLearner:
    """The learner actor (decorated with ``ray.remote`` by :func:`remote_classes`)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config_json: str,
        action_low: np.ndarray,
        action_high: np.ndarray,
        replay_size: int,
        seed: int,
        demo_arrays: tuple[np.ndarray, ...] | None,
        update_kwargs: dict[str, Any],
        replay_ratio: float,
        learning_starts: int,
        publish_every: int,
        log_every: int,
        device: str,
        threads: int,
        state: dict[str, Any] | None,
        base_env_steps: int,
    ) -> None:
        import torch

        from sac import ReplayBuffer, SACConfig, SACTrainer

        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.replay = _LockedBuffer(ReplayBuffer(replay_size, obs_dim, action_dim, seed=seed))
        self.trainer = SACTrainer(
            obs_dim, action_dim, SACConfig.from_json(config_json), self.replay, action_low=action_low,
            action_high=action_high, device=device,
        )  # fmt: skip
        if state is not None:
            self.trainer.load_state_dict(state)
        if demo_arrays is not None:
            self.trainer.demo_buffer = ReplayBuffer.from_arrays(*demo_arrays, seed=seed)
        self.update_kwargs = update_kwargs
        self.batch_size = int(update_kwargs.get("batch_size", 256))
        self.replay_ratio = replay_ratio
        self.start_steps = base_env_steps + learning_starts
        self.publish_every = publish_every
        self.log_every = log_every
        self.env_steps = base_env_steps
        self.updates = 0  # this run's updates (the trainer's counter includes a resumed checkpoint's)
        self.update_lock = threading.Lock()  # one update at a time vs state snapshots
        self.count_lock = threading.Lock()
        self.episodes: deque[Any] = deque()
        self.metrics: deque[dict[str, float]] = deque()
        self.received: dict[int, int] = {}
        self.error: str | None = None
        self.stopping = threading.Event()
        self.version = 0
        self.weights: list[Any] = []
        self.publish_ms: deque[float] = deque(maxlen=100)
        self._publish()
        self._thread = threading.Thread(target=self._train_loop, name="learner", daemon=True)
        self._thread.start()

    # -- called by actors
    def add(self, actor: int, arrays: tuple[np.ndarray, ...], n_steps: int, episodes: list[Any]) -> dict[str, Any]:
        """Store an actor's transitions and finished episodes; reply with what the actor needs to pace itself."""
        if len(arrays[2]):
            self.replay.push_many(*arrays)
        with self.count_lock:  # requests run on several threads: += is not atomic across them
            self.env_steps += n_steps
            self.received[actor] = self.received.get(actor, 0) + n_steps
        self.episodes.extend(episodes)
        return self.status()

    def status(self) -> dict[str, Any]:
        return {
            "env_steps": self.env_steps,
            "updates": self.updates,
            "version": self.version,
            "stop": self.stopping.is_set(),
        }

    def weights_ref(self) -> list[Any]:
        """``[version, ObjectRef]`` of the latest published policy weights (the list keeps Ray from resolving it)."""
        return [self.version, *self.weights]

    # -- called by the driver
    def poll(self) -> dict[str, Any]:
        episodes, metrics = list(self.episodes), list(self.metrics)
        self.episodes.clear()
        self.metrics.clear()
        return {
            **self.status(),
            "episodes": episodes,
            "metrics": metrics,
            "replay_size": len(self.replay),
            "error": self.error,
            "received": dict(self.received),
            "publish_ms": float(np.median(self.publish_ms)) if self.publish_ms else None,
        }

    def state_dict(self) -> dict[str, Any]:
        with self.update_lock:
            return self.trainer.state_dict()

    def policy_state(self) -> dict[str, Any]:
        with self.update_lock:
            return {k: v.detach().cpu().clone() for k, v in self.trainer.policy_net.state_dict().items()}

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=30)

    def ping(self) -> bool:
        return True

    # -- the training thread
    def _publish(self) -> None:
        import ray

        t0 = time.perf_counter()
        state = {k: v.detach().cpu().clone() for k, v in self.trainer.policy_net.state_dict().items()}
        self.weights = [ray.put(state)]
        self.version += 1
        self.publish_ms.append((time.perf_counter() - t0) * 1e3)

    def _train_loop(self) -> None:
        import traceback

        sums: dict[str, float] = {}
        count, t0 = 0, time.perf_counter()
        try:
            while not self.stopping.is_set():
                if self.env_steps < self.start_steps or len(self.replay) < self.batch_size:
                    time.sleep(0.01)
                    continue
                if self.updates >= self.replay_ratio * (self.env_steps - self.start_steps):
                    time.sleep(0.001)
                    continue
                with self.update_lock:
                    out = self.trainer.update(**self.update_kwargs)
                self.updates += 1
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                count += 1
                if self.updates % self.publish_every == 0:
                    self._publish()
                if count >= self.log_every:
                    now = time.perf_counter()
                    means = {k: v / count for k, v in sums.items()}
                    self.metrics.append({**means, "updates_per_s": count / (now - t0)})
                    sums, count, t0 = {}, 0, now
        except Exception as exc:  # reported to the driver by poll(), which stops the run
            self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


class RayActor:
    """An env actor (decorated with ``ray.remote`` by :func:`remote_classes`)."""

    def __init__(self, index: int, spec: dict[str, Any], learner: Any, policy_args: dict[str, Any]) -> None:
        import ray
        import torch

        from sac.networks import GaussianPolicy
        from sac.rollout import EnvRunner

        torch.set_num_threads(1)
        self.index, self.spec, self.learner = index, spec, learner
        seed = int(spec["seed"])
        self.restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if self.restarted:  # a replacement does not replay its predecessor's episodes
            seed += 7919 * (1 + int(time.time()) % 10_000)
        torch.manual_seed(seed)
        self.runner = EnvRunner(
            spec["env_id"], spec["envs_per_worker"], seed=seed, env_kwargs=spec["env_kwargs"],
            max_steps=spec["max_steps"], reinit_every=spec["reinit_every"],
        )  # fmt: skip
        self.policy = GaussianPolicy(**policy_args)
        self.version = 0
        self.fetch_ms: deque[float] = deque(maxlen=100)

    def _refresh(self, version: int) -> None:
        import ray

        if version == self.version:
            return
        t0 = time.perf_counter()
        latest, ref = ray.get(self.learner.weights_ref.remote())
        self.policy.load_state_dict(ray.get(ref))
        self.version = latest
        self.fetch_ms.append((time.perf_counter() - t0) * 1e3)

    def run(self) -> dict[str, Any]:
        """Act until the learner says stop; return this actor's counts."""
        import ray

        spec, runner = self.spec, self.runner
        status = ray.get(self.learner.status.remote())
        self._refresh(status["version"])
        steps, episodes = 0, []
        ratio, lead, starts = spec["replay_ratio"], spec["max_lead_steps"], spec["learning_starts"]
        while not status["stop"]:
            if ratio > 0 and status["env_steps"] >= starts + lead + status["updates"] / ratio:
                time.sleep(0.005)  # ahead of the learner: wait instead of flooding the buffer with stale data
                status = ray.get(self.learner.status.remote())
                continue
            if status["env_steps"] < spec["explore_steps"]:
                actions = runner.random_actions()
            else:
                actions = self.policy.get_action(runner.obs, deterministic=spec["deterministic"])
                actions = np.asarray(actions, dtype=np.float32).reshape(runner.n_envs, -1)
            episodes.extend(runner.step(actions))
            steps += runner.n_envs
            if steps >= spec["push_every"] or episodes:
                status = ray.get(self.learner.add.remote(self.index, runner.pending.take(), steps, episodes))
                steps, episodes = 0, []
                self._refresh(status["version"])
        return {"index": self.index, "restarted": self.restarted, "fetch_ms": list(self.fetch_ms)}

    def ping(self) -> bool:
        return True


def remote_classes(ray: Any) -> tuple[Any, Any]:
    """``(Learner, Actor)`` as Ray actor classes (threaded learner: requests are served while it trains)."""
    learner = ray.remote(max_concurrency=8)(RayLearner)
    actor = ray.remote(RayActor)
    return learner, actor
