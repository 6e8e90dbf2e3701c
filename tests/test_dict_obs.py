"""Dict observations (images and vectors): the spec, the replay buffer, the encoders, the trainer, the run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dot_env  # noqa: F401  (registers Dot-v0 and NestedDict-v0)
import gymnasium as gym
import numpy as np
import pytest
import torch

import train
from sac import CheckpointError, SACConfig, SACTrainer, start_replay_manager
from sac.config import ENCODERS
from sac.networks import IMAGE_ENCODERS, GaussianPolicy, ImageEncoder, ObsEncoder, SoftQNetwork, random_shift
from sac.replay import DictReplayBuffer, make_replay_buffer
from sac.run.config import RunConfig
from sac.run.envs import EnvRunner, evaluate_policy, make_env
from sac.spaces import ObsSpec

CAMERA = gym.spaces.Dict(
    {
        "depth": gym.spaces.Box(0, 255, (1, 64, 64), np.uint8),
        "proprio": gym.spaces.Box(-np.inf, np.inf, (10,), np.float32),
    }
)
"""The depth-camera observation of GraspEnv's camera mode, with GraspEnv's 29-slot state as privileged key."""


def camera_spec() -> ObsSpec:
    return ObsSpec.from_space(CAMERA, privileged={"state": np.zeros(29, np.float32)})


def dot_spec(privileged: bool = False) -> ObsSpec:
    extra = {"state": np.zeros(4, np.float32)} if privileged else None
    return ObsSpec.from_space(dot_env.DotEnv.observation_space, privileged=extra)


def coded(values: np.ndarray) -> dict[str, np.ndarray]:
    """Observations that carry their number ``v``: an image filled with ``v`` and a vector ``(v, -v)``."""
    values = np.asarray(values)
    image = np.broadcast_to(values[:, None, None, None].astype(np.uint8), (len(values), 1, 16, 16)).copy()
    return {"image": image, "pos": np.stack([values, -values], 1).astype(np.float32)}


def push_chain(buf: DictReplayBuffer, start: int, n: int) -> None:
    """Transitions v -> v + 1 (reward v) for v in [start, start + n)."""
    v = np.arange(start, start + n)
    buf.push_many(coded(v), np.zeros((n, 2)), v, coded(v + 1), np.zeros(n))


def assert_consistent(buf: DictReplayBuffer) -> None:
    """Every stored transition's obs, reward and next_obs agree; reference counts match the transitions."""
    obs, _, reward, next_obs, _ = buf._chronological()
    np.testing.assert_array_equal(obs["pos"][:, 0], reward)
    np.testing.assert_array_equal(next_obs["pos"][:, 0], reward + 1)
    np.testing.assert_array_equal(obs["image"][:, 0, 0, 0], reward.astype(np.uint8))
    assert int(buf.refcount.sum()) == 2 * len(buf)
    assert buf.frames_used() == int((buf.refcount > 0).sum())


# -- the spec ------------------------------------------------------------------------------------------------


def test_the_spec_tells_images_from_vectors_and_describes_itself() -> None:
    spec = camera_spec()
    assert spec.keys == ("depth", "proprio", "state") and spec.image_keys == ("depth",)
    assert spec.observed_keys == ("depth", "proprio") and spec.privileged == ("state",)
    assert spec.nbytes() == 64 * 64 + 4 * 10 + 4 * 29
    assert spec.describe() == (
        "dict observations {depth: uint8 (1, 64, 64), proprio: float32 (10,), state: float32 (29,) privileged}"
    )
    assert ObsSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    box = ObsSpec.from_space(gym.spaces.Box(-1, 1, (29,), np.float32))
    assert not box.is_dict and box.flat_dim == 29 and box.describe() == "state observations (29,)"


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Dict({"a": gym.spaces.Dict({"b": gym.spaces.Box(0, 1, (2,))})}),
        gym.spaces.Dict({"a": gym.spaces.Discrete(3)}),
        gym.spaces.Tuple((gym.spaces.Box(0, 1, (2,)),)),
    ],
)
def test_unsupported_spaces_are_refused_naming_what_is_supported(space: gym.Space) -> None:
    with pytest.raises(ValueError, match="a Box, or a Dict of Box spaces"):
        ObsSpec.from_space(space)


