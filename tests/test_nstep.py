"""n-step returns (``--n-step``): the windows that form the transitions, the demonstrations converted to them, and
the critic target that bootstraps with ``gamma ** n``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sac import ReplayBuffer, SACConfig, SACTrainer
from sac.run.envs import EnvRunner, NStepWindow, n_step_transitions

GAMMA = 0.9


def _obs(t: int) -> np.ndarray:
    return np.full(2, float(t), dtype=np.float32)


def _feed(window: NStepWindow, rewards: list[float], end: str, t0: int = 0) -> list[tuple]:
    """One episode of ``len(rewards)`` steps from obs ``t0``; ``end``: "terminated" or "truncated"."""
    out = []
    for k, r in enumerate(rewards):
        last = k + 1 == len(rewards)
        t = t0 + k
        action = np.array([t], dtype=np.float32)
        out += window.add(_obs(t), action, r, _obs(t + 1), last and end == "terminated", last and end == "truncated")
    return out


def _brute(rewards: list[float], n: int, end: str, t0: int = 0) -> list[tuple[int, float, int, bool]]:
    """(start, n-step return, index of next obs, terminated) by the definition."""
    steps = len(rewards)
    rows = []
    for t in range(steps):
        horizon = min(n, steps - t)
        if horizon < n and end == "truncated":
            continue  # a window cut by the time limit is not stored
        ret = sum(GAMMA**k * rewards[t + k] for k in range(horizon))
        rows.append((t0 + t, ret, t0 + t + horizon, t + horizon == steps and end == "terminated"))
    return rows


def _rows(out: list[tuple]) -> list[tuple[int, float, int, bool]]:
    return [(int(o[0]), float(r), int(nxt[0]), bool(d)) for o, a, r, nxt, d in out]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("end", ["terminated", "truncated"])
def test_windows_sum_n_discounted_rewards_and_stop_at_the_episode_end(n: int, end: str) -> None:
    rewards = [0.5, -1.0, 2.0, 0.25, -0.5, 3.0, 1.0]
    window = NStepWindow(n, GAMMA)
    got = _rows(_feed(window, rewards, end))
    want = _brute(rewards, n, end)
    assert [g[0] for g in got] == [w[0] for w in want]  # oldest first, one per stored start
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[2:] == w[2:]
        assert g[1] == pytest.approx(w[1], rel=1e-12)
    assert not window.window  # nothing of this episode leaks into the next
    # the action stored is the one taken at the start of the window
    assert all(int(a[0]) == int(o[0]) for o, a, *_ in _feed(NStepWindow(n, GAMMA), rewards, end))


def test_one_step_windows_are_the_plain_stream() -> None:
    rewards = [1.0, 2.0, 3.0]
    rows = _rows(_feed(NStepWindow(1, GAMMA), rewards, "truncated"))
    assert rows == [(0, 1.0, 1, False), (1, 2.0, 2, False), (2, 3.0, 3, False)]  # a truncated step is kept


def test_an_episode_shorter_than_n_terminates_with_every_start() -> None:
    rows = _rows(_feed(NStepWindow(5, GAMMA), [1.0, 1.0], "terminated"))
    assert rows == [(0, pytest.approx(1.9), 2, True), (1, 1.0, 2, True)]


def test_demonstrations_are_converted_episode_by_episode() -> None:
    """Two episodes back to back (a termination, then a time limit): the conversion finds the boundary by the
    observations and gives what the windows give when stepped live."""
    ep1, ep2 = [1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5, 0.5]
    live = _feed(NStepWindow(3, GAMMA), ep1, "terminated") + _feed(NStepWindow(3, GAMMA), ep2, "truncated", t0=100)
    one_step = _feed(NStepWindow(1, GAMMA), ep1, "terminated") + _feed(NStepWindow(1, GAMMA), ep2, "truncated", t0=100)
    arrays = tuple(np.asarray([row[i] for row in one_step], dtype=np.float32) for i in range(5))
    obs, action, reward, next_obs, done = n_step_transitions(arrays, 3, GAMMA)
    assert len(obs) == len(live) == 4 + 3
    for i, (o, a, r, nxt, d) in enumerate(live):
        np.testing.assert_array_equal(obs[i], o)
        np.testing.assert_array_equal(action[i], a)
        np.testing.assert_array_equal(next_obs[i], nxt)
        assert reward[i] == pytest.approx(r, rel=1e-6) and done[i] == float(d)
    same = n_step_transitions(arrays, 1, GAMMA)
    assert all(np.array_equal(x, y) for x, y in zip(same, arrays))


def test_the_runner_stores_n_step_transitions_of_its_envs() -> None:
    """Pendulum with the same seeds and actions, run with one-step and with 3-step windows: every 3-step
    transition is the discounted sum of the one-step rewards it spans (two envs, across an episode's end)."""
    kwargs = {"n_envs": 2, "seed": 3, "max_steps": 7}
    one = EnvRunner("Pendulum-v1", **kwargs)
    three = EnvRunner("Pendulum-v1", n_step=3, gamma=GAMMA, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(10):  # one episode of 7 steps and 3 of the next, in each env
        actions = rng.uniform(-2, 2, (2, 1)).astype(np.float32)
        one.step(actions)
        three.step(actions)
    o1, a1, r1, n1, d1 = one.pending.take()
    o3, a3, r3, n3, d3 = three.pending.take()
    # one-step rows alternate env 0, env 1; index them by (env, step)
    r1 = r1.reshape(10, 2)
    starts = [(t, e) for t in range(10) for e in range(2) if (t <= 4 or 7 <= t <= 7)]  # full windows only
    assert len(o3) == len(starts)
    order = sorted(starts, key=lambda te: (te[0] + 2, te[1]))  # a window leaves when its third step is taken
    for i, (t, e) in enumerate(order):
        np.testing.assert_array_equal(o3[i], o1.reshape(10, 2, -1)[t, e])
        np.testing.assert_array_equal(a3[i], a1.reshape(10, 2, -1)[t, e])
        np.testing.assert_array_equal(n3[i], n1.reshape(10, 2, -1)[t + 2, e])
        assert r3[i] == pytest.approx(r1[t, e] + GAMMA * r1[t + 1, e] + GAMMA**2 * r1[t + 2, e], rel=1e-5)
    assert not d3.any()
    one.close()
    three.close()


def _trainer(**cfg: object) -> SACTrainer:
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    buf = ReplayBuffer(500, 4, 2, seed=1)
    for _ in range(200):
        buf.push(rng.normal(size=4), rng.uniform(-1, 1, 2), float(rng.normal()), rng.normal(size=4), rng.random() < 0.1)
    return SACTrainer(4, 2, SACConfig(hidden_dim=16, batch_size=32, **cfg), replay_buffer=buf)  # type: ignore[arg-type]


@pytest.mark.parametrize("fused", [False, True])
def test_the_target_bootstraps_with_gamma_to_the_n(fused: bool) -> None:
    """An update with ``n_step=3, gamma=0.9`` is, number for number, one with ``n_step=1, gamma=0.729``."""
    a = _trainer(n_step=3, gamma=0.9, fused_update=fused)
    b = _trainer(n_step=1, gamma=0.9**3, fused_update=fused)
    c = _trainer(n_step=1, gamma=0.9, fused_update=fused)
    for step in range(3):
        stats = []
        for t in (a, b, c):
            torch.manual_seed(step)
            stats.append(t.update())
        assert stats[0] == pytest.approx(stats[1], rel=1e-6, abs=1e-7)
    assert stats[0]["qf_loss"] != pytest.approx(stats[2]["qf_loss"], rel=1e-3)  # gamma does matter here


def test_n_step_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="--n-step"):
        SACConfig(n_step=0).validate()
    assert SACConfig(n_step=4, gamma=0.5).bootstrap_discount == 0.0625


def test_the_runner_keeps_the_transitions_of_successful_episodes() -> None:
    import success_env  # noqa: F401  (registers Alternating-v0)

    runner = EnvRunner("Alternating-v0", n_envs=1, seed=0, keep_successes=True, n_step=2, gamma=GAMMA)
    for _ in range(3 + 5 + 3 + 2):  # a success, a failure, a success, and two steps into a failure
        runner.step(np.zeros((1, 1), np.float32))
    obs, action, reward, next_obs, done = runner.successes.take()
    assert sorted({int(o[0]) for o in obs}) == [0, 2]  # the even episodes only, whole
    assert len(obs) == 2 * 3 and done.sum() == 2 * 2  # 2-step windows: the last two starts end in the success
    assert reward.max() == pytest.approx(1.0) and len(runner.successes) == 0
    stored = runner.pending.take()
    assert len(stored[0]) == 3 + (5 - 1) + 3 + 1  # every episode reaches the replay buffer as before


def test_group_balance_practises_the_groups_that_fail() -> None:
    from sac.run.envs import GroupBalance

    b = GroupBalance(("a", "b", "c"), rate=0.5, floor=0.2)
    assert b.weights() == pytest.approx([1 / 3] * 3)  # nothing has succeeded yet: uniform
    b.update("a", True)
    b.update("a", True)
    b.update("b", True)
    b.update("nobody", True)  # an unknown group changes nothing
    assert b.success == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.0})
    w = np.array([0.45, 0.7, 1.2])
    assert b.weights() == pytest.approx(w / w.sum())
    with pytest.raises(ValueError, match="floor"):
        GroupBalance(("a",), floor=0.0)


def test_the_runner_draws_the_failing_group_more_often() -> None:
    import success_env  # noqa: F401  (registers TwoGroup-v0)

    from sac.run.envs import EnvSupport

    support = EnvSupport(group_key="kind", groups=("easy", "hard"), group_option="kind")

    def kinds(balance: bool) -> list[str]:
        runner = EnvRunner("TwoGroup-v0", n_envs=2, seed=0, support=support, balance_groups=balance)
        done = []
        while len(done) < 400:
            done += [r.group for r in runner.step(np.zeros((2, 1), np.float32))]
        return done[200:]  # once the success averages have settled (easy -> 1, hard -> 0)

    assert kinds(False).count("hard") / 200 == pytest.approx(0.5, abs=0.1)  # the env's own draw
    assert kinds(True).count("hard") / 200 == pytest.approx(1.2 / 1.4, abs=0.07)  # weights 1.2 : 0.2
    with pytest.raises(ValueError, match="no groups to balance"):
        EnvRunner("TwoGroup-v0", n_envs=1, seed=0, support=EnvSupport(group_key="kind"), balance_groups=True)
