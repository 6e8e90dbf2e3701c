"""Teacher-student distillation (sac/distill.py): who acts, what the student learns, and a whole run on the dot env
whose target only the image shows, with a state teacher that knows where it is."""

from __future__ import annotations

import json
from pathlib import Path

import dot_env  # noqa: F401  (registers Dot-v0)
import numpy as np
import pytest
import torch

import train
from sac import SACConfig, SACTrainer
from sac.distill import DaggerActor, distill_step, load_symmetry, load_teacher, teacher_actions, teacher_labels
from sac.replay import make_replay_buffer
from sac.run.envs import EnvRunner, env_spec, make_env


def dot_teacher(path: Path, steps: int = 600) -> Path:
    """A state checkpoint (4 values: agent x, y, target x, y) that walks straight to the target: the policy mean
    regressed onto ``clip((target - agent) / STEP)``; a second or two."""
    torch.manual_seed(0)
    trainer = SACTrainer(4, 2, SACConfig(hidden_dim=64), action_low=-1.0, action_high=1.0)
    policy = trainer.policy_net
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        state = torch.rand(256, 4, generator=generator) * 1.6 - 0.8
        target = ((state[:, 2:] - state[:, :2]) / dot_env.STEP).clamp(-0.97, 0.97)
        loss = (torch.tanh(policy(state)[0]) - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trainer.save(path, {"env_id": "dot_env:Dot-v0"})
    return path


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory) -> Path:
    return dot_teacher(tmp_path_factory.mktemp("teacher") / "teacher.pt")


def student(teacher: Path, **cfg) -> tuple[SACTrainer, EnvRunner]:
    torch.manual_seed(0)
    runner = EnvRunner("Dot-v0", 4, seed=0, privileged_key="state")
    spec = env_spec(runner.envs[0], "state")[0]  # as a run builds it: the state stored beside each observation
    buf = make_replay_buffer(5000, spec, 2, seed=0)
    config = SACConfig(hidden_dim=64, batch_size=64, encoder_features=32, teacher=str(teacher), **cfg)
    return SACTrainer(spec, 2, config, buf), runner


def student_and_batch(teacher: Path) -> tuple[SACTrainer, dict[str, torch.Tensor]]:
    """A fresh student and a batch of 64 observations of 120 random steps (4 envs x 30)."""
    trainer, runner = student(teacher)
    for _ in range(30):
        runner.step(runner.random_actions())
    trainer.replay_buffer.push_many(*runner.pending.take())
    return trainer, trainer.sample_batch(64)[0]


def test_the_teacher_walks_to_the_dot(teacher_path: Path) -> None:
    teacher, env, successes = load_teacher(teacher_path), make_env("Dot-v0"), 0
    for k in range(50):
        _, info = env.reset(seed=2_000_000 + k)
        done = False
        while not done:
            action = teacher_actions(teacher, torch.as_tensor(info["state"][None]))[0].numpy()
            _, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        successes += info["is_success"]
    assert successes >= 45


def test_the_teacher_acts_first_then_hands_over_to_the_student(teacher_path: Path) -> None:
    trainer, runner = student(teacher_path, teacher_beta_steps=40)
    actor = trainer.acting_policy(seed=0)
    assert isinstance(actor, DaggerActor) and actor.beta == 1.0
    obs = runner.obs
    from_teacher = teacher_actions(trainer.teacher, torch.as_tensor(obs["state"])).numpy()
    from_student = trainer.policy_net.get_action(obs, deterministic=True)
    assert not np.allclose(from_teacher, from_student, atol=1e-3)
    np.testing.assert_allclose(actor.get_action(obs), from_teacher, atol=1e-6)  # beta 1: all teacher
    for _ in range(9):
        actor.get_action(obs)  # 4 envs a call: 40 steps taken
    assert actor.beta == 0.0
    np.testing.assert_allclose(actor.get_action(obs), from_student, atol=1e-6)  # beta 0: all student
    np.testing.assert_allclose(actor.get_action(obs, deterministic=True), from_student, atol=1e-6)
    half = DaggerActor(trainer.policy_net, trainer.teacher, "state", beta_steps=1000, seed=1)
    half.steps = 500
    picks = [np.isclose(half.get_action(obs), from_teacher, atol=1e-6).all(axis=1) for _ in range(50)]
    assert 0.3 < np.mean(picks) < 0.7  # about half the envs' actions are the teacher's at beta 0.5


