"""Playing episodes: env construction, the batched multi-env runner, deterministic evaluation, and the seeds.

Nothing here names an env. Environments come from ``gymnasium.make`` by id, so any registered env with a ``Box``
action space and a ``Box`` observation space, or a ``Dict`` of ``Box`` spaces (images and vectors,
`sac.spaces.ObsSpec`), works; what the run knows beyond gymnasium about an env family (the module that
registers it, the info key that groups episodes, a scripted expert) comes in an `EnvSupport` that the
application (``train.py``) builds.
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from sac.noise import ColoredNoise
from sac.spaces import SUPPORTED, ObsSpec

# -- seeds: every formula once -----------------------------------------------------------------------------

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episodes use seeds from here up; training and demonstration seeds stay below it."""
EVAL_BLOCK = 10_000
"""Seeds per evaluation block: block ``b`` is ``EVAL_SEED_OFFSET + b * EVAL_BLOCK + k``, ``k < EVAL_BLOCK``."""


def eval_seed(block: int, k: int = 0) -> int:
    """Seed of the ``k``-th evaluation episode of block ``block`` (a run evaluates on the block of its seed)."""
    return EVAL_SEED_OFFSET + block * EVAL_BLOCK + k


HELDOUT_BLOCK_BASE = 100_000
"""Held-out blocks start here: block ``HELDOUT_BLOCK_BASE + seed`` is the one a run seeded ``seed`` reports on."""


def heldout_block(seed: int) -> int:
    """Evaluation block of the held-out report of a run seeded ``seed``: no training episode, and none of the
    evaluations that choose its best.pt or stop it (block ``seed``), use these seeds."""
    return HELDOUT_BLOCK_BASE + seed


def worker_seed(seed: int, index: int) -> int:
    """First env seed of worker ``index`` (its envs take ``+0, +1, ...``) in a run seeded ``seed``."""
    return (seed * 100_003 + 1_000 * (index + 1)) % (EVAL_SEED_OFFSET - 1_000)


def demo_seed(seed: int, episodes: int) -> int:
    """First seed of the ``episodes`` demonstration episodes of a run seeded ``seed``."""
    return (seed * 7_919 + 17) % (EVAL_SEED_OFFSET - episodes)


# -- envs ----------------------------------------------------------------------------------------------------


class Policy(Protocol):
    def get_action(self, state: np.ndarray, deterministic: bool = False) -> np.ndarray: ...


DemoSource = Callable[[gym.Env, int, int], tuple[Any, dict[str, Any]]]
"""``(env, episodes, first_seed) -> (transitions, stats)``: ``transitions`` has arrays ``obs, action, reward,
next_obs, terminated``; ``stats`` has at least ``success_rate``."""


@dataclass(frozen=True)
class EnvSupport:
    """What the run knows about an env family beyond gymnasium; picklable (workers get a copy)."""

    module: str | None = None
    """Module imported (in every process) before ``gymnasium.make``, so that it registers the id."""
    group_key: str | None = None
    """Info key whose value at an episode's end groups episodes (success is reported per group)."""
    groups: tuple[str, ...] = ()
    """The groups an episode can belong to, for ``--balance-groups`` (with ``group_option``)."""
    group_option: str | None = None
    """``reset(options={group_option: group})`` starts an episode of that group (``--balance-groups``)."""
    alerts: dict[str, str] = field(default_factory=dict)
    """Boolean info keys -> message logged when an episode ends with the key true."""
    stages: tuple[str, ...] = ()
    """Boolean info keys, in the order a task passes them (e.g. touching, grasped, lifted): evaluations report the
    share of episodes in which each was true at some step, overall and per group, to show where failures stop."""
    demonstrations: DemoSource | None = None
    """A scripted expert's episodes (``--demos`` without ``--demo-file`` needs one)."""
    gui_kwargs: dict[str, Any] = field(default_factory=lambda: {"render_mode": "human"})
    """Keyword arguments of ``gymnasium.make`` that open the env in a window (``render --gui``)."""
    obs_layout: dict[str, list[int]] | None = None
    """Observation slots, name -> ``[start, stop)``, written into exported policies."""
    action_meaning: tuple[str, ...] = ()
    """What each action slot commands, one string per slot, written into exported policies (empty: unknown)."""
    input_meaning: Callable[[gym.Env], dict[str, dict[str, Any]]] | None = None
    """``env -> {observation key: what it holds}`` for dict observations (e.g. an image's encoding, a vector's
    slots), merged into each input of exported policies' metadata (a module-level function: it is pickled)."""
    control_hz: float | None = None
    """Env steps per simulated second, written into exported policies (None: the env's ``render_fps``, if any)."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """``gymnasium.make`` kwargs of the run's periodic evaluation env (e.g. a validation split)."""
    test_kwargs: dict[str, Any] = field(default_factory=dict)
    """``gymnasium.make`` kwargs of ``train.py eval`` and ``render`` (e.g. a test split no run looks at)."""
    base_kwargs: dict[str, Any] = field(default_factory=dict)
    """``gymnasium.make`` kwargs of every env of a run, under the others (e.g. ``obs_mode``: `with_obs_mode`)."""
    obs_modes: tuple[str, ...] = ()
    """The env's ``obs_mode`` kwarg's values (``--obs-mode``; empty: the env has no such kwarg)."""