# -- the replay buffer ---------------------------------------------------------------------------------------


def test_each_observation_is_stored_once_and_samples_are_typed() -> None:
    buf = DictReplayBuffer(100, dot_spec(), 2, seed=0)
    for start in range(0, 60, 20):  # three chunks of one chain: chunk edges share frames too
        push_chain(buf, start, 20)
    assert len(buf) == 60 and buf.frames_used() == 61
    assert_consistent(buf)
    batch = buf.sample(32)
    assert batch.obs["image"].dtype == np.uint8 and batch.obs["image"].shape == (32, 1, 16, 16)
    assert batch.obs["pos"].dtype == np.float32 and batch.action.shape == (32, 2)
    np.testing.assert_array_equal(batch.next_obs["pos"][:, 0], batch.reward + 1)


def test_interleaved_envs_and_n_step_windows_share_frames() -> None:
    # Two envs' steps interleaved, as EnvRunner pushes them: each chain still shares its frames.
    buf = DictReplayBuffer(100, dot_spec(), 2, seed=0)
    v = np.arange(10)
    both = np.stack([v, v + 100], 1).reshape(-1)
    buf.push_many(coded(both), np.zeros((20, 2)), both, coded(both + 1), np.zeros(20))
    assert buf.frames_used() == 22
    # Three-step transitions v -> v + 3: each observation is still one frame.
    n_step = DictReplayBuffer(100, dot_spec(), 2, seed=0)
    n_step.push_many(coded(v), np.zeros((10, 2)), v, coded(v + 3), np.zeros(10))
    assert n_step.frames_used() == 13


def test_a_truncated_episode_keeps_its_final_observation_apart_from_the_reset_one() -> None:
    env_runner = EnvRunner("Dot-v0", 1, seed=3, max_steps=4)
    env_runner.rng = np.random.default_rng(0)
    finals, resets = [], []
    for _ in range(12):
        before = env_runner._row(0)
        records = env_runner.step(np.full((1, 2), 0.1, np.float32))  # small steps: a time limit ends each episode
        if records:
            finals.append(before)  # the observation before the last step
            resets.append(env_runner._row(0))
    obs, action, reward, next_obs, terminated = env_runner.pending.take()
    buf = DictReplayBuffer(100, env_runner.obs_spec, 2, seed=0)
    buf.push_many(obs, action, reward, next_obs, terminated)
    assert len(buf) == 12 and not terminated.any()
    stored_obs, _, _, stored_next, _ = buf._chronological()
    for k in (3, 7, 11):  # the last step of each 4-step episode bootstraps from the final observation
        ep = k // 4
        np.testing.assert_allclose(stored_next["pos"][k], finals[ep]["pos"] + 0.025, rtol=1e-6)  # one step on
        np.testing.assert_array_equal(stored_next["image"][k], finals[ep]["image"])  # the same target
        if k + 1 < 12:
            for key in ("image", "pos"):
                np.testing.assert_array_equal(stored_obs[key][k + 1], resets[ep][key])
        if k + 1 < 12:
            assert not np.array_equal(stored_next["pos"][k], stored_obs["pos"][k + 1])
    assert buf.frames_used() == 12 + 3  # one frame per step, one more per episode end


def test_overwriting_the_ring_frees_frames_and_keeps_transitions_whole() -> None:
    buf = DictReplayBuffer(16, dot_spec(), 2, seed=0)
    for start in range(0, 200, 13):
        push_chain(buf, start, 13)
        assert_consistent(buf)
    assert len(buf) == 16 and buf.frames_used() <= 16 + 16 // 4 + 16
    _, _, reward, _, _ = buf._chronological()
    assert reward[-1] == 207 and reward[0] == 192  # the newest 16