def test_a_distillation_step_moves_the_student_onto_the_teacher(teacher_path: Path) -> None:
    trainer, obs = student_and_batch(teacher_path)
    first = distill_step(trainer, obs, trainer.teacher, "state")["distill_mse"]
    for _ in range(150):
        last = distill_step(trainer, obs, trainer.teacher, "state")
    assert last["distill_mse"] < 0.3 * first
    assert trainer.num_updates == 151
    assert set(last) >= {"policy_loss", "distill_mse", "distill_gripper_agreement"}
    # update() is the same step on a fresh batch: no critic is trained.
    q_before = [p.detach().clone() for p in trainer.soft_q_net1.parameters()]
    stats = trainer.update()
    assert "distill_mse" in stats
    assert all(torch.equal(a, b) for a, b in zip(q_before, trainer.soft_q_net1.parameters()))


def test_with_a_symmetry_each_sample_regresses_onto_its_nearest_label(teacher_path: Path) -> None:
    trainer, obs = student_and_batch(teacher_path)
    for _ in range(150):  # the student learns its teacher's own labels
        plain = distill_step(trainer, obs, trainer.teacher, "state")
    symmetry = load_symmetry("dot_env:decoy_first")
    labels = teacher_labels(trainer.teacher, obs["state"], symmetry)
    assert labels.shape == (2, 64, 2)
    torch.testing.assert_close(labels[1], teacher_actions(trainer.teacher, obs["state"]))
    # the decoy's label (walk the other way) is first, yet each sample keeps to the nearer one: its own
    step = distill_step(trainer, obs, trainer.teacher, "state", symmetry)
    assert step["distill_other_label"] > 0.9
    assert step["distill_mse"] == pytest.approx(plain["distill_mse"], rel=0.5)
    # a student that has learned nothing yet (its actions near 0) is nearer either label about as often
    fresh, _ = student(teacher_path)
    share = distill_step(fresh, obs, fresh.teacher, "state", symmetry)["distill_other_label"]
    assert 0.1 < share < 0.9
    for spec in ("dot_env:no_such_function", "no_such_module:f", "dot_env"):
        with pytest.raises(ValueError, match="--teacher-symmetry"):
            load_symmetry(spec)
    assert load_symmetry("none") is None and load_symmetry(None) is None


