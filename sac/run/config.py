"""`RunConfig`: everything a training run uses, with the algorithm's `SACConfig` nested in it.

One config tree, one default per value: ``RunConfig`` holds the run's own settings (placement, limits,
evaluation, demonstrations) and ``RunConfig.sac`` the algorithm's. The command line is generated from the tree
(`sac.run.cli`); what a run used is written to its ``config.json`` and into every checkpoint, and `resolve`
decides what a resumed run uses: the checkpoint's config, with what the command line set on top.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sac.config import SHAPE_FIELDS, SACConfig
from sac.run.cli import flatten, replace_paths

Mode = Literal["hogwild", "actor-learner", "serial"]
CameraMethod = Literal["dagger", "asymmetric", "drq"]
#: SACConfig.teacher's value that asks the run to train its own state teacher first.
AUTO_TEACHER = "auto"


DAGGER_HIDDEN = "object_lin_vel,object_ang_vel"
#: --max-minutes of a camera run unless given: the hour a camera policy on unseen objects is measured in.
CAMERA_MINUTES = 60.0
"""The state slots a DAgger teacher does without: one depth frame shows no velocity, and a teacher that reads them
asks for actions no camera student can infer (bench/teacher_sensitivity.py)."""

DEFAULT_TOTAL_STEPS = 300_000
"""The step limit of a run given neither ``--total-steps`` nor ``--max-minutes``."""


@dataclass
class RunConfig:
    """Everything a training run needs; each leaf field is a flag of ``python train.py``."""

    env: str = "GraspEnv-v0"
    """Gymnasium env id with Box observation and action spaces (``module:Id`` imports ``module`` first)."""
    obs_mode: str = "state"
    """What the policy observes, for envs with observation modes (GraspEnv ids): ``state`` (the simulator's object
    pose and box) or ``depth`` (a wrist depth camera and proprioception; docs/ENV.md)."""
    camera_method: CameraMethod = "dagger"
    """With --obs-mode other than state: how the camera policy learns (docs/CAMERA.md). ``dagger``: a state
    policy is trained first (or --teacher), then distilled into the camera policy on the states it visits;
    ``asymmetric``: SAC whose critics see the simulator state and the policy the camera (Pinto et al. 2017);
    ``drq``: SAC from the camera alone, images shifted at random (Kostrikov et al. 2020). Flags given on the
    command line win over the method's settings (`camera_settings`)."""
    hide_state: str | None = None
    """Comma-separated state slots (docs/ENV.md) that read 0 in the state vector, for envs with observation modes:
    what a state teacher may not read because the camera student cannot see it in one frame. --camera-method dagger
    hides the object's velocities (bench/teacher_sensitivity.py); its teacher trains with the same slots hidden."""
    teacher_minutes: float = 20.0
    """--camera-method dagger without --teacher: the most minutes the state teacher trains (it stops sooner when
    solved); the camera student gets what is left of --max-minutes."""
    mode: Mode = "hogwild"
    """How the work is shared between processes: hogwild, actor-learner or serial (docs/TRAINING.md)."""
    backend: Literal["local", "ray"] = "local"
    """``local``: processes on this machine. ``ray``: the actor-learner split as Ray actors (``pip install -e
    '.[ray]'``; --mode is then ignored)."""
    ray_address: str | None = None
    """Ray cluster to join (``auto``, or HOST:PORT); none: start a local Ray instance for this run and stop it at
    the end."""
    ray_learner_cpus: float = 1.0
    """CPUs the Ray learner actor reserves (each Ray env actor reserves one)."""
    ray_learner_resources: str | None = None
    """Custom Ray resources the learner actor requests, ``name=amount,...`` or JSON (e.g. ``learner=1``: only a node
    started with ``--resources='{"learner": 1}'`` can host it; docs/RAY.md)."""
    ray_actor_resources: str | None = None
    """Custom Ray resources each env actor requests, ``name=amount,...`` or JSON (e.g. ``actor=1``: actors only on
    nodes that offer ``actor``, so never beside a learner whose node does not)."""
    ray_actor_spread: bool = False
    """Spread the env actors over the nodes that can host them (Ray's SPREAD strategy) instead of packing them."""
    ray_placement_timeout: float = 300.0
    """Seconds a Ray actor may take to be placed and start (the learner and the env actors at start, an env actor
    restarted after its node was lost) before the run stops with an error naming what it asked for."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    """Env worker processes (actors, or Hogwild workers). Ignored by ``serial``."""
    envs_per_worker: int = 1
    """Environments stepped in lockstep by each worker, with one batched policy forward."""
    total_steps: int | None = None
    """Stop after this many env steps (all workers together). Unset: 300,000, or no step limit when
    ``--max-minutes`` is given (so the time budget, not the step count, ends the run)."""
    max_episodes: int | None = None
    """Stop after this many episodes (none: no limit)."""
    max_minutes: float | None = None
    """The run's wall-clock budget, all of it: start-up, training (a DAgger run's teacher too) and the closing
    evaluations, for which training stops early enough (none: no limit; a camera run, --obs-mode other than state:
    60 unless --total-steps is given)."""
    max_steps: int | None = None
    """Episode time limit in env steps (none: the env's own)."""
    explore_steps: int = 2_000
    """Uniform random actions for the first env steps, before the policy acts (none on --resume)."""
    learning_starts: int = 1_000
    """No gradient update before this many env steps (none held back on --resume)."""
    update_itr: float | None = None
    """Gradient updates per env step (the replay ratio), all workers together. Unset: 0.5 for a state-observation
    run that learns without demonstrations or a teacher, else 1 (`default_update_itr`)."""
    deterministic: bool = False
    """Workers act with the policy mean instead of sampling (evaluation is always deterministic)."""
    demos: bool = True
    """Mix scripted-expert demonstrations into every batch (envs with an expert, or with --demo-file)."""
    demo_episodes: int = 100
    """Expert episodes collected once at start-up when --demos and no --demo-file."""
    demo_file: str | None = None
    """A demonstration buffer (.npz) written by an earlier run, instead of collecting."""
    success_replay: int = 0
    """Keep the agent's own successful episodes, up to this many transitions per learning process, beside the
    demonstrations (or in their place with --no-demos) and sample them as --demo-fraction of every batch once a
    batch's worth is kept: RLPD's symmetric sampling with the agent's own successes. Serial and hogwild modes (the
    process that learns is the one that acts). 0: off."""
    balance_groups: bool = False
    """Draw each training episode's group (GraspEnv: the object type) with weight 1 - the group's recent training
    success + 0.2, so the groups the policy fails on get more practice; evaluation still draws them as the env
    does. Envs whose support names groups and a reset option that sets one. On GraspEnv without demonstrations it
    did not help (bench/results/critic_screen_no-demos-balance-s1_*.json): while every group mostly fails, the
    mix barely moves."""
    noise_beta: float = 1.0
    """Exploration noise of the acting policy: above 0 it is colored, its spectrum falling as 1/f^beta over each
    episode (1: pink, 2: red), so a hand keeps moving one way and a gripper stays closed for several steps
    (Eberhard et al. 2023; sac/noise.py); 0 draws it afresh at every step (plain SAC). Every step's noise is still
    a standard normal: the policy and the update are unchanged. Pink since 2026-11-30: without demonstrations it
    learned far more in 30 minutes (bench/results/critic_screen_no-demos-pink_*.json), and with them it reached
    90% no later over 5 seeds (time_to_target_noise-demos_*)."""
    replay_size: int = 1_000_000
    """Capacity of the shared replay buffer. With dict observations each is stored once in its own dtype (a run
    prints the bytes per transition; bench/image_replay.py measures them)."""
    privileged_key: str | None = None
    """Dict observations: an ``info`` key (e.g. ``state``, the simulator state) stored with every observation
    under that name, for critics that see it (--critic-keys; asymmetric actor-critic). The policy never does."""
    reinit_every: int = 20
    """Rebuild each env's physics world every N episodes (0: never)."""
    checkpoint_every: int = 20_000
    """Write runs/NAME/latest.pt every N env steps (and always at the end)."""
    eval_every: int = 10_000
    """Deterministic evaluation on held-out seeds every N env steps (0: never)."""
    eval_episodes: int = 30
    """Episodes per periodic evaluation."""
    final_eval_episodes: int = 100
    """Episodes of the confirming evaluation when --target-success is reached, and of the final evaluation of a
    run that stops unsolved at a limit (none with --eval-every 0)."""
    target_success: float | None = 0.9
    """Stop as solved when a confirming evaluation reaches this success rate (envs that report is_success; none:
    never)."""
    target_return: float | None = None
    """Stop as solved when a confirming evaluation's mean return reaches this (any env; none: never)."""
    plateau_evals: int = 3
    """Once solved, keep training and confirm every evaluation (--final-eval-episodes); stop when this many in a
    row have not beaten the best (or the best reaches --stop-success). 0: stop when the target is first reached."""
    stop_success: float = 0.99
    """Once solved, stop as soon as the best confirmation reaches this success rate (1.0: only a perfect one; envs
    that report is_success). 0.99 since 2026-12-01: a run no longer waits for a lucky perfect confirmation of a
    policy that fails about one episode in a hundred (bench/results/headline_stop99_*.json against
    headline_plateau-notype_*)."""
    heldout_episodes: int = 200
    """At the end, evaluate best.pt on this many seeds that nothing in the run saw (neither training nor the
    evaluations that chose best.pt and stopped the run): the figure the run reports (0: skip)."""
    publish_every: int = 10
    """Actor-learner: updates between weight publications to the actors."""
    max_lead_steps: int = 2_000
    """Actor-learner: env steps actors may run ahead of the replay ratio before they wait."""
    push_every: int = 64
    """Transitions a worker batches before one push to the shared buffer."""
    learner_threads: int = 1
    """Torch threads of the learner (serial mode: of the main process)."""
    max_restarts: int = 3
    """Dead actors replaced per run before training stops with an error."""
    seed: int = 0
    """Seed of networks, exploration and training episodes (evaluation uses held-out seeds)."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    """Where the networks train."""
    run_dir: str | None = None
    """Run folder (default: runs/<env>-<mode>-<time>-s<seed>)."""
    resume: str | None = None
    """Checkpoint to continue from: networks, optimizers, alpha, counters, and every setting not given again."""
    log_every: int = 200
    """Updates averaged into one loss report from a learning process."""
    progress: bool = True
    """Show a progress bar (when stderr is a terminal; else a log line every --log-seconds)."""
    log_seconds: float = 30.0
    """Seconds between plain progress lines when there is no terminal."""
    sac: SACConfig = field(default_factory=SACConfig)
    """The algorithm's hyperparameters (their flags are listed with the others)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def step_limit(self) -> float:
        """The env steps that end the run: ``total_steps`` if set, else none with ``max_minutes``, else 300,000."""
        if self.total_steps is not None:
            return self.total_steps
        return math.inf if self.max_minutes is not None else DEFAULT_TOTAL_STEPS

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Rebuild from `to_dict` output (unknown keys, from another version, are dropped)."""
        known = {f.name for f in dataclasses.fields(cls)}
        top = {k: v for k, v in values.items() if k in known and k != "sac"}
        return cls(**top, sac=SACConfig.from_dict(values.get("sac", {})))

    def validate(self) -> None:
        """Raise ValueError, one sentence naming the flag, for any setting a run cannot use."""
        self.sac.validate()
        checks = [
            (self.workers >= 1, "--workers must be at least 1"),
            (self.envs_per_worker >= 1, "--envs-per-worker must be at least 1"),
            (self.total_steps is None or self.total_steps >= 1, "--total-steps must be positive"),
            (self.max_episodes is None or self.max_episodes >= 1, "--max-episodes must be positive"),
            (
                self.max_minutes is None or (math.isfinite(self.max_minutes) and self.max_minutes > 0),
                "--max-minutes must be a positive number",
            ),
            (self.max_steps is None or self.max_steps >= 1, "--max-steps must be positive"),
            (self.explore_steps >= 0 and self.learning_starts >= 0, "--explore-steps and --learning-starts >= 0"),
            (
                self.update_itr is None or (math.isfinite(self.update_itr) and self.update_itr >= 0),
                "--update-itr must be >= 0",
            ),
            (self.demo_episodes >= 1, "--demo-episodes must be at least 1"),
            (self.demos or self.demo_file is None, "--demo-file needs --demos (drop --no-demos or the file)"),
            (
                self.replay_size >= self.sac.batch_size,
                f"--replay-size ({self.replay_size}) must hold at least one batch (--batch-size {self.sac.batch_size})",
            ),
            (self.success_replay >= 0, "--success-replay must be >= 0"),
            (math.isfinite(self.noise_beta) and self.noise_beta >= 0, "--noise-beta must be a number >= 0"),
            (
                not self.success_replay or (self.backend == "local" and self.mode in ("serial", "hogwild")),
                "--success-replay needs --mode serial or hogwild on the local backend (its learners must act)",
            ),
            (self.reinit_every >= 0, "--reinit-every must be >= 0"),
            (
                math.isfinite(self.teacher_minutes) and self.teacher_minutes > 0,
                "--teacher-minutes must be a positive number",
            ),
            (
                not self.sac.teacher or (self.backend == "local" and self.mode in ("serial", "hogwild")),
                "--teacher needs --mode serial or hogwild on the local backend (its learners act with the teacher)",
            ),
            (
                not self.sac.teacher or bool(self.privileged_key),
                "--teacher needs the state stored beside each observation: --privileged-key state",
            ),
            (self.checkpoint_every >= 1, "--checkpoint-every must be positive"),
            (self.eval_every >= 0, "--eval-every must be >= 0"),
            (self.eval_episodes >= 1 and self.final_eval_episodes >= 1, "evaluation needs at least one episode"),
            (
                self.target_success is None or 0.0 < self.target_success <= 1.0,
                "--target-success must be in (0, 1]",
            ),
            (
                self.target_return is None or math.isfinite(self.target_return),
                "--target-return must be a finite number",
            ),
            (self.plateau_evals >= 0 and self.heldout_episodes >= 0, "--plateau-evals, --heldout-episodes >= 0"),
            (0.0 < self.stop_success <= 1.0, "--stop-success must be in (0, 1]"),
            (self.publish_every >= 1 and self.push_every >= 1 and self.log_every >= 1, "intervals must be positive"),
            (self.max_lead_steps >= 1, "--max-lead-steps must be positive"),
            (self.learner_threads >= 1, "--learner-threads must be at least 1"),
            (self.max_restarts >= 0, "--max-restarts must be >= 0"),
            (self.seed >= 0, "--seed must be >= 0"),
            (math.isfinite(self.log_seconds) and self.log_seconds > 0, "--log-seconds must be positive"),
            (self.ray_learner_cpus >= 0, "--ray-learner-cpus must be >= 0"),
            (
                math.isfinite(self.ray_placement_timeout) and self.ray_placement_timeout > 0,
                "--ray-placement-timeout must be a positive number",
            ),
            (self.backend == "ray" or self.ray_address is None, "--ray-address needs --backend ray"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        parse_resources(self.ray_learner_resources, "--ray-learner-resources")
        parse_resources(self.ray_actor_resources, "--ray-actor-resources")
        if self.device == "cuda" and self.backend == "local":  # on Ray the GPU is the learner node's: Ray places it
            import torch

            if not torch.cuda.is_available():
                raise ValueError("--device cuda, but CUDA is not available here (use cpu or auto)")
        if self.device != "cpu" and self.backend == "local" and self.mode == "hogwild":
            raise ValueError("--mode hogwild shares the networks in CPU memory: use --device cpu or another --mode")
        if self.resume and not Path(self.resume).is_file():
            raise FileNotFoundError(f"checkpoint not found: {self.resume}")
        if self.demo_file and not Path(self.demo_file).is_file():
            raise FileNotFoundError(f"demonstration file not found: {self.demo_file}")


def parse_resources(text: str | None, flag: str = "resources") -> dict[str, float]:
    """Custom Ray resources from ``name=amount,...`` or a JSON object; a ValueError naming ``flag`` otherwise.

    CPU and GPU are not custom resources: they come from --ray-learner-cpus (each env actor takes one CPU) and
    --device cuda (one GPU for the learner).
    """
    if not text or not text.strip():
        return {}
    text = text.strip()
    try:
        if text.startswith("{"):
            pairs = list(json.loads(text).items())
        else:
            pairs = [tuple(item.split("=", 1)) for item in text.split(",") if item.strip()]
            pairs = [(name.strip(), float(amount)) for name, amount in pairs]
    except (ValueError, AttributeError, TypeError):
        pairs = None
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ValueError(f"{flag} {text!r}: expected name=amount,... or a JSON object such as '{{\"learner\": 1}}'")
    out: dict[str, float] = {}
    for name, amount in pairs:
        number = isinstance(amount, int | float) and not isinstance(amount, bool)
        if not number or not (amount > 0 and math.isfinite(amount)):
            raise ValueError(f"{flag}: the amount of {name!r} must be a positive number, not {amount!r}")
        if not name or name in ("CPU", "GPU"):
            raise ValueError(f"{flag}: {name!r} is not a custom resource (CPU: --ray-learner-cpus; GPU: --device cuda)")
        out[str(name)] = float(amount)
    return out


PER_RUN = ("resume", "run_dir")
KEPT_ON_RESUME = {
    "obs_mode": "observations: a resumed run observes as its policy was trained to",
    "camera_method": "camera method: a resumed run keeps the settings its checkpoint's method chose",
    "hide_state": "hidden state slots: a resumed run reads the state as its policy (or teacher) was trained to",
}
"""Settings a resumed run takes from its checkpoint only (field -> why, for the error)."""
"""Settings that belong to one invocation: never taken from a checkpoint's config."""


def resolve(given: dict[str, Any], saved: dict[str, Any] | None = None) -> RunConfig:
    """The config a run uses: the defaults, or a resumed checkpoint's config (``saved``, a `RunConfig.to_dict`),
    with what the command line set (``given``: dotted path -> value) on top.

    A given value that would change the networks' shape (`sac.config.SHAPE_FIELDS`), or one of `KEPT_ON_RESUME`,
    and differs from the checkpoint's is refused with a ValueError naming both values.
    """
    base = RunConfig()
    if saved is not None:
        base = RunConfig.from_dict(saved)
        base = replace_paths(base, {k: v for k, v in flatten(RunConfig()).items() if k in PER_RUN})
        for path, why in KEPT_ON_RESUME.items():
            if path in given and given[path] != getattr(base, path):
                flag = "--" + path.replace("_", "-")
                raise ValueError(
                    f"{flag} {given[path]} differs from the checkpoint's {getattr(base, path)} {why} (drop {flag}, or "
                    "start a new run)"
                )
        for name in SHAPE_FIELDS:
            path = f"sac.{name}"
            if path in given and given[path] != getattr(base.sac, name):
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{flag} {given[path]} differs from the checkpoint's {getattr(base.sac, name)}: a resumed run "
                    f"keeps its networks' shape (drop {flag}, or start a new run)"
                )
    return replace_paths(base, given)