def with_obs_mode(support: EnvSupport, obs_mode: str, env_id: str) -> EnvSupport:
    """``support`` whose envs are made with ``obs_mode`` (``--obs-mode``); "state" changes nothing; an env without
    the mode is a ValueError naming the modes it has."""
    if obs_mode == "state":
        return support
    if obs_mode not in support.obs_modes:
        have = f"its modes are {', '.join(support.obs_modes)}" if support.obs_modes else "it has no observation modes"
        raise ValueError(f"--obs-mode {obs_mode}: {env_id} cannot observe that way ({have})")
    return replace(support, base_kwargs={**support.base_kwargs, "obs_mode": obs_mode})


def with_hidden_state(support: EnvSupport, hide_state: str | None, env_id: str) -> EnvSupport:
    """``support`` whose envs zero the state slots ``hide_state`` names (``--hide-state``); none changes nothing;
    an env without observation modes is a ValueError (the env itself checks the slot names)."""
    if not hide_state:
        return support
    if not support.obs_modes:
        raise ValueError(f"--hide-state {hide_state}: {env_id} has no named state slots to hide")
    return replace(support, base_kwargs={**support.base_kwargs, "hide_state": hide_state})


def import_env_module(env_id: str, support: EnvSupport | None = None) -> None:
    """Import what registers ``env_id``: ``support.module``, or ``module`` of a ``module:Env-v0`` id."""
    if support is not None and support.module:
        importlib.import_module(support.module)
    if ":" in env_id:
        importlib.import_module(env_id.split(":", 1)[0])


def make_env(
    env_id: str,
    support: EnvSupport | None = None,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int | None = None,
) -> gym.Env:
    """Build one environment with only the wrappers that cost nothing (no passive checker).

    ``max_steps`` overrides the episode time limit (gymnasium's ``TimeLimit`` with that value).
    """
    import_env_module(env_id, support)
    kwargs = {**(support.base_kwargs if support is not None else {}), **dict(env_kwargs or {})}
    env = gym.make(env_id, max_episode_steps=max_steps, disable_env_checker=True, **kwargs)
    problem = None
    if not isinstance(env.action_space, gym.spaces.Box):
        problem = f"{type(env.action_space).__name__} actions; SAC here needs Box actions"
    else:
        try:
            ObsSpec.from_space(env.observation_space)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        env.close()
        raise ValueError(f"env {env_id!r} has {problem}")
    return env