def test_a_full_frame_pool_drops_the_oldest_transitions() -> None:
    buf = DictReplayBuffer(10, dot_spec(), 2, seed=0, frame_capacity=12)
    for start in range(0, 1000, 100):  # unrelated transitions: two frames each
        push_chain(buf, start, 1)
    assert len(buf) == 6 and buf.frames_used() == 12
    assert_consistent(buf)


def test_memory_per_transition_is_about_one_observation() -> None:
    spec, replay_size = camera_spec(), RunConfig().replay_size
    per = DictReplayBuffer.allocated_bytes(replay_size, spec, 5) / replay_size
    assert spec.nbytes() < per < 1.3 * spec.nbytes() + 64  # not two observations per transition
    assert per * replay_size < 12e9  # the default buffer fits 24 GB with half to spare
    buf = DictReplayBuffer(1000, spec, 5)
    assert buf.bytes_per_transition() == DictReplayBuffer.allocated_bytes(1000, spec, 5) / 1000


def test_save_and_load_round_trip_each_observation_once(tmp_path: Path) -> None:
    buf = DictReplayBuffer(50, dot_spec(), 2, seed=4)
    push_chain(buf, 0, 80)
    path = buf.save(tmp_path / "replay.npz")
    with np.load(path) as data:
        assert len(data["frame.image"]) == 51 and len(data["reward"]) == 50
    loaded = DictReplayBuffer.from_file(path)
    assert len(loaded) == 50 and loaded.total_pushed == 80
    for a, b in zip(buf._chronological(), loaded._chronological()):
        if isinstance(a, dict):
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
        else:
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(buf.sample(8).reward, loaded.sample(8).reward)  # the RNG state too
    with pytest.raises(ValueError, match="dict observations: use DictReplayBuffer"):
        from sac import ReplayBuffer

        ReplayBuffer.from_file(path)


def test_the_manager_serves_a_dict_buffer() -> None:
    manager, proxy = start_replay_manager(100, dot_spec(), 2, seed=0)
    try:
        push_chain_proxy = np.arange(40)
        proxy.push_many(
            coded(push_chain_proxy), np.zeros((40, 2)), push_chain_proxy, coded(push_chain_proxy + 1), np.zeros(40)
        )
        assert len(proxy) == 40
        batch = proxy.sample(16)
        assert batch.obs["image"].dtype == np.uint8
        np.testing.assert_array_equal(batch.next_obs["pos"][:, 0], batch.reward + 1)
        assert proxy.bytes_per_transition() > dot_spec().nbytes()
    finally:
        manager.shutdown()


# -- the networks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", list(IMAGE_ENCODERS))
@pytest.mark.parametrize("size", [16, 64])
def test_encoder_shapes(size: int, arch: str) -> None:
    image = ImageEncoder((1, size, size), 50, arch=arch)
    x = torch.randint(0, 256, (3, 1, size, size), dtype=torch.uint8)
    out = image(x)
    assert out.shape == (3, 50) and out.abs().max() <= 1.0
    spec = ObsSpec.from_space(
        gym.spaces.Dict({"im": gym.spaces.Box(0, 255, (1, size, size), np.uint8), "v": gym.spaces.Box(0, 1, (7,))})
    )
    enc = ObsEncoder(spec, None, 50, arch=arch)
    assert enc.out_dim == 57 and enc(obs_batch(spec, 4)).shape == (4, 57)


