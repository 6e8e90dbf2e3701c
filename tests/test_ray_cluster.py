"""``--backend ray`` across node boundaries, on a multi-node cluster simulated on this machine with Ray's own
``ray.cluster_utils.Cluster``: a head node (1 CPU) that offers the custom resource ``learner`` and worker nodes
(1 CPU each) that offer ``actor``. Placement by custom resources, a run that trains, checkpoints and evaluates with
its actors on other nodes, and the loss of a node that holds actors: they come back on a node with room, or the run
stops with one line and its checkpoint whole. Runs join the cluster in this process (``--ray-address``) and leave
it running; the module's fixture shuts it down and checks that no Ray process is left.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ray import _descendants, _table
from test_train import _alive, _flags, _wait_for

import train
from sac.run.ray import prepare_client_auth

prepare_client_auth()  # before `import ray`, as in test_ray.py
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray", reason="Ray not installed (pip install -e '.[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

WORKER_NODES = 2
pytestmark = pytest.mark.slow


def _ray_children() -> set[int]:
    """Processes below this one whose command line names Ray (raylet, gcs_server, workers, agents)."""
    found = set()
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ray" in cmdline and _alive(pid):
            found.add(pid)
    return found


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The head node: the only node with the ``learner`` resource (where a GPU node's learner would go)."""
    before = _ray_children()
    head = {"num_cpus": 1, "resources": {"learner": 1}, "include_dashboard": False}
    c = Cluster(initialize_head=True, head_node_args=head)
    try:
        yield c
    finally:
        if ray.is_initialized():  # the runs joined the cluster from this process and left it running
            ray.shutdown()
        c.shutdown()
        _wait_for(lambda: not (_ray_children() - before), 60, "every process of the simulated cluster to exit")


@pytest.fixture
def nodes(cluster: Cluster) -> Cluster:
    """The cluster with ``WORKER_NODES`` worker nodes offering ``actor`` (a test that removed one gets it back)."""
    while len(cluster.worker_nodes) < WORKER_NODES:
        cluster.add_node(num_cpus=1, resources={"actor": 1})
    cluster.wait_for_nodes()
    return cluster


def _cluster_flags(address: str, **overrides: str) -> list[str]:
    placement = ["--ray-learner-resources", "learner=1", "--ray-actor-resources", "actor=1"]
    return ["--backend", "ray", "--ray-address", address, *placement, *_flags(**overrides)]


def _alive_nodes() -> dict[str, dict[str, float]]:
    """Node id -> resources of every live node, as the cluster reports them."""
    return {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}


def _named(name: str) -> bool:
    """Whether an actor of that name is registered in this driver's namespace."""
    try:
        ray.get_actor(name)
    except ValueError:
        return False
    return True


def _placement(run_dir: Path) -> dict[str, str]:
    return _table(run_dir).get("nodes", {})


class NodeRemover(threading.Thread):
    """Removes the node hosting ``role`` once the run has written its first checkpoint (the run goes on)."""

    def __init__(self, cluster: Cluster, run_dir: Path, role: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.run_dir, self.role = cluster, run_dir, role
        self.removed: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _wait_for(
                lambda: (self.run_dir / "latest.pt").exists() and self.role in _placement(self.run_dir),
                300,
                f"a first checkpoint and the node of {self.role}",
            )
            target = _placement(self.run_dir)[self.role]
            node = next(n for n in self.cluster.worker_nodes if n.node_id == target)
            self.cluster.remove_node(node)
            self.removed = target
        except BaseException as exc:  # re-raised by the test
            self.error = exc


def test_placement_keeps_the_learner_apart_and_the_run_trains(nodes: Cluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "placed"
    flags = _cluster_flags(nodes.address, total_steps="300", workers="2")
    assert train.main([*flags, "--ray-actor-spread", "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["env_steps"] >= 300 and summary["updates"] > 0
    assert summary["last_eval"] is not None and (run_dir / "eval.jsonl").read_text().strip()
    from sac import SACTrainer

    assert SACTrainer.load(str(run_dir / "latest.pt")).loaded_extra["env_steps"] >= 300
    placed, alive = _placement(run_dir), _alive_nodes()
    assert placed["learner"] == nodes.head_node.node_id and "learner" in alive[placed["learner"]]
    actor_nodes = [placed[f"actor-{i}"] for i in range(2)]
    assert placed["learner"] not in actor_nodes
    assert all("actor" in alive[n] for n in actor_nodes), (actor_nodes, alive)
    assert len(set(actor_nodes)) == 2  # spread: one actor per worker node
    names = [_table(run_dir)[role] for role in ("learner", "actor-0", "actor-1")]
    _wait_for(lambda: not any(_named(n) for n in names), 30, "the run's actors to leave the cluster")


def test_actors_of_a_lost_node_come_back_on_another_and_the_run_finishes(
    nodes: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "lost"
    remover = NodeRemover(nodes, run_dir, "actor-0")
    remover.start()
    flags = _cluster_flags(nodes.address, total_steps="1000", workers="1", checkpoint_every="150")
    code = train.main([*flags, "--run-dir", str(run_dir)])
    remover.join(timeout=10)
    out = capsys.readouterr().out
    assert remover.error is None, remover.error
    assert remover.removed is not None, "the run ended before its actor's node was removed"
    assert code == 0, out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["env_steps"] >= 1000
    assert "ray actor 0 died" in out and "ray actor 0 back on node" in out, out
    now = _placement(run_dir)["actor-0"]
    assert now != remover.removed and now in _alive_nodes() and now != _placement(run_dir)["learner"]


def test_a_lost_node_whose_actors_find_no_room_stops_the_run_with_the_checkpoint_whole(
    nodes: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "no-room"
    remover = NodeRemover(nodes, run_dir, "actor-1")
    remover.start()
    flags = _cluster_flags(nodes.address, total_steps="10000000", workers="2", checkpoint_every="150")
    t0 = time.monotonic()
    code = train.main([*flags, "--ray-placement-timeout", "15", "--run-dir", str(run_dir)])
    remover.join(timeout=10)
    captured = capsys.readouterr()
    assert remover.error is None, remover.error
    assert remover.removed is not None
    assert code == 1, captured.out + captured.err
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "ray actor 1 was not running after --ray-placement-timeout 15 s" in err[0], err
    assert "actor=1" in err[0]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"
    from sac import SACTrainer

    trainer = SACTrainer.load(str(run_dir / "latest.pt"))  # whole and loadable, written after the stop
    assert trainer.loaded_extra["env_steps"] > 0
    assert time.monotonic() - t0 < 600