def env_dims(env: gym.Env) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(obs_dim, action_dim, action_low, action_high)`` of a Box/Box env."""
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(f"env_dims needs a Box observation space ({SUPPORTED}: use env_spec)")
    act_space = env.action_space
    return (
        int(np.prod(env.observation_space.shape)),
        int(np.prod(act_space.shape)),
        act_space.low.astype(np.float32),
        act_space.high.astype(np.float32),
    )


def env_spec(env: gym.Env, privileged_key: str | None = None) -> tuple[ObsSpec, int, np.ndarray, np.ndarray]:
    """``(obs_spec, action_dim, action_low, action_high)``; with ``privileged_key`` the env is reset once to read
    the shape of ``info[privileged_key]``, stored beside each observation for the critics."""
    privileged = None
    if privileged_key:
        _, info = env.reset(seed=0)
        if privileged_key not in info:
            raise ValueError(f"--privileged-key {privileged_key!r}: the env's info has no such key ({sorted(info)})")
        privileged = {privileged_key: np.asarray(info[privileged_key])}
    act_space = env.action_space
    return (
        ObsSpec.from_space(env.observation_space, privileged),
        int(np.prod(act_space.shape)),
        act_space.low.astype(np.float32),
        act_space.high.astype(np.float32),
    )


def observation(obs: Any, info: dict[str, Any] | None = None, privileged_key: str | None = None) -> Any:
    """An env's observation as the run stores and acts on it: a float32 array, or a dict of arrays in their own
    dtypes with ``info[privileged_key]`` added under that key."""
    if not isinstance(obs, dict):
        return np.asarray(obs, dtype=np.float32)
    out = {k: np.asarray(v) for k, v in obs.items()}
    if privileged_key:
        out[privileged_key] = np.asarray((info or {})[privileged_key], dtype=np.float32)
    return out


def _finite(obs: Any) -> bool:
    if isinstance(obs, dict):
        return all(np.isfinite(v).all() for v in obs.values() if v.dtype.kind == "f")
    return bool(np.isfinite(obs).all())


def _stack(rows: list[Any]) -> Any:
    """Observations as one batch: a float32 array, or a dict of arrays in the observations' dtypes."""
    if rows and isinstance(rows[0], dict):
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    return np.asarray(rows, dtype=np.float32)


@dataclass
class EpisodeRecord:
    """What a finished episode reports to the main process."""

    reward: float
    length: int
    success: bool
    group: str | None = None
    alerts: tuple[str, ...] = ()


def episode_record(reward: float, length: int, info: dict[str, Any], support: EnvSupport | None) -> EpisodeRecord:
    """The record of an episode that ended with ``info`` (``is_success`` is gymnasium's success convention)."""
    group = info.get(support.group_key) if support is not None and support.group_key else None
    alerts = tuple(k for k in support.alerts if info.get(k)) if support is not None else ()
    return EpisodeRecord(float(reward), int(length), bool(info.get("is_success", False)), group and str(group), alerts)


class _Pending:
    """Transitions gathered since the last ``take``, pushed to a replay buffer in one call."""

    def __init__(self) -> None:
        self.columns: tuple[list[Any], ...] = ([], [], [], [], [])

    def __len__(self) -> int:
        return len(self.columns[0])

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        for column, value in zip(self.columns, (obs, action, reward, next_obs, float(terminated))):
            column.append(value)

    def take(self) -> tuple[Any, ...]:
        """``(obs, action, reward, next_obs, terminated)`` as float32 arrays (dict observations: dicts of arrays in
        their dtypes); empties the list."""
        out = tuple(_stack(c) if i in (0, 3) else np.asarray(c, dtype=np.float32) for i, c in enumerate(self.columns))
        for c in self.columns:
            c.clear()
        return out


class NStepWindow:
    """Turns one env's stream of one-step transitions into ``n``-step ones (``SACConfig.n_step``).

    A transition from ``s_t`` leaves the window once ``n`` steps follow it: ``(s_t, a_t, r_t + gamma r_t+1 + ...
    + gamma^(n-1) r_t+n-1, s_t+n, False)``. A termination flushes every start still in the window, each with the
    rewards up to the end and ``terminated=True`` (nothing is bootstrapped after a true end, so the shorter horizon
    is exact). A time limit (``truncated``) empties the window without storing its starts: bootstrapping them
    would need ``gamma^k`` with ``k < n``, which a stored transition cannot say; they are already inside the
    windows of the steps before them. With ``n = 1`` this is the plain one-step stream.
    """

    def __init__(self, n: int, gamma: float) -> None:
        self.n, self.gamma = int(n), float(gamma)
        self.window: deque[tuple[np.ndarray, np.ndarray, float]] = deque()

    def clear(self) -> None:
        self.window.clear()

    def _emit(self, next_obs: np.ndarray, terminated: bool) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]:
        obs, action, _ = self.window[0]
        ret, discount = 0.0, 1.0
        for _, _, r in self.window:
            ret += discount * r
            discount *= self.gamma
        self.window.popleft()
        return obs, action, ret, next_obs, terminated

    def add(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
        truncated: bool,
    ) -> list[tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]]:  # fmt: skip
        """One env step; returns the transitions it completes (oldest first)."""
        self.window.append((obs, action, float(reward)))
        out = []
        if terminated:
            while self.window:
                out.append(self._emit(next_obs, True))
        elif len(self.window) >= self.n:
            out.append(self._emit(next_obs, False))
        if truncated:
            self.window.clear()
        return out