def test_relative_depth_lifts_what_stands_on_the_table_and_ignores_dropouts() -> None:
    from sac.networks import RELATIVE_DEPTH_UNIT, relative_depth

    table, box, fingers = 60, 60 - int(RELATIVE_DEPTH_UNIT), 5  # the box one unit nearer than the table
    image = torch.full((2, 1, 8, 8), table, dtype=torch.uint8)
    image[0, 0, 2:4, 2:4] = box
    image[0, 0, 7] = fingers
    image[0, 0, 0, 0] = 0  # no reading
    image[1] += 40  # the same scene from higher up: only the raw channel changes
    image[1, 0, 2:4, 2:4] = box + 40
    image[1, 0, 7] = fingers + 40
    image[1, 0, 0, 0] = 0
    x = relative_depth(image)
    assert x.shape == (2, 2, 8, 8) and x.dtype == torch.float32 and 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
    torch.testing.assert_close(x[:, 0], image[:, 0].float() / 255.0)
    height = x[:, 1] * 6.0 - 2.0  # back to units of RELATIVE_DEPTH_UNIT
    torch.testing.assert_close(height[0], height[1])
    assert float(height[0, 4, 4]) == 0.0 and float(height[0, 0, 0]) == 0.0  # the table; a dropout
    assert float(height[0, 2, 2]) == pytest.approx(1.0)  # the box
    assert float(height[0, 7, 0]) == pytest.approx((table - fingers) / RELATIVE_DEPTH_UNIT)  # the fingers, nearer
    image[0, 0, 7] = 255  # beyond the working range: a hole, clipped
    assert float(relative_depth(image)[0, 1, 7, 0]) * 6.0 - 2.0 == -2.0
    enc = ImageEncoder((1, 16, 16), 10, arch="patch", image_input="relative-depth")
    assert enc.convs[0].in_channels == 2 and enc(image.repeat(1, 1, 2, 2)).shape == (2, 10)
    with pytest.raises(ValueError, match="one-channel depth"):
        ImageEncoder((3, 16, 16), 10, arch="patch", image_input="relative-depth")


def test_spatial_softmax_finds_the_peak_of_each_channel() -> None:
    from sac.networks import SpatialSoftmax

    soft = SpatialSoftmax(5, 9)
    x = torch.zeros(2, 3, 5, 9)
    x[0, 0, 4, 0] = x[0, 1, 0, 8] = x[1, 2, 2, 4] = 100.0  # one sharp peak per channel, else flat
    points = soft(x).reshape(2, 3, 2)
    assert torch.allclose(points[0, 0], torch.tensor([-1.0, 1.0])) and torch.allclose(
        points[0, 1], torch.tensor([1.0, -1.0])
    )
    assert torch.allclose(points[1, 2], torch.zeros(2), atol=1e-6)
    assert torch.allclose(points[0, 2], torch.zeros(2), atol=1e-6)  # a flat channel: the centre


def test_the_config_offers_exactly_the_encoders_the_networks_build() -> None:
    assert set(ENCODERS) == set(IMAGE_ENCODERS) and SACConfig().encoder in ENCODERS
    with pytest.raises(ValueError, match="--encoder must be one of"):
        SACConfig(encoder="resnet").validate()
    with pytest.raises(ValueError, match="unknown image encoder 'resnet'"):
        ImageEncoder((1, 64, 64), 50, arch="resnet")


def test_flops_count_every_multiply_add_of_the_convs_and_the_linear() -> None:
    # patch on 1x64x64: 4x4 stride 4 to 16x16x16, 3x3 stride 2 to 7x7x32, Linear 1568 -> 50.
    patch = 16 * 16 * 16 * (1 * 4 * 4) + 7 * 7 * 32 * (16 * 3 * 3) + 7 * 7 * 32 * 50
    assert ImageEncoder((1, 64, 64), 50, arch="patch").flops() == 2 * patch
    # drq: 31x31x32 (1 * 9), 29x29x32 (32 * 9), 27x27x32 (32 * 9), Linear 23328 -> 50.
    drq = 31 * 31 * 32 * 9 + 29 * 29 * 32 * 288 + 27 * 27 * 32 * 288 + 27 * 27 * 32 * 50
    assert ImageEncoder((1, 64, 64), 50, arch="drq").flops() == 2 * drq
    # The default is a cheap one: at least five times fewer FLOPs than the DrQ stack.
    default = ImageEncoder((1, 64, 64), 50, arch=SACConfig().encoder).flops()
    assert default * 5 <= ImageEncoder((1, 64, 64), 50, arch="drq").flops()