def camera_settings(method: str) -> dict[str, Any]:
    """The settings (dotted path -> value) that ``--camera-method`` stands for. The SAC methods mix the
    scripted expert's demonstrations into their batches as a state run does (stored as the camera saw them, the
    state beside them; ``--no-demos`` for an env without an expert), DAgger learns from its teacher instead (trained
    with them), and every method uses the ``patch`` encoder: it locates the
    object as well as the costlier ones at a fraction of their FLOPs (bench/encoder_probe.py, and for a distilled
    student bench/distill_probe.py), reading the depth image beside its height above the image's median
    (``--image-input relative-depth``): with it a DAgger student on GraspEnv-Diverse-v0 imitated its teacher far
    better (bench/results/camera_runs_diverse-relative-depth-s1_*.json; bench/encoder_probe.py --image-inputs).
    DAgger shifts its images at random: without it the student memorised its own episodes and did worse on
    unseen ones as it trained on (bench/distill_probe.py).
    Every method stops after `CAMERA_MINUTES` unless told otherwise (--max-minutes, --total-steps): the budget a
    camera run is measured in (docs/CAMERA.md), and without it a run at a camera's pace would take hours to reach
    the default step count."""
    common: dict[str, Any] = {
        "sac.encoder": "patch", "sac.image_input": "relative-depth", "max_minutes": CAMERA_MINUTES,
    }  # fmt: skip
    if method == "dagger":
        return {**common, "demos": False, "privileged_key": "state", "sac.teacher": AUTO_TEACHER, "explore_steps": 0,
                "sac.image_shift": 4, "hide_state": DAGGER_HIDDEN}  # fmt: skip
    if method == "asymmetric":
        return {**common, "privileged_key": "state", "sac.critic_keys": "state,proprio"}
    if method == "drq":
        return {**common, "sac.image_shift": 4}
    raise ValueError(f"--camera-method must be one of dagger, asymmetric, drq, got {method!r}")