def n_step_transitions(transitions: tuple[np.ndarray, ...], n: int, gamma: float) -> tuple[np.ndarray, ...]:
    """Chronological one-step transitions ``(obs, action, reward, next_obs, terminated)`` of whole episodes
    (e.g. demonstrations) as ``n``-step ones, by `NStepWindow`. An episode ends at a termination or where the
    next transition does not start at this one's ``next_obs`` (a time limit, or the end of the arrays)."""
    obs, action, reward, next_obs, terminated = (np.asarray(a, dtype=np.float32) for a in transitions)
    if n == 1:
        return obs, action, reward, next_obs, terminated
    window, out = NStepWindow(n, gamma), _Pending()
    count = len(obs)
    for i in range(count):
        ends = i + 1 == count or not np.array_equal(next_obs[i], obs[i + 1])
        done = bool(terminated[i])
        for item in window.add(obs[i], action[i], float(reward[i]), next_obs[i], done, ends and not done):
            out.add(*item)
        if ends:
            window.clear()
    result = out.take()
    if not len(result[0]):  # no episode longer than n steps: empty arrays of the right widths
        return obs[:0], action[:0], reward[:0], next_obs[:0], terminated[:0]
    return result


def balanced_groups(env_id: str, support: EnvSupport | None) -> tuple[str, ...]:
    """The groups ``--balance-groups`` draws from; a clear error for an env whose support names none."""
    if support is None or not support.groups or not support.group_option:
        raise ValueError(f"--balance-groups: {env_id} has no groups to balance (only envs whose support names them)")
    return support.groups


class GroupBalance:
    """Draws the group of each training episode so that the groups the policy fails on get more practice.

    It keeps an exponential moving average of training success per group (weight ``rate`` for each new episode,
    starting at 0) and draws the next group with weight ``1 - success + floor``: uniformly while nothing
    succeeds, and a group that always fails gets ``(1 + floor) / floor`` times the episodes of one that always
    succeeds. Evaluation does not use it: evaluation episodes are drawn by the env, as a user's are.
    """

    def __init__(self, groups: tuple[str, ...], rate: float = 0.05, floor: float = 0.2) -> None:
        if not groups or not 0.0 < rate <= 1.0 or floor <= 0.0:
            raise ValueError(f"GroupBalance needs groups, rate in (0, 1] and floor > 0 (got {groups}, {rate}, {floor})")
        self.groups = tuple(groups)
        self.rate, self.floor = rate, floor
        self.success = dict.fromkeys(self.groups, 0.0)

    def update(self, group: str | None, success: bool) -> None:
        """Fold in one finished training episode (an unknown or missing group is ignored)."""
        if group in self.success:
            self.success[group] += self.rate * (float(success) - self.success[group])

    def weights(self) -> np.ndarray:
        """Probability of each group (in ``groups`` order) for the next episode."""
        w = np.array([1.0 - self.success[g] + self.floor for g in self.groups])
        return w / w.sum()

    def draw(self, rng: np.random.Generator) -> str:
        return self.groups[int(rng.choice(len(self.groups), p=self.weights()))]