@pytest.mark.parametrize("arch", list(IMAGE_ENCODERS))
def test_the_trainer_builds_the_configured_encoder_and_its_checkpoint_keeps_it(arch: str, tmp_path: Path) -> None:
    trainer = dict_trainer(encoder=arch)
    encoders = [net.encoder.images["image"] for net in (trainer.policy_net, trainer.soft_q_net1)]
    assert all(e.arch == arch for e in encoders)
    trainer.update()
    loaded = SACTrainer.load(trainer.save(tmp_path / "c.pt"))
    assert loaded.config.encoder == arch and loaded.policy_net.encoder.images["image"].arch == arch
    other = next(a for a in IMAGE_ENCODERS if a != arch)
    with pytest.raises(CheckpointError, match=f"was trained with encoder {arch}, not {other}"):
        SACTrainer.load(tmp_path / "c.pt", config=SACConfig(hidden_dim=32, encoder_features=16, encoder=other))


def test_a_config_written_before_the_encoder_field_means_the_drq_encoder(tmp_path: Path) -> None:
    trainer = dict_trainer(encoder="drq")
    path = trainer.save(tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    saved = json.loads(payload["config"])
    del saved["encoder"]  # as the version before --encoder wrote it
    payload["config"] = json.dumps(saved)
    torch.save(payload, path)
    loaded = SACTrainer.load(path)
    assert loaded.config.encoder == "drq"
    obs = {k: v.numpy() for k, v in obs_batch(trainer.obs_spec, 3).items()}
    np.testing.assert_array_equal(loaded.get_action(obs, True), trainer.get_action(obs, True))
    assert SACConfig.from_dict({"hidden_dim": 64}).encoder == SACConfig().encoder  # older still: no images then


def obs_batch(spec: ObsSpec, n: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {}
    for k in spec.keys:
        if spec.is_image(k):
            out[k] = torch.randint(0, 256, (n, *spec.shape(k)), dtype=torch.uint8, generator=g)
        else:
            out[k] = torch.randn((n, *spec.shape(k)), generator=g)
    return out


def test_flat_networks_keep_their_parameters_so_old_checkpoints_load() -> None:
    # The state_dict keys and shapes of the flat networks before dict observations existed.
    old_policy = {
        "linear1.weight": (8, 5), "linear1.bias": (8,), "linear2.weight": (8, 8), "linear2.bias": (8,),
        "mean_linear.weight": (2, 8), "mean_linear.bias": (2,), "log_std_linear.weight": (2, 8),
        "log_std_linear.bias": (2,), "action_scale": (2,), "action_bias": (2,),
    }  # fmt: skip
    old_q = {
        "linear1.weight": (8, 7), "linear1.bias": (8,), "linear2.weight": (8, 8), "linear2.bias": (8,),
        "linear3.weight": (1, 8), "linear3.bias": (1,), "norm1.weight": (8,), "norm1.bias": (8,),
        "norm2.weight": (8,), "norm2.bias": (8,),
    }  # fmt: skip
    g = torch.Generator().manual_seed(1)
    for net, old in ((GaussianPolicy(5, 2, 8), old_policy), (SoftQNetwork(5, 2, 8, layer_norm=True), old_q)):
        state = {k: torch.randn(shape, generator=g) for k, shape in old.items()}
        if "action_scale" in state:
            state["action_scale"] = state["action_scale"].abs() + 0.1
        net.load_state_dict(state, strict=True)
        assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == old


def test_random_shift_moves_each_image_by_at_most_pad_with_replicated_borders() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 2, 12, 12), dtype=torch.uint8, generator=g)
    torch.manual_seed(5)
    out = random_shift(images, 4)
    torch.manual_seed(5)
    assert torch.equal(out, random_shift(images, 4))  # deterministic under a seed
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images.float(), (4, 4, 4, 4), mode="replicate")
    offsets = []
    for i in range(8):
        found = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if torch.equal(out[i].float(), padded[i, :, 4 + dy : 16 + dy, 4 + dx : 16 + dx])
        ]
        assert found, f"image {i} is not a shift of at most 4 pixels"
        offsets.append(found[0])
    assert len(set(offsets)) > 1  # each image draws its own shift


