"""Distillation offline: how well a camera student imitates a state teacher on depth frames it was not trained on.

Collects ``--frames`` depth observations of ``--env`` with the teacher acting (a share ``--perturb`` of its actions
perturbed by gaussian noise of 0.5, so the frames include states off the teacher's path, as DAgger's do), labels
each with the teacher's deterministic action, and trains a fresh camera policy per variant (``ENCODER:SHIFT``:
`sac.networks.IMAGE_ENCODERS`, DrQ random shift in pixels) by regression of its squashed mean onto the labels, as
`sac.distill.distill_step` does, on the frames of the first 85% of episodes. Reports the mean squared error per
action slot on the frames of the other episodes (other objects and positions) every ``--report`` steps, and the
training loss. ``ENCODER:SHIFT:AUX`` adds a linear head on the policy's last hidden layer that regresses the object's
state slots (every varying slot outside the proprioception, standardised on the training frames) with weight AUX;
every variant reports that head's held-out error per slot, so it also says how well the features locate the
object. What it answers: does the student generalise to unseen episodes, or memorise its own?

    python bench/distill_probe.py --teacher runs/NAME/best.pt --env GraspEnv-Diverse-v0 \\
        --variant strided:0 --variant strided:4 --variant patch:0 --variant patch:4
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def collect(
    env_id: str, teacher, frames: int, perturb: float, seed: int, hide_state: str | None = None
) -> tuple[dict[str, np.ndarray], int]:
    from sac.distill import teacher_actions
    from sac.run.envs import import_env_module

    import_env_module(env_id)
    hidden = {"hide_state": hide_state} if hide_state else {}
    env = gym.make(env_id.split(":")[-1], obs_mode="depth", disable_env_checker=True, **hidden)
    rng = np.random.default_rng(seed)
    depth, proprio, state, episode = [], [], [], []
    ep = 0
    try:
        while len(depth) < frames:
            obs, info = env.reset(seed=seed + ep)
            done = False
            while not done:
                action = teacher_actions(teacher, torch.as_tensor(info["state"][None]))[0].numpy()
                if rng.random() < perturb:
                    action = np.clip(action + rng.normal(0.0, 0.5, action.shape), -1, 1).astype(np.float32)
                depth.append(obs["depth"])
                proprio.append(obs["proprio"])
                state.append(info["state"])
                episode.append(ep)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            ep += 1
    finally:
        env.close()
    data = {"depth": np.stack(depth), "proprio": np.stack(proprio), "state": np.stack(state).astype(np.float32)}
    data["episode"] = np.asarray(episode)
    return data, ep


def main() -> None:
    import grasp_env  # noqa: F401  (registers the GraspEnv ids, for collecting and for the spec)
    from sac import SACConfig, SACTrainer
    from sac.distill import load_teacher, teacher_actions, teacher_hide_state
    from sac.networks import random_shift
    from sac.run.envs import env_spec, make_env

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", required=True, help="state checkpoint of --env")
    p.add_argument("--env", default="GraspEnv-Diverse-v0")
    p.add_argument("--frames", type=int, default=6000)
    p.add_argument("--perturb", type=float, default=0.3)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--report", type=int, default=1000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument(
        "--variant", action="append", required=True, help="ENCODER:SHIFT[:AUX], e.g. strided:4 or patch:4:1.0"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, help="an .npz of collected frames: loaded if it exists, else written")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "distill_probe.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    teacher = load_teacher(args.teacher)
    hidden = teacher_hide_state(args.teacher)  # the state as the teacher was trained to read it
    t0 = time.perf_counter()
    if args.data is not None and args.data.is_file():
        data = dict(np.load(args.data))
        episodes = int(data["episode"].max()) + 1
    else:
        data, episodes = collect(args.env, teacher, args.frames, args.perturb, args.seed, hidden)
        if args.data is not None:
            np.savez(args.data, **data)
    collect_s = time.perf_counter() - t0
    target = teacher_actions(teacher, torch.as_tensor(data["state"])).numpy()
    held_episodes = int(episodes * 0.85)
    train_idx = np.flatnonzero(data["episode"] < held_episodes)
    held_idx = np.flatnonzero(data["episode"] >= held_episodes)
    env = make_env(args.env, env_kwargs={"obs_mode": "depth"})
    spec = env_spec(env, "state")[0]
    slot_names = [""] * data["state"].shape[1]
    for name, sl in env.unwrapped.obs_slices.items():
        for i in range(*sl.indices(len(slot_names))):
            slot_names[i] = f"{name}[{i - sl.start}]"
    env.close()
    rng = np.random.default_rng(args.seed)

    def batch(idx: np.ndarray, shift: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        depth = torch.as_tensor(data["depth"][idx])
        if shift:
            depth = random_shift(depth, shift)
        return {"depth": depth, "proprio": torch.as_tensor(data["proprio"][idx])}, torch.as_tensor(target[idx])

    # What a camera could see of the object (every state slot outside proprio that varies), standardised on the
    # training frames: the targets of the auxiliary head.
    seen = np.flatnonzero(data["state"][train_idx].std(0) > 1e-6)
    seen = seen[~np.isin(seen, np.arange(spec.shape("proprio")[0]))]
    state_mean = data["state"][train_idx][:, seen].mean(0)
    state_std = data["state"][train_idx][:, seen].std(0)
    aux_target = torch.as_tensor((data["state"][:, seen] - state_mean) / state_std)

    results = {}
    for variant in args.variant:
        parts = variant.split(":")
        encoder, shift, aux = parts[0], int(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0
        torch.manual_seed(args.seed)
        policy = SACTrainer(spec, 5, SACConfig(encoder=encoder, lr=args.lr, batch_size=args.batch)).policy_net
        aux_head = torch.nn.Linear(policy.hidden_dim, len(seen))
        optimizer = torch.optim.Adam([*policy.parameters(), *aux_head.parameters()], lr=args.lr)
        curve, start = [], time.perf_counter()

        def trunk(obs: dict[str, torch.Tensor], policy=policy) -> torch.Tensor:
            x = torch.relu(policy.linear1(policy.encoder(obs)))
            return torch.relu(policy.linear2(x))

        for step in range(1, args.steps + 1):
            idx = rng.choice(train_idx, args.batch)
            obs, labels = batch(idx, shift)
            h = trunk(obs)
            loss = ((torch.tanh(policy.mean_linear(h)) - labels) ** 2).mean()
            aux_loss = ((aux_head(h) - aux_target[idx]) ** 2).mean()
            if aux:
                loss = loss + aux * aux_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % args.report == 0:
                with torch.no_grad():
                    obs, labels = batch(held_idx)
                    h = trunk(obs)
                    per_slot = ((torch.tanh(policy.mean_linear(h)) - labels) ** 2).mean(0).numpy()
                    held_aux_slots = ((aux_head(h) - aux_target[held_idx]) ** 2).mean(0).numpy()
                    held_aux = float(held_aux_slots.mean())
                curve.append(
                    {
                        "step": step,
                        "train_loss": round(float(loss.detach()), 4),
                        "heldout_mse": round(float(per_slot.mean()), 4),
                        "heldout_mse_per_slot": [round(float(x), 4) for x in per_slot],
                        "train_aux": round(float(aux_loss.detach()), 4),
                        "heldout_aux": round(held_aux, 4),
                        "heldout_aux_per_slot": {
                            slot_names[i]: round(float(x), 3) for i, x in zip(seen, held_aux_slots)
                        },
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                print(variant, curve[-1], flush=True)
        results[variant] = {"encoder": encoder, "image_shift": shift, "aux_weight": aux, "curve": curve}
    payload = {
        "bench": "distill_probe",
        "date": datetime.date.today().isoformat(),
        "command": "python3 bench/distill_probe.py "
        + " ".join(f"--variant {v}" for v in args.variant)
        + f" --teacher {args.teacher} --env {args.env} --frames {args.frames} --steps {args.steps}",
        "settings": {
            "env": args.env,
            "teacher": args.teacher,
            "hide_state": hidden,
            "frames": len(data["depth"]),
            "episodes": episodes,
            "train_frames": len(train_idx),
            "heldout_frames": len(held_idx),
            "perturb": args.perturb,
            "batch": args.batch,
            "lr": args.lr,
            "steps": args.steps,
            "collect_s": round(collect_s, 1),
            "action_slots": ["dx", "dy", "dz", "dyaw", "gripper"],
        },  # fmt: skip
        "variants": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