class EnvRunner:
    """Steps ``n_envs`` environments in lockstep so one batched policy forward serves them all.

    Episodes reset automatically; every ``reinit_every`` episodes an env that has ``reinit()`` rebuilds its
    physics world (sheds simulator drift). Transitions with non-finite values are dropped, never stored; a
    truncated step is stored with ``terminated=False`` (the critic bootstraps through a time limit). With
    ``n_step > 1`` each env's steps pass through an `NStepWindow` before they are stored. With ``keep_successes``
    the stored transitions of every episode that ends in success are also gathered in ``successes``. With
    ``balance_groups`` each episode's group is drawn by a `GroupBalance` (the env's support names the groups and
    the reset option that sets one). With ``noise_beta > 0`` the policy explores with colored noise
    (`sac.noise.ColoredNoise`, one fresh sequence per episode) instead of drawing white noise at every step.
    Dict observations are kept as dicts of batched arrays (``obs``); with ``privileged_key``, ``info`` of that key
    is stored with each observation (the final one of an episode from the step's info, the next from the reset's).
    """

    def __init__(
        self,
        env_id: str,
        n_envs: int,
        seed: int,
        support: EnvSupport | None = None,
        env_kwargs: dict[str, Any] | None = None,
        max_steps: int | None = None,
        reinit_every: int = 0,
        n_step: int = 1,
        gamma: float = 0.99,
        keep_successes: bool = False,
        balance_groups: bool = False,
        noise_beta: float = 0.0,
        privileged_key: str | None = None,
    ) -> None:
        self.support = support
        self.privileged_key = privileged_key
        self.balance: GroupBalance | None = None
        if balance_groups:
            self.balance = GroupBalance(balanced_groups(env_id, support))
        self.envs = [make_env(env_id, support, env_kwargs, max_steps) for _ in range(n_envs)]
        self.obs_spec, self.action_dim, self.action_low, self.action_high = env_spec(self.envs[0])
        self.obs_dim = None if self.obs_spec.is_dict else self.obs_spec.flat_dim
        self.reinit_every = reinit_every
        self.rng = np.random.default_rng(seed)
        self.group_rng = np.random.default_rng([seed, 1])  # apart from the random actions' stream
        self.obs = _stack(
            [
                observation(*env.reset(seed=seed + i, options=self._reset_options()), privileged_key)
                for i, env in enumerate(self.envs)
            ]
        )
        self.ep_reward = np.zeros(n_envs)
        self.ep_length = np.zeros(n_envs, dtype=np.int64)
        self.episodes_done = 0
        self.pending = _Pending()
        self.windows = [NStepWindow(n_step, gamma) for _ in range(n_envs)]
        self.keep_successes = keep_successes
        self.episode_rows: list[list[tuple]] = [[] for _ in range(n_envs)]
        self.successes = _Pending()
        self.dropped = 0
        self.noise: ColoredNoise | None = None
        if noise_beta > 0:
            horizon = max_steps or getattr(self.envs[0].spec, "max_episode_steps", None) or 1000
            self.noise = ColoredNoise(noise_beta, n_envs, self.action_dim, horizon, np.random.default_rng([seed, 2]))

    @property
    def n_envs(self) -> int:
        return len(self.envs)

    def random_actions(self) -> np.ndarray:
        return self.rng.uniform(self.action_low, self.action_high, (self.n_envs, self.action_dim)).astype(np.float32)

    def exploration_noise(self) -> np.ndarray | None:
        """The policy's standard-normal noise for this step of every env (colored, ``noise_beta > 0``), or None:
        the policy draws its own white noise."""
        return None if self.noise is None else self.noise.next()

    def step(self, actions: np.ndarray) -> list[EpisodeRecord]:
        """Step every env once with ``actions[i]``; return the episodes that ended."""
        finished: list[EpisodeRecord] = []
        for i, env in enumerate(self.envs):
            next_obs, reward, terminated, truncated, info = env.step(actions[i])
            self.ep_reward[i] += reward
            self.ep_length[i] += 1
            next_obs = observation(next_obs, info, self.privileged_key)
            if _finite(next_obs) and math.isfinite(reward):
                stored = (self._row(i), actions[i], float(reward), next_obs, bool(terminated), bool(truncated))
                for transition in self.windows[i].add(*stored):
                    self.pending.add(*transition)
                    if self.keep_successes:
                        self.episode_rows[i].append(transition)
            else:
                self.dropped += 1
                self.windows[i].clear()  # the steps before it cannot be summed across the gap
            if terminated or truncated:
                record = episode_record(self.ep_reward[i], self.ep_length[i], info, self.support)
                finished.append(record)
                if self.balance is not None:
                    self.balance.update(record.group, record.success)
                if record.success:
                    for transition in self.episode_rows[i]:
                        self.successes.add(*transition)
                self.episode_rows[i] = []
                if self.noise is not None:
                    self.noise.reset(i)
                self.ep_reward[i] = 0.0
                self.ep_length[i] = 0
                self.episodes_done += 1
                if self.reinit_every and self.episodes_done % self.reinit_every == 0:
                    reinit = getattr(env.unwrapped, "reinit", None)
                    if reinit is not None:
                        reinit()
                next_obs = observation(*env.reset(options=self._reset_options()), self.privileged_key)
            if isinstance(self.obs, dict):
                for k, v in self.obs.items():
                    v[i] = next_obs[k]
            else:
                self.obs[i] = next_obs
        return finished

    def _row(self, i: int) -> Any:
        """A copy of env ``i``'s current observation."""
        if isinstance(self.obs, dict):
            return {k: v[i].copy() for k, v in self.obs.items()}
        return self.obs[i].copy()

    def _reset_options(self) -> dict[str, Any] | None:
        if self.balance is None:
            return None
        assert self.support is not None and self.support.group_option
        return {self.support.group_option: self.balance.draw(self.group_rng)}

    def close(self) -> None:
        for env in self.envs:
            env.close()