# -- the trainer ---------------------------------------------------------------------------------------------


def filled_buffer(spec: ObsSpec, n: int = 256, seed: int = 0) -> DictReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = DictReplayBuffer(n, spec, 2, seed=seed)
    obs = {k: rng.integers(0, 256, (n, *spec.shape(k))).astype(spec.dtype(k)) for k in spec.keys}
    nxt = {k: rng.integers(0, 256, (n, *spec.shape(k))).astype(spec.dtype(k)) for k in spec.keys}
    for k in spec.keys:
        if not spec.is_image(k):
            obs[k], nxt[k] = rng.normal(size=obs[k].shape).astype(np.float32), rng.normal(size=nxt[k].shape)
    buf.push_many(obs, rng.uniform(-1, 1, (n, 2)), rng.normal(size=n), nxt, rng.random(n) < 0.1)
    return buf


def dict_trainer(spec: ObsSpec | None = None, **cfg: object) -> SACTrainer:
    torch.manual_seed(0)
    spec = spec or dot_spec()
    config = SACConfig(hidden_dim=32, batch_size=32, encoder_features=16, **cfg)  # type: ignore[arg-type]
    return SACTrainer(spec, 2, config, filled_buffer(spec))


def test_an_update_on_dict_batches_lowers_the_critic_loss_on_a_fixed_batch() -> None:
    trainer = dict_trainer(image_shift=2)
    torch.manual_seed(1)
    batch = trainer.sample_batch(32)
    assert batch[0]["image"].dtype == torch.uint8
    losses = [trainer._update(batch, False)["qf_loss"] for _ in range(60)]
    assert trainer._fused is None  # the fused update is for flat observations only
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    assert trainer.num_updates == 60


def test_flat_trainers_still_use_the_fused_update() -> None:
    from sac import ReplayBuffer

    buf = ReplayBuffer(64, 4, 2, seed=0)
    rng = np.random.default_rng(0)
    buf.push_many(
        rng.normal(size=(64, 4)),
        rng.uniform(-1, 1, (64, 2)),
        rng.normal(size=64),
        rng.normal(size=(64, 4)),
        np.zeros(64),
    )
    trainer = SACTrainer(4, 2, SACConfig(hidden_dim=16, batch_size=16), buf)
    trainer.update()
    assert trainer._fused is not None and trainer.obs_spec == ObsSpec.box(4)


def test_asymmetric_critics_see_the_privileged_state_and_the_policy_the_image() -> None:
    spec = dot_spec(privileged=True)
    trainer = dict_trainer(spec, critic_keys="state,pos")
    assert trainer.actor_keys == ("image", "pos") and trainer.critic_keys == ("state", "pos")
    assert set(trainer.policy_net.encoder.images) == {"image"}
    assert not trainer.soft_q_net1.encoder.images and trainer.soft_q_net1.encoder.out_dim == 6
    trainer.update()
    single = {"image": np.zeros((1, 16, 16), np.uint8), "pos": np.zeros(2, np.float32)}  # no privileged key
    assert trainer.get_action(single, deterministic=True).shape == (2,)
    with pytest.raises(ValueError, match="privileged"):
        dict_trainer(spec, actor_keys="image,state")
    with pytest.raises(ValueError, match="not a subset"):
        dict_trainer(spec, critic_keys="depth")