def test_a_camera_checkpoint_cannot_teach(tmp_path: Path, teacher_path: Path) -> None:
    trainer, _ = student(teacher_path)
    trainer.save(tmp_path / "camera.pt")
    with pytest.raises(ValueError, match="a teacher is a state checkpoint"):
        load_teacher(tmp_path / "camera.pt")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--teacher", "T"], "--teacher needs the state stored beside each observation: --privileged-key state"),
        (["--teacher", "T", "--privileged-key", "state", "--mode", "actor-learner"], "--teacher needs --mode serial"),
        (["--obs-mode", "depth", "--env", "Pendulum-v1"], "Pendulum-v1 cannot observe that way (it has no observation"),
        (["--obs-mode", "rgb"], "GraspEnv-v0 cannot observe that way (its modes are state, depth)"),
    ],
)
def test_bad_distillation_and_obs_mode_flags_are_one_line_errors(argv, message, tmp_path: Path, capsys) -> None:
    assert train.main([*argv, "--no-demos", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_a_distilled_student_finds_the_dot_from_the_image(teacher_path: Path, tmp_path: Path) -> None:
    """A whole run through train.py: the student, which sees only the image and its own position, ends close to
    its teacher on held-out seeds, far above what ignoring the image gives (about 5% success)."""
    run_dir = tmp_path / "student"
    argv = [
        "--env", "dot_env:Dot-v0", "--mode", "serial", "--no-demos", "--privileged-key", "state",
        "--teacher", str(teacher_path), "--teacher-beta-steps", "500", "--total-steps", "2500",
        "--learning-starts", "100", "--explore-steps", "0", "--batch-size", "64", "--hidden-dim", "64",
        "--encoder-features", "32", "--update-itr", "1", "--envs-per-worker", "4", "--eval-every", "1250",
        "--eval-episodes", "20", "--heldout-episodes", "100", "--target-success", "none", "--no-progress",
        "--run-dir", str(run_dir),
    ]  # fmt: skip
    assert train.main(argv) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    heldout = summary["heldout"]
    assert heldout["success_rate"] >= 0.6, heldout


def test_camera_methods_stand_for_settings_and_given_flags_win() -> None:
    from sac.run.config import AUTO_TEACHER, CAMERA_MINUTES, RunConfig, with_camera_method

    state = RunConfig()
    assert with_camera_method(state, {}) == state  # a state run: nothing changes
    dagger = with_camera_method(RunConfig(obs_mode="depth"), {"obs_mode": "depth"})
    assert dagger.sac.teacher == AUTO_TEACHER and dagger.privileged_key == "state" and not dagger.demos
    assert dagger.sac.image_shift == 4 and dagger.sac.encoder == "patch"
    assert dagger.sac.image_input == "relative-depth"
    asym = with_camera_method(RunConfig(obs_mode="depth", camera_method="asymmetric"), {})
    assert asym.sac.critic_keys == "state,proprio" and asym.sac.teacher is None and asym.privileged_key == "state"
    drq = with_camera_method(RunConfig(obs_mode="depth", camera_method="drq"), {})
    assert drq.sac.image_shift == 4 and drq.privileged_key is None
    assert asym.demos and drq.demos, "the SAC methods learn from the expert's episodes, as a state run does"
    assert not with_camera_method(RunConfig(obs_mode="depth", camera_method="drq", demos=False), {"demos": False}).demos
    given = with_camera_method(
        RunConfig(obs_mode="depth", camera_method="drq", sac=SACConfig(image_shift=2)), {"sac.image_shift": 2}
    )
    assert given.sac.image_shift == 2
    mine = with_camera_method(RunConfig(obs_mode="depth", sac=SACConfig(teacher="t.pt")), {"sac.teacher": "t.pt"})
    assert mine.sac.teacher == "t.pt"
    # DAgger's teacher does without what one frame cannot show; the SAC methods' critics may read it
    assert dagger.hide_state == "object_lin_vel,object_ang_vel" and asym.hide_state is None and drq.hide_state is None
    # A camera run has an hour unless told otherwise; a budget the user gives (minutes or steps) is the budget
    assert dagger.max_minutes == asym.max_minutes == drq.max_minutes == CAMERA_MINUTES == 60.0
    assert state.max_minutes is None
    minutes = with_camera_method(RunConfig(obs_mode="depth", max_minutes=5.0), {"max_minutes": 5.0})
    steps = with_camera_method(RunConfig(obs_mode="depth", total_steps=500), {"total_steps": 500})
    assert minutes.max_minutes == 5.0 and (steps.max_minutes, steps.total_steps) == (None, 500)


def test_a_given_teacher_decides_the_hidden_state_and_another_one_is_refused(tmp_path: Path, teacher_path) -> None:
    from sac.run.config import DAGGER_HIDDEN, RunConfig, with_camera_method
    from sac.run.run import with_teacher_state

    hid = tmp_path / "hid.pt"
    SACTrainer.load(teacher_path).save(hid, {"run_config": {**RunConfig().to_dict(), "hide_state": "object_lin_vel"}})

    def run_cfg(teacher: Path, given: dict) -> RunConfig:
        cfg = RunConfig(obs_mode="depth", sac=SACConfig(teacher=str(teacher)), hide_state=given.get("hide_state"))
        return with_teacher_state(with_camera_method(cfg, {"sac.teacher": str(teacher), **given}), given)

    assert run_cfg(hid, {}).hide_state == "object_lin_vel"  # the teacher's, over the method's DAGGER_HIDDEN
    assert run_cfg(teacher_path, {}).hide_state is None  # a teacher that read everything gets everything
    assert run_cfg(hid, {"hide_state": " object_lin_vel"}).hide_state == " object_lin_vel"
    with pytest.raises(
        ValueError, match=r"--hide-state object_ang_vel differs from the one --teacher .* \(object_lin_vel\)"
    ):
        run_cfg(hid, {"hide_state": "object_ang_vel"})
    assert DAGGER_HIDDEN == "object_lin_vel,object_ang_vel"
    argv = [
        "--obs-mode",
        "depth",
        "--teacher",
        str(hid),
        "--hide-state",
        DAGGER_HIDDEN,
        "--run-dir",
        str(tmp_path / "r"),
    ]
    assert train.main(argv) == 2


@pytest.mark.slow
def test_dagger_without_a_teacher_trains_one_first_then_the_camera_student(tmp_path: Path) -> None:
    run_dir = tmp_path / "camera"
    argv = [
        "--obs-mode", "depth", "--mode", "serial", "--total-steps", "300", "--learning-starts", "100",
        "--batch-size", "32", "--hidden-dim", "32", "--eval-every", "150", "--eval-episodes", "2",
        "--heldout-episodes", "2", "--final-eval-episodes", "2", "--max-steps", "25", "--no-progress",
        "--target-success", "none", "--teacher-minutes", "0.25", "--max-minutes", "3", "--run-dir", str(run_dir),
    ]  # fmt: skip
    assert train.main(argv) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    teacher = summary["teacher"]
    assert Path(teacher["checkpoint"]).parent == run_dir / "teacher" and Path(teacher["checkpoint"]).is_file()
    assert summary["config"]["sac"]["teacher"] == teacher["checkpoint"]
    assert summary["config"]["max_minutes"] < 3 - teacher["wall_time_s"] / 60 + 1e-6
    teacher_config = json.loads((run_dir / "teacher" / "summary.json").read_text())["config"]
    assert teacher_config["obs_mode"] == "state"
    assert teacher_config["hide_state"] == summary["config"]["hide_state"] == "object_lin_vel,object_ang_vel"
    student = SACTrainer.load(run_dir / "latest.pt")
    assert student.obs_spec.is_dict and student.num_updates > 0
