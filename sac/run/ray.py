"""Placement on a Ray cluster: the actor-learner split as Ray actors (``python train.py --backend ray``).

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
- The driver (:class:`RayBackend`, given to the run like any placement) polls the learner for counters, episodes
  and losses; the run evaluates and writes every checkpoint itself (the learner may be on another machine).

Placement is explicit (:func:`placement_options`): custom resources the learner and each actor request
(``--ray-learner-resources``, ``--ray-actor-resources``), Ray's SPREAD strategy for the actors
(``--ray-actor-spread``), and a deadline for an actor to be placed (``--ray-placement-timeout``), which is also how
a run ends when a lost node's actors find no other node. The node of every actor is in ``processes.json``.
docs/RAY.md shows a learner pinned to a GPU node and actors on CPU nodes.

The learner's training thread and each actor run the one loop of `sac.run.loop` through a Ray `Port`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from sac.run.envs import EpisodeRecord, worker_seed
from sac.run.errors import TrainingError
from sac.run.loop import Pacer, Worker

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

    if os.environ.get("RAY_AUTH_MODE"):
        return  # the user decided
    if auth_token_available():
        os.environ["RAY_AUTH_MODE"] = "token"


def auth_token_available() -> bool:
    """Whether Ray would find an auth token: ``RAY_AUTH_TOKEN[_PATH]`` or ``~/.ray/auth_token``."""
    import os
    from pathlib import Path

    return bool(
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").is_file()
    )


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


class _LockedUpdates:
    """The trainer's update under the learner's update lock, so a state snapshot never sees half an update."""

    def __init__(self, trainer: Any, lock: threading.Lock) -> None:
        self.trainer, self.lock = trainer, lock

    def update(self) -> dict[str, float]:
        with self.lock:
            return self.trainer.update()


class RayLearner:
    """The learner actor (decorated with ``ray.remote`` by :func:`remote_classes`); also the learner's `Port`."""

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
        pacer: Pacer,
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
        self.pacer = pacer
        self.publish_every = publish_every
        self.env_steps = base_env_steps
        self.base_updates = self.trainer.num_updates
        self.updates = 0  # this run's updates
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
        self.worker = Worker(self, pacer, trainer=_LockedUpdates(self.trainer, self.update_lock), log_every=log_every)
        self._thread = threading.Thread(target=self._train_loop, name="learner", daemon=True)
        self._thread.start()

    # -- the Port of the training thread's loop
    def total_steps(self) -> int:
        return self.env_steps

    def total_updates(self) -> int:
        return self.base_updates + self.updates

    def own_counts(self) -> tuple[int, int]:
        return self.total_steps(), self.total_updates()

    def replay_len(self) -> int:
        return len(self.replay)

    def learning_started(self, pacer: Pacer) -> bool:
        return pacer.start(self.env_steps, len(self.replay), *self.own_counts())

    def updated(self, n: int) -> None:
        self.updates += n
        if n and self.updates % self.publish_every == 0:
            self._publish()

    def report(self, metrics: dict[str, float]) -> None:
        self.metrics.append(metrics)

    # -- called by actors
    def add(self, actor: int, arrays: tuple[np.ndarray, ...], n_steps: int, episodes: list[Any]) -> dict[str, Any]:
        """Store an actor's transitions and finished episodes; reply with what the actor needs to pace itself."""
        if len(arrays[2]):
            self.replay.push_many(*arrays)
        with self.count_lock:  # requests run on several threads: += is not atomic across them
            self.env_steps += n_steps
            self.received[actor] = self.received.get(actor, 0) + n_steps
            self.trainer.count_successes(sum(ep.success for ep in episodes))
        self.episodes.extend(episodes)
        return self.status()

    def status(self) -> dict[str, Any]:
        return {
            "env_steps": self.env_steps,
            "updates": self.total_updates(),
            "mark": self.pacer.mark,
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

    def ping(self) -> str:
        """This actor's node id (it answers once the actor is up)."""
        return _node_id()

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

        try:
            self.worker.run(self.stopping.is_set)
        except Exception as exc:  # reported to the driver by poll(), which stops the run
            self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


class RayActor:
    """An env actor (decorated with ``ray.remote`` by :func:`remote_classes`); also its loop's `Port`."""

    def __init__(self, index: int, spec: dict[str, Any], learner: Any, policy_args: dict[str, Any]) -> None:
        import ray
        import torch

        from sac.networks import GaussianPolicy
        from sac.run.envs import EnvRunner

        torch.set_num_threads(1)
        self.index, self.spec, self.learner = index, spec, learner
        seed = int(spec["seed"])
        self.restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if self.restarted:  # a replacement does not replay its predecessor's episodes
            seed += 7919 * (1 + int(time.time()) % 10_000)
        torch.manual_seed(seed)
        self.runner = EnvRunner(
            spec["env_id"], spec["envs_per_worker"], seed=seed, support=spec["support"],
            max_steps=spec["max_steps"], reinit_every=spec["reinit_every"], n_step=spec["n_step"], gamma=spec["gamma"],
            balance_groups=spec["balance_groups"], noise_beta=spec["noise_beta"],
        )  # fmt: skip
        self.policy = GaussianPolicy(**policy_args)
        self.version = 0
        self.fetch_ms: deque[float] = deque(maxlen=100)
        self.status: dict[str, Any] = {}
        self.status_t = 0.0
        self.pacer: Pacer = spec["pacer"]
        self.unsent_steps, self.unsent_episodes = 0, []

    # -- the Port of this actor's loop
    def total_steps(self) -> int:
        return int(self.status["env_steps"]) + self.unsent_steps

    def total_updates(self) -> int:
        return int(self.status["updates"])

    def stepped(self, steps: int, episodes: list[EpisodeRecord]) -> None:
        """Counted here; the learner hears of them with the next push (an episode's end pushes at once)."""
        self.unsent_steps += steps
        self.unsent_episodes += episodes

    def push(self, transitions: tuple[np.ndarray, ...]) -> None:
        import ray

        reply = self.learner.add.remote(self.index, transitions, self.unsent_steps, self.unsent_episodes)
        self.unsent_steps, self.unsent_episodes = 0, []
        self._set_status(ray.get(reply))

    def refresh(self, pacer: Pacer) -> None:
        """Ask the learner for its counters while this actor waits for it (at most every 5 ms), then weights."""
        import ray

        if not pacer.may_act(self.total_steps(), self.total_updates()) and time.monotonic() - self.status_t > 0.005:
            self._set_status(ray.get(self.learner.status.remote()))
        if self.status["version"] != self.version:
            t0 = time.perf_counter()
            latest, ref = ray.get(self.learner.weights_ref.remote())
            self.policy.load_state_dict(ray.get(ref))
            self.version = latest
            self.fetch_ms.append((time.perf_counter() - t0) * 1e3)

    def _set_status(self, status: dict[str, Any]) -> None:
        self.status, self.status_t = status, time.monotonic()
        if self.pacer.mark is None and status["mark"] is not None:
            self.pacer.mark = tuple(status["mark"])  # type: ignore[assignment]

    def run(self) -> dict[str, Any]:
        """Act until the learner says stop; return this actor's counts."""
        import ray

        spec = self.spec
        self._set_status(ray.get(self.learner.status.remote()))
        worker = Worker(
            self, self.pacer, self.runner, self.policy, None, spec["explore_steps"], spec["deterministic"],
            spec["push_every"],
        )  # fmt: skip
        worker.run(lambda: bool(self.status["stop"]), idle_s=0.005)
        return {"index": self.index, "restarted": self.restarted, "fetch_ms": list(self.fetch_ms)}

    def ping(self) -> str:
        """This actor's node id (it answers once the actor is up: after a restart, the node it now runs on)."""
        return _node_id()


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def placement_options(cfg: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ray ``.options()`` of the learner and of each env actor that say where they may run.

    The learner takes ``--ray-learner-cpus`` CPUs, one GPU with ``--device cuda`` and the custom resources of
    ``--ray-learner-resources``; each actor one CPU and those of ``--ray-actor-resources``, spread over the nodes
    with ``--ray-actor-spread``. A learner that asks for a resource only the GPU node offers, and actors that ask
    for one only the CPU nodes offer, never share a node.
    """
    from sac.run.config import parse_resources

    learner = {
        "num_cpus": cfg.ray_learner_cpus,
        "num_gpus": 1 if cfg.device == "cuda" else 0,
        "resources": parse_resources(cfg.ray_learner_resources, "--ray-learner-resources"),
    }
    actor: dict[str, Any] = {
        "num_cpus": 1,
        "resources": parse_resources(cfg.ray_actor_resources, "--ray-actor-resources"),
    }
    if cfg.ray_actor_spread:
        actor["scheduling_strategy"] = "SPREAD"
    return learner, actor


def _asks(options: dict[str, Any]) -> str:
    """What an actor asks of its node, for error messages: '1 CPU, 1 GPU, learner=1'."""
    parts = [f"{options.get('num_cpus', 0):g} CPU"]
    parts += [f"{options['num_gpus']:g} GPU"] if options.get("num_gpus") else []
    parts += [f"{k}={v:g}" for k, v in options.get("resources", {}).items()]
    return ", ".join(parts)


def remote_classes(ray: Any) -> tuple[Any, Any]:
    """``(Learner, Actor)`` as Ray actor classes (threaded learner: requests are served while it trains)."""
    learner = ray.remote(max_concurrency=8)(RayLearner)
    actor = ray.remote(RayActor)
    return learner, actor


# -- the driver's side ---------------------------------------------------------------------------------------


class RayBackend:
    """``--backend ray``: the actor-learner split as Ray actors; the main process is the driver."""

    name = "actor-learner on ray"

    def __init__(self) -> None:
        self.ray = require_ray()  # first: without Ray, one line saying how to get it
        self.owns_ray = False
        self.learner: Any = None
        self.actors: dict[int, Any] = {}
        self.actor_refs: dict[int, Any] = {}
        self.pings: dict[int, Any] = {}  # actors Ray is restarting: a ping that answers once it is back
        self.placing: dict[int, Any] = {}  # actors starting: a ping sent before their run()
        self.waiting_since: dict[int, float] = {}  # actors not yet placed (started or restarted): since when
        self.nodes: dict[str, str] = {}  # "learner", "actor-i" -> the Ray node id it runs on
        self.restarts = 0
        self.learner_lost = False
        self.status: dict[str, Any] = {}
        self.namespace: str | None = None

    def build(self, run: Any) -> None:
        """A CPU trainer in this process (it holds the state for checkpoints); connect to Ray."""
        self.run = run
        self.trainer = run.make_trainer(replay_buffer=None, shared=False, lock=None, device="cpu")
        self.status = {"env_steps": run.start_steps, "updates": self.trainer.num_updates}
        ray, cfg = self.ray, run.cfg
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        ours = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        if ray.is_initialized():  # a caller (a test, a notebook) already connected: use it, leave it running
            pass
        elif cfg.ray_address:
            ray.init(address=cfg.ray_address, **kwargs)
        else:  # "local": a new instance for this run, even when a `ray start` cluster runs on this machine
            ray.init(address="local", include_dashboard=False, **kwargs)
            self.owns_ray = True
        for sig, handler in ours.items():  # ray.init installs its own SIGTERM handler (sys.exit): ours decides
            if handler is run.stop and threading.current_thread() is threading.main_thread():
                signal.signal(sig, handler)
        self.namespace = ray.get_runtime_context().namespace

    def process_table(self) -> dict[str, Any]:
        name = self.run.run_dir.name
        return {
            "backend": "ray",
            "ray_namespace": self.namespace,
            "owns_ray": self.owns_ray,
            "learner": f"{name}-learner",
            **{f"actor-{i}": f"{name}-actor-{i}" for i in self.actors},
            "nodes": dict(self.nodes),
        }

    def start(self) -> None:
        from sac import ReplayBuffer

        ray, cfg, run = self.ray, self.run.cfg, self.run
        learner_cls, actor_cls = remote_classes(ray)
        demos = ReplayBuffer.from_file(run.demo_path)._chronological() if run.demo_path else None
        state = self.trainer.state_dict() if cfg.resume else None
        self.learner_options, self.actor_options = placement_options(cfg)
        name = run.run_dir.name
        self.learner = learner_cls.options(name=f"{name}-learner", max_restarts=0, **self.learner_options).remote(
            run.obs_dim, run.action_dim, self.trainer.config.to_json(), run.action_low, run.action_high,
            cfg.replay_size, cfg.seed, demos, run.pacer(separate_learner=True), cfg.publish_every, cfg.log_every,
            "cuda" if self.learner_options["num_gpus"] else "cpu", cfg.learner_threads, state, run.start_steps,
        )  # fmt: skip
        try:
            self.nodes["learner"] = ray.get(self.learner.ping.remote(), timeout=cfg.ray_placement_timeout)
        except ray.exceptions.GetTimeoutError:
            self.learner_lost = True  # nothing to save from: the run's checkpoint stays as it was
            raise TrainingError(
                f"the learner was not running after --ray-placement-timeout {cfg.ray_placement_timeout:g} s: no "
                f"node offers {_asks(self.learner_options)}, or it is still starting (ray status shows the nodes)"
            ) from None
        policy_args = {
            "state_dim": run.obs_dim, "action_dim": run.action_dim, "hidden_dim": self.trainer.config.hidden_dim,
            "action_low": run.action_low, "action_high": run.action_high,
        }  # fmt: skip
        for i in range(cfg.workers):
            spec = {
                "env_id": cfg.env, "support": run.support, "max_steps": cfg.max_steps,
                "envs_per_worker": cfg.envs_per_worker, "explore_steps": run.explore_steps,
                "pacer": run.pacer(separate_learner=True), "deterministic": cfg.deterministic,
                "reinit_every": cfg.reinit_every, "push_every": cfg.push_every, "seed": worker_seed(cfg.seed, i),
                "n_step": cfg.sac.n_step, "gamma": cfg.sac.gamma, "balance_groups": cfg.balance_groups,
                "noise_beta": cfg.noise_beta,
            }  # fmt: skip
            self.actors[i] = actor_cls.options(
                name=f"{name}-actor-{i}", max_restarts=cfg.max_restarts, max_task_retries=0, **self.actor_options
            ).remote(i, spec, self.learner, policy_args)
            self.placing[i] = self.actors[i].ping.remote()  # answers with the node once placed, before run()
            self.waiting_since[i] = time.monotonic()
            self.actor_refs[i] = self.actors[i].run.remote()
        run.write_process_table()

    def poll(self, timeout: float, until_steps: float) -> None:
        time.sleep(min(timeout, 0.2))
        try:
            info = self.ray.get(self.learner.poll.remote(), timeout=120)
        except Exception as exc:  # RayActorError, GetTimeoutError: the learner is gone or hung
            self.learner_lost = True
            reason = type(exc).__name__
            raise TrainingError(f"the learner actor died or stopped answering ({reason}); stopping") from exc
        if info["error"]:
            raise TrainingError(f"the learner failed: {info['error'].splitlines()[0]}\n{info['error']}")
        self.status = info
        m = self.run.monitor
        for ep in info["episodes"]:
            m.on_episode(ep)
        for metrics in info["metrics"]:
            m.on_update(metrics)
        if info["publish_ms"] is not None:
            m.writer.add_scalar("perf/ray_publish_ms", info["publish_ms"], m.env_steps)
        self._check_placed()
        self._check_actors()

    def _check_placed(self) -> None:
        """Record the node of each actor that has started; stop the run when one waits past the deadline."""
        ray, cfg = self.ray, self.run.cfg
        if self.placing:
            ready, _ = ray.wait(list(self.placing.values()), num_returns=len(self.placing), timeout=0)
            for i, ref in [(i, r) for i, r in self.placing.items() if r in ready]:
                del self.placing[i]
                with contextlib.suppress(Exception):  # a failed start shows in its run() reference instead
                    self._placed(i, ray.get(ref))
            if not self.placing:
                where: dict[str, int] = {}
                for i in self.actors:
                    node = self.nodes.get(f"actor-{i}", "?")[:8]
                    where[node] = where.get(node, 0) + 1
                self.run.monitor.log(
                    f"ray placement: learner on node {self.nodes['learner'][:8]}; actors on "
                    + ", ".join(f"node {node} x{n}" for node, n in where.items())
                )
        now = time.monotonic()
        for i, since in self.waiting_since.items():
            if now - since > cfg.ray_placement_timeout:
                raise TrainingError(
                    f"ray actor {i} was not running after --ray-placement-timeout {cfg.ray_placement_timeout:g} s: "
                    f"no live node offers {_asks(self.actor_options)} (ray status shows the nodes); stopping"
                )

    def _placed(self, i: int, node: str) -> None:
        self.waiting_since.pop(i, None)
        self.nodes[f"actor-{i}"] = node
        self.run.write_process_table()

    def _check_actors(self) -> None:
        """A returned actor is done; a failed one is counted once and asked to run again when Ray has restarted it
        (calls to an actor being restarted fail with ``ActorUnavailableError``: those are not new deaths)."""
        ray = self.ray
        refs = {**self.actor_refs, **self.pings}
        if not refs:
            return
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=0)
        for i, ref in [(i, r) for i, r in refs.items() if r in ready]:
            restarting = i in self.pings
            try:
                node = ray.get(ref)
                if restarting:  # back: run again
                    del self.pings[i]
                    was = self.nodes.get(f"actor-{i}", "?")
                    self._placed(i, node)
                    self.run.monitor.log(f"ray actor {i} back on node {node[:8]} (was on node {was[:8]})")
                    self.actor_refs[i] = self.actors[i].run.remote()
                else:
                    del self.actor_refs[i]  # returned: the learner said stop
                continue
            except Exception as exc:
                reason = type(exc).__name__
            if restarting and reason == "ActorUnavailableError":
                self.pings[i] = self.actors[i].ping.remote()
                continue
            self.actor_refs.pop(i, None)
            self.run.monitor.log(f"ray actor {i} died ({reason})")
            if self.restarts >= self.run.cfg.max_restarts:
                raise TrainingError(f"ray actors died {self.restarts + 1} times (limit --max-restarts)")
            self.restarts += 1
            self.pings[i] = self.actors[i].ping.remote()
            self.waiting_since.setdefault(i, time.monotonic())
            self.run.monitor.log(f"ray restarts actor {i} ({self.restarts}/{self.run.cfg.max_restarts} restarts)")

    def counters(self) -> tuple[int, int, int | None]:
        return int(self.status["env_steps"]), int(self.status["updates"]), self.status.get("replay_size")

    def snapshot_policy(self, dst: Any) -> None:
        dst.load_state_dict(self.ray.get(self.learner.policy_state.remote(), timeout=120))

    def save(self, path: Any, extra: dict[str, Any], policy: Any = None) -> bool:
        """The learner's state into this process's trainer, then to ``path`` (its policy replaced by ``policy`` if
        given, `SACTrainer.save`); False when the learner is lost."""
        if self.learner is not None and not self.learner_lost:
            try:
                self.trainer.load_state_dict(self.ray.get(self.learner.state_dict.remote(), timeout=120))
            except Exception:
                self.learner_lost = True
        if self.learner_lost:
            return False
        self.trainer.save(str(path), extra=extra, policy=policy)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the actors through the learner (they finish their step and return), then the learner's loop."""
        ray = self.ray
        if self.learner is not None and not self.learner_lost:
            with contextlib.suppress(Exception):
                ray.get(self.learner.stop.remote(), timeout=timeout + 30)
            with contextlib.suppress(Exception):
                ray.wait(list(self.actor_refs.values()), num_returns=len(self.actor_refs), timeout=timeout)
        for actor in self.actors.values():
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self.actors.clear()
        self.actor_refs.clear()

    def close(self) -> None:
        """Kill what this run started on the cluster; stop the local Ray instance if this run started it."""
        for actor in [*self.actors.values(), self.learner]:
            if actor is not None:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor, no_restart=True)
        self.learner = None
        if self.owns_ray:
            with contextlib.suppress(Exception):
                self.ray.shutdown()
            self.owns_ray = False