def test_dict_checkpoint_round_trip_gives_the_same_actions(tmp_path: Path) -> None:
    trainer = dict_trainer()
    for _ in range(3):
        trainer.update()
    path = trainer.save(tmp_path / "dict.pt")
    loaded = SACTrainer.load(path)
    assert loaded.obs_spec == trainer.obs_spec and loaded.num_updates == 3
    obs = {k: v.numpy() for k, v in obs_batch(trainer.obs_spec, 6).items()}
    np.testing.assert_array_equal(loaded.get_action(obs, True), trainer.get_action(obs, True))
    one = {k: v[0] for k, v in obs.items()}
    np.testing.assert_allclose(loaded.get_action(one, True), trainer.get_action(obs, True)[0], atol=1e-6)


def test_a_checkpoint_of_other_observations_is_refused_in_one_line(tmp_path: Path) -> None:
    from sac import ReplayBuffer

    state_ckpt = SACTrainer(4, 2, SACConfig(hidden_dim=32)).save(tmp_path / "state.pt")
    camera = dict_trainer()
    with pytest.raises(CheckpointError) as info:
        camera.load_from(state_ckpt)
    message = str(info.value)
    assert "\n" not in message
    assert "checkpoint has state observations (4,), this run has dict observations {image: uint8" in message
    flat = SACTrainer(4, 2, SACConfig(hidden_dim=32), ReplayBuffer(8, 4, 2))
    with pytest.raises(CheckpointError, match="checkpoint has dict observations .* this run has state"):
        flat.load_from(camera.save(tmp_path / "camera.pt"))


# -- the run -------------------------------------------------------------------------------------------------


def test_the_runner_stores_dict_observations_privileged_state_and_n_step_windows() -> None:
    runner = EnvRunner("Dot-v0", 2, seed=0, n_step=3, gamma=0.5, privileged_key="state")
    assert isinstance(runner.obs, dict) and runner.obs["image"].shape == (2, 1, 16, 16)
    for _ in range(6):
        runner.step(np.zeros((2, 2), np.float32))
    obs, _, reward, next_obs, terminated = runner.pending.take()
    assert obs["image"].dtype == np.uint8 and obs["state"].shape == (len(reward), 4)
    np.testing.assert_array_equal(obs["state"][:, :2], obs["pos"])  # the privileged state matches its obs
    np.testing.assert_array_equal(next_obs["state"][:, :2], next_obs["pos"])
    standing = ~terminated.astype(bool)
    np.testing.assert_allclose(reward[standing], -(1 + 0.5 + 0.25) * np.linalg.norm(
        obs["state"][standing, :2] - obs["state"][standing, 2:], axis=1), rtol=1e-5)  # fmt: skip


def test_evaluation_plays_dict_observations() -> None:
    trainer = dict_trainer()
    result = evaluate_policy(trainer.policy_net, make_env("Dot-v0"), 2, seed=0)
    assert result["episodes"] == 2 and result["has_success"]


DICT_FAST = [
    "--env", "dot_env:Dot-v0", "--no-demos", "--total-steps", "300", "--explore-steps", "100",
    "--learning-starts", "100", "--batch-size", "32", "--hidden-dim", "32", "--encoder-features", "16",
    "--eval-every", "150", "--eval-episodes", "2", "--final-eval-episodes", "2", "--checkpoint-every", "150",
    "--workers", "2", "--log-every", "20", "--no-progress", "--target-success", "none", "--update-itr", "0.5",
    "--heldout-episodes", "2", "--replay-size", "1000", "--privileged-key", "state", "--critic-keys", "state,pos",
]  # fmt: skip