def evaluate_policy(
    policy: Policy,
    env: gym.Env,
    episodes: int,
    seed: int = EVAL_SEED_OFFSET,
    support: EnvSupport | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` deterministic episodes on seeds ``seed, seed+1, ...``; return the summary.

    ``should_stop`` is asked before each episode; when it says yes the summary covers the episodes run so far
    (``episodes`` says how many).

    Keys: ``success_rate``, ``mean_return``, ``mean_length``, ``episodes``, ``success_by_type`` (group -> success
    rate, when the env has a ``support.group_key``; ``per_object``: the counts behind it), ``seeds`` (first and
    last), ``has_success`` (whether the env reports ``info["is_success"]``; without it ``success_rate`` means
    nothing); with ``support.stages``, ``stages`` (key -> share of episodes in which ``info[key]`` was true at some
    step) and ``stages_by_type`` (group -> the same).
    """
    returns, lengths, successes = [], [], []
    has_success = False
    stage_keys = support.stages if support is not None else ()
    by_group: dict[str, list[bool]] = defaultdict(list)
    reached: list[list[bool]] = []  # per episode, per stage key: true at some step
    groups: list[str | None] = []
    for k in range(episodes):
        if should_stop is not None and should_stop():
            break
        obs, info = env.reset(seed=seed + k)
        total, steps, done = 0.0, 0, False
        seen = [False] * len(stage_keys)
        while not done:
            action = policy.get_action(observation(obs), deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
            for i, key in enumerate(stage_keys):
                seen[i] = seen[i] or bool(info.get(key, False))
        has_success = has_success or "is_success" in info
        record = episode_record(total, steps, info, support)
        returns.append(record.reward)
        lengths.append(record.length)
        successes.append(record.success)
        reached.append(seen)
        groups.append(record.group)
        if record.group is not None:
            by_group[record.group].append(record.success)
    stages: dict[str, Any] = {}
    if stage_keys and reached:
        share = np.mean(np.array(reached, dtype=float), axis=0)
        stages["stages"] = {key: float(v) for key, v in zip(stage_keys, share)}
        stages["stages_by_type"] = {
            t: {key: float(v) for key, v in zip(stage_keys, np.mean([s for s, g in zip(reached, groups) if g == t], 0))}
            for t in sorted(by_group)
        }
    return {
        "episodes": len(successes),
        "seeds": [seed, seed + len(successes) - 1],
        "success_rate": float(np.mean(successes)) if successes else 0.0,
        "mean_return": float(np.mean(returns)) if returns else 0.0,
        "mean_length": float(np.mean(lengths)) if lengths else 0.0,
        "success_by_type": {t: float(np.mean(v)) for t, v in sorted(by_group.items())},
        "per_object": {t: {"successes": int(sum(v)), "episodes": len(v)} for t, v in sorted(by_group.items())},
        "has_success": has_success,
        **stages,
    }