def with_camera_method(cfg: RunConfig, given: dict[str, Any]) -> RunConfig:
    """``cfg`` with ``--camera-method``'s settings wherever the user gave none. A state run is unchanged, and so is a
    resumed one: its checkpoint's config holds what its method chose (a DAgger student's teacher file, not a new
    teacher to train)."""
    if cfg.obs_mode == "state" or cfg.resume:
        return cfg
    settings = {k: v for k, v in camera_settings(cfg.camera_method).items() if k not in given}
    if "total_steps" in given:  # a step budget the user set is the budget
        settings.pop("max_minutes", None)
    return replace_paths(cfg, settings)


def default_update_itr(cfg: RunConfig) -> float:
    """The replay ratio of a run given no --update-itr: 0.5 when a state-observation run learns from its own
    experience alone (--no-demos, or --demo-fraction 0, and no --teacher), else 1. Without demonstrations the env
    steps, not the updates, are what the run is short of: at half an update per env step it needed about as many env
    steps to 90% and made them faster (bench/time_to_target.py, bench/results/time_to_target_no-demos-utd05-5seeds_*
    against time_to_target_no-demos-default-5seeds_*). With demonstrations, a teacher or a camera, 1 is what their
    measurements used; with demonstrations, 0.5 reached 90% no sooner and stopped later in the whole default run
    (bench/results/headline_demos-utd05_* against headline_demos-utd1_*)."""
    own_data_only = not (cfg.demos and cfg.sac.demo_fraction > 0) and not cfg.sac.teacher
    return 0.5 if cfg.obs_mode == "state" and own_data_only else 1.0


def with_default_update_itr(cfg: RunConfig) -> RunConfig:
    """``cfg`` with its replay ratio set (`default_update_itr`) when none was given or resumed: what a run uses is
    written in its config.json and checkpoints."""
    if cfg.update_itr is not None:
        return cfg
    return dataclasses.replace(cfg, update_itr=default_update_itr(cfg))


def given_by_value(cfg: RunConfig) -> dict[str, Any]:
    """For a config built in Python: the values that differ from the defaults count as given."""
    defaults = flatten(RunConfig())
    return {k: v for k, v in flatten(cfg).items() if v != defaults[k]}