def test_a_dict_env_trains_end_to_end_in_serial_mode(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "serial"
    argv = ["--mode", "serial", *DICT_FAST, "--success-replay", "200", "--image-shift", "2", "--run-dir", str(run_dir)]
    assert train.main(argv) == 0
    out = capsys.readouterr().out
    assert "bytes per transition allocated" in out and "state: float32 (4,) privileged" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["updates"] > 0
    loaded = SACTrainer.load(run_dir / "latest.pt")
    assert loaded.obs_spec.privileged == ("state",) and loaded.critic_keys == ("state", "pos")
    assert train.main(["eval", "--checkpoint", str(run_dir / "latest.pt"), "--episodes", "2"]) == 0
    resumed = tmp_path / "resumed"
    argv = ["--resume", str(run_dir / "latest.pt"), "--total-steps", "400", "--run-dir", str(resumed)]
    assert train.main([*argv, "--mode", "serial", "--no-progress"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "dot_env:NestedDict-v0", "--no-demos"], "is a Dict space: a Box, or a Dict of Box spaces"),
        (["--env", "dot_env:Dot-v0"], "pass --no-demos"),
        (["--env", "dot_env:Dot-v0", "--no-demos", "--privileged-key", "qpos"], "no such key"),
    ],
)
def test_unsupported_dict_runs_are_clear_errors(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert train.main(["--mode", "serial", *argv, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resuming_a_state_checkpoint_on_a_dict_env_is_refused(tmp_path: Path, capsys) -> None:
    state_ckpt = SACTrainer(2, 2, SACConfig(hidden_dim=32)).save(tmp_path / "state.pt")
    argv = ["--mode", "serial", "--env", "dot_env:Dot-v0", "--no-demos", "--resume", str(state_ckpt)]
    argv += ["--run-dir", str(tmp_path / "r")]
    assert train.main(argv) == 2
    assert "has state observations (2,), but dot_env:Dot-v0 has dict observations" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hogwild", "actor-learner"])
def test_a_dict_env_trains_with_worker_processes(mode: str, tmp_path: Path) -> None:
    run_dir = tmp_path / mode
    assert train.main(["--mode", mode, *DICT_FAST, "--max-lead-steps", "100", "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["env_steps"] >= 300 and summary["updates"] > 0


@pytest.mark.slow
def test_the_agent_learns_where_the_dot_is_from_the_image() -> None:
    """On held-out seeds the policy beats chance and the best policy that ignores the image (walking to the
    centre: about -6.3 and 5% success on these seeds)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    runner = EnvRunner("Dot-v0", 4, seed=0)
    buf = make_replay_buffer(10_000, runner.obs_spec, 2, seed=0)
    trainer = SACTrainer(runner.obs_spec, 2, SACConfig(hidden_dim=64, batch_size=64, encoder_features=32), buf)
    steps = 0
    while steps < 3000:
        runner.step(runner.random_actions() if steps < 400 else trainer.get_action(runner.obs))
        steps += runner.n_envs
        if len(runner.pending) >= 16:
            buf.push_many(*runner.pending.take())
        if len(buf) >= 200:
            trainer.update()
            trainer.update()
    env = make_env("Dot-v0")
    result = evaluate_policy(trainer.policy_net, env, 100, seed=2_000_000)
    rng = np.random.default_rng(0)

    class Random:
        def get_action(self, obs, deterministic=True):
            return rng.uniform(-1, 1, 2)

    chance = evaluate_policy(Random(), env, 100, seed=2_000_000)
    assert result["mean_return"] > -5.3 and result["success_rate"] >= 0.15, (result, time.perf_counter() - t0)
    assert chance["mean_return"] < -7.0


@pytest.mark.slow
def test_the_default_encoder_locates_the_object_in_grasp_env_depth_images() -> None:
    """A cheap encoder still resolves the object: the default encoder + a Linear head, trained briefly on 800 wrist
    depth frames of seeded resets (a noise-free camera), regresses the object's x, y offset from the hand on 200
    held-out frames far better than predicting the mean. bench/encoder_probe.py is the full comparison."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import encoder_probe

    torch.set_num_threads(1)
    images, offsets = encoder_probe.frames(1000, seed=0, camera_noise=0.0)
    r = encoder_probe.fit(SACConfig().encoder, images, offsets, n_train=800, steps=600)
    assert r["median_cm"] < 0.6 * r["mean_predictor_median_cm"], r
    assert r["rms_cm"] < 0.75 * r["mean_predictor_rms_cm"], r
