"""SAC update speed at batch 256, hidden 256, one thread, against the FLOP roofline of this CPU.

    python bench/sac_speed.py                 # ~1.5-3 min; writes bench/results/sac_speed.json
    python bench/sac_speed.py --rounds 3      # quicker, noisier
    python bench/sac_speed.py --compile       # also the torch.compile variant (compiles for 15-60 s)

It measures updates/s of several variants of the update, from the straightforward one to the package's
`SACTrainer.update`, and the peak: a plain fp32 ``torch.mm`` of (256 x 256) @ (256 x 256) -- the shape of the
hidden layers at batch 256 -- on one thread, operands hot in cache. This machine is shared and its speed drifts
within seconds, so each variant's updates are timed in chunks of 5 interleaved with chunks of the reference
product (`paired_rate`), and its fraction of peak in a round is its rate over the matmul rate measured alongside
it; rounds go through all variants in turn, and the tables give medians over rounds.

FLOPs are counted analytically from the layer shapes, 2 per multiply-add. Per sample, a policy forward is
``P = s*h + h*h + 2*h*a`` and a Q forward ``Q = (s+a)*h + h*h + h``. The nominal count of one update takes
backward as 2x forward: target (P + 2Q), critic step (2 x 3Q), actor step (3P + 2 x 3Q): ``4P + 14Q``; with
s=33, a=5, h=256, batch 256 that is 0.70 GFLOP. The package's actor step asks autograd for the policy's gradients
only, so the critics' weight gradients are never computed there: it executes ``4P + 12Q`` (0.62 GFLOP).
The package's fused update (I) executes less again, ``2P + 8Q + 6h^2 + 4h + 6ah + sh`` (0.60 GFLOP): one policy
forward on [s'; s], no input gradients nobody reads. "fraction of peak" = nominal FLOPs x updates/s / peak, the
same work unit for every variant (the executed work, reported too, is lower).

Results, 2026-11-23 (second session), on the 2-core dev VM as it was that day: AMD EPYC (Zen 4, AVX-512),
torch 2.13.0+cpu, 15 rounds of 40 updates per variant, medians (`bench/results/sac_speed.json`). Matmul peak 96.9
GFLOP/s (median of all readings) -> nominal roofline 139 updates/s. This is the kind of machine the issue's
figures describe (a straightforward update ~75/s, a peak near 90 GFLOP/s).

| variant                                                                     | upd/s | % of peak (nominal) |
|-----------------------------------------------------------------------------|-------|---------------------|
| A straightforward: nn.Sequential critics, for-loop Adam, full actor         |  60.9 | 45.0                |
|   backward, policy re-forward for the alpha loss, Python-loop Polyak        |       |                     |
| B + fused Adam (for-loop Adam costs ~0.7 ms of Python per step here)        |  69.0 | 49.1                |
| C + actor backward into the policy only (``backward(inputs=...)``)          |  77.3 | 56.1                |
| D + in-place ReLU, alpha loss on the actor's log-prob, ``_foreach_lerp_``   |  77.7 | 58.9                |
| E the package's autograd update (``fused_update=False``; D + replay         |  82.5 | 60.6                |
|   sampling + stats dict)                                                    |       |                     |
| F D + twin critics stacked in one module (bmm; both Q(s, pi) in one pass)   |  76.4 | 56.6                |
| I the package's default update, sac/fused.py: hand-written gradients into   | 104.1 | 75.7                |
|   preallocated buffers, one policy forward on [s'; s], thin products in     |       |                     |
|   their fast layouts, Adam's kernel called directly (``sac.optim``)         |       |                     |
| G I with glibc malloc tuned (MALLOC_MMAP_THRESHOLD_ etc., subprocess)       | 104.0 | 74.0                |
| H D with torch.compile (inductor) of both losses (``--compile``; a busier  |  49.8 | 36.4                |
|   3-round run on 2026-11-22, Intel VM, in which E gave 45.0 upd/s, 36.1%)  |       |                     |

Per round, I ranged 60-81% (E 47-68%); the spread is the machine's. The target, at least 70% of the peak, is met
on this machine. The same VM has also run on a much faster Intel Xeon host (2026-11-22 and the first session of
2026-11-23: peak 123-194 GFLOP/s), where the fixed per-call costs weigh twice as much against the matrix products:
there the previous fused update reached 58-60% and E 46-48% (`git show 0db1f07:bench/sac_speed.py`), and this
version has not been measured (that host was not available again).

The fused update's history, measured A/B in one session by `python bench/update_ab.py --base 0db1f07` (alternating
child processes, base then current; see `bench/results/update_ab.json`):
the version of commit 0db1f07 (buffers, one policy forward, direct Adam kernel) 73.8% of peak (24 readings,
65-78%), this one 79.4% (75-86%), ahead in each of the 8 pairs: 1.08x. (A 6-pair run of a prototype script gave
74.0% vs 76.1%.) What
this version adds, each measured alone at these shapes (`torch.mm`, one thread, median of 7 x 300 calls):

- ``dL/da`` = ``dh1 @ W1[:, s:]`` -- (256 x 256) @ (256 x 5) with a strided right operand -- takes ~109 us; its
  transpose ``W1[:, s:].T @ dh1.T``, (5 x 256) @ (256 x 256), ~21 us. Twice per update.
- the two policy heads, each (512 x 256) @ (256 x 5) at ~58 us, as one transposed product (10 x 256) @
  (256 x 512) at ~55 us; the elementwise chain after it then runs on contiguous (5, 512) rows.
- first-layer weight gradients, ``dh1.T @ x`` into (256, 38) at ~106 us, as ``x.T @ dh1`` into (38, 256) plus
  a transposed copy at ~85 us. Three per update.
- the 12 statistics for logging: 11 separate means and a stack (~5 us each) -> rows of one (8, batch) buffer
  written by the operations that compute them, one ``mean`` and one ``tolist``; alpha as a Python float.
- Adam's step counters: ``_foreach_add_`` over 21 0-d tensors (~14 us per optimizer, each a dispatch) -> one
  ``add_`` on the tensor they are views of (`PreparedAdam`, ~3 us).

What is left (profile, one update ~9.6 ms at peak 100): the matrix products take ~7.3 ms, of which the 16
(256 x 256 x 256)-sized ones run at 85-95% of peak in place (their operands come from L3; ~340 us hot, 350-410 us
in the update); the rest, ~2.3 ms, is Python and dispatch (~0.9 ms: a batch-8, hidden-8 update takes that long),
the two Adam steps and Polyak (~0.45 ms) and ~60 small elementwise kernels. The last two have no eager fusion left
to use; removing the Python would need a compiled kernel (see H).

Findings from earlier sessions (Intel VM, where the absolute rates are higher):
- Why the autograd update stalls (measured 2026-11-22, peak 123): per-op overhead on this VM. A tiny update
  (batch 16, hidden 16) still takes 4.7 ms (Python, dispatcher, autograd engine, three optimizer calls); batch
  16 at hidden 256 takes 6.8 ms; the update's matmuls alone at peak take 5.7 ms. So even with perfect matmuls
  eager autograd tops out near 10.4 ms, ~96 updates/s, ~55% of peak there. Each fresh 256x256 activation also
  costs ~100-180 us to write (cache-cold memory; the biased ``addmm`` copies its bias into a fresh output,
  ``threshold_backward`` allocates one), against ~15 us in place: what the fused update avoids.
- F (stacked twin Q) was faster than E in every one of 9 rounds on 2026-11-22, by ~5%, and not on 2026-11-23
  (122.8 vs 124.7; on the AMD host 76.4 vs 82.5); not adopted, because it would replace the contract's
  ``soft_q_net1/2`` modules.
- G: no gain on the AMD host (104.0 vs I's 104.1 upd/s) nor on 2026-11-22 (71.2 vs 71.5); one Intel run had 165.0
  vs 150.4, with G measured after the interleaved rounds in its own process. At steady state the update makes no
  page faults anyway (glibc's dynamic mmap threshold adapts). Not adopted.
- H: compiling takes 15-55 s per process (each Hogwild worker would pay it), and the compiled update was not
  reliably faster: +10% over E in a 3-round bench run, but slower in a prototype (29-34 updates/s compiled,
  default and max-autotune-no-cudagraphs modes, vs 44 eager). Not adopted.
- Also tried in prototypes, no measurable gain: ``zero_grad(set_to_none=False)`` (64.4 vs 66.7 updates/s),
  ``mm`` + in-place bias add instead of ``addmm`` (39.6 vs 39.5, a busy moment), a hand-written autograd
  Function for the whole MLP with in-place ReLU backward (42.5 vs 44.0).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sac import ReplayBuffer, SACConfig, SACTrainer  # noqa: E402
from sac.networks import GaussianPolicy  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sac_speed.json"
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "67108864",
    "MALLOC_TRIM_THRESHOLD_": "134217728",
    "MALLOC_TOP_PAD_": "67108864",
}


# -- FLOP count ------------------------------------------------------------------------------------------------


def update_flops(state_dim: int, action_dim: int, hidden: int, batch: int) -> dict[str, float]:
    """Analytic FLOPs (2 per multiply-add) of one SAC update: nominal (backward = 2x forward everywhere), executed
    by the autograd updates (the actor step skips the critics' weight gradients) and by the package's fused update
    (sac/fused.py: also no input gradients where nothing reads them)."""
    s, a, h = state_dim, action_dim, hidden
    p = s * h + h * h + 2 * h * a  # policy forward (mean and log_std heads)
    q = (s + a) * h + h * h + h  # one critic forward
    nominal = (p + 2 * q) + 2 * 3 * q + (3 * p + 2 * 3 * q)
    executed = (p + 2 * q) + 2 * 3 * q + (3 * p + 2 * 2 * q)
    # policy forward on [s'; s]; 6 critic forwards; critic backward without the input gradient; actor-step critic
    # backward to the action only; policy backward without the input gradient
    fused = 2 * p + 6 * q + 2 * (q + h * h + h) + 2 * (h + h * h + a * h) + (4 * a * h + 2 * h * h + s * h)
    return {"nominal": 2.0 * nominal * batch, "executed": 2.0 * executed * batch, "executed_fused": 2.0 * fused * batch}


# -- variants ----------------------------------------------------------------------------------------------------


def random_buffer(state_dim: int, action_dim: int, n: int = 10_000) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(n, state_dim, action_dim, seed=0)
    buf.push_many(
        rng.normal(size=(n, state_dim)),
        rng.uniform(-1, 1, (n, action_dim)),
        rng.normal(size=n),
        rng.normal(size=(n, state_dim)),
        rng.random(n) < 0.02,
    )
    return buf


class PlainQ(nn.Module):
    """Q(s, a) as CleanRL writes it: nn.Sequential, ReLU not in place."""

    def __init__(self, s: int, a: int, h: int, inplace: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(s + a, h), nn.ReLU(inplace), nn.Linear(h, h), nn.ReLU(inplace), nn.Linear(h, 1)
        )

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([state, action], -1)).squeeze(-1)


class StackedTwinQ(nn.Module):
    """Both critics in one module: layer 1 as one (in, 2h) matmul, layers 2-3 as batched matmuls (bmm)."""

    def __init__(self, s: int, a: int, h: int) -> None:
        super().__init__()
        self.h = h
        bound1, bound2 = 1 / (s + a) ** 0.5, 1 / h**0.5
        self.w1 = nn.Parameter(torch.empty(s + a, 2 * h).uniform_(-bound1, bound1))
        self.b1 = nn.Parameter(torch.empty(2 * h).uniform_(-bound1, bound1))
        self.w2 = nn.Parameter(torch.empty(2, h, h).uniform_(-bound2, bound2))
        self.b2 = nn.Parameter(torch.empty(2, 1, h).uniform_(-bound2, bound2))
        self.w3 = nn.Parameter(torch.empty(2, h, 1).uniform_(-bound2, bound2))
        self.b3 = nn.Parameter(torch.empty(2, 1, 1).uniform_(-bound2, bound2))

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.addmm(self.b1, torch.cat([state, action], -1), self.w1).relu_()
        x = x.view(-1, 2, self.h).transpose(0, 1)
        x = torch.baddbmm(self.b2, x, self.w2).relu_()
        return torch.baddbmm(self.b3, x, self.w3).squeeze(-1)  # (2, batch)


def make_manual_update(
    state_dim: int,
    action_dim: int,
    hidden: int,
    batch: int,
    *,
    fused: bool,
    prune_actor_backward: bool,
    lean: bool,
    stacked: bool = False,
    compile_losses: bool = False,
) -> Callable[[], None]:
    """A self-contained update with the knobs the table lists (same math as `SACTrainer.update`)."""
    torch.manual_seed(0)
    buf = random_buffer(state_dim, action_dim)
    policy = GaussianPolicy(state_dim, action_dim, hidden)
    if stacked:
        twin = StackedTwinQ(state_dim, action_dim, hidden)
        twin_target = copy.deepcopy(twin).requires_grad_(False)
        q_params, target_params = list(twin.parameters()), list(twin_target.parameters())

        def q_both(s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return twin(s, a)

        def q_target_both(s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return twin_target(s, a)
    else:
        q1, q2 = PlainQ(state_dim, action_dim, hidden, lean), PlainQ(state_dim, action_dim, hidden, lean)
        t1, t2 = copy.deepcopy(q1).requires_grad_(False), copy.deepcopy(q2).requires_grad_(False)
        q_params = [*q1.parameters(), *q2.parameters()]
        target_params = [*t1.parameters(), *t2.parameters()]

        def q_both(s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return torch.stack([q1(s, a), q2(s, a)])

        def q_target_both(s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return torch.stack([t1(s, a), t2(s, a)])

    log_alpha = torch.zeros(1, requires_grad=True)
    kw = {"fused": True} if fused else {}
    q_opt = torch.optim.Adam(q_params, lr=3e-4, **kw)
    pi_opt = torch.optim.Adam(policy.parameters(), lr=3e-4, **kw)
    a_opt = torch.optim.Adam([log_alpha], lr=3e-4, **kw)
    policy_params = list(policy.parameters())
    target_entropy = -float(action_dim)

    def critic_loss(s, a, r, s2, d, alpha):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            a2, logp2, _ = policy.evaluate(s2)
            y = r + 0.99 * (1 - d) * (q_target_both(s2, a2).min(0).values - alpha * logp2)
        q = q_both(s, a)
        return F.mse_loss(q[0], y) + F.mse_loss(q[1], y)

    def actor_loss(s, alpha):  # type: ignore[no-untyped-def]
        pi, logp, _ = policy.evaluate(s)
        return (alpha * logp - q_both(s, pi).min(0).values).mean(), logp

    if compile_losses:
        critic_loss = torch.compile(critic_loss)
        actor_loss = torch.compile(actor_loss)

    def update() -> None:
        s, a, r, s2, d = (torch.from_numpy(x) for x in buf.sample(batch))
        alpha = log_alpha.detach().exp()
        qf_loss = critic_loss(s, a, r, s2, d, alpha)
        q_opt.zero_grad()
        qf_loss.backward()
        q_opt.step()
        policy_loss, logp = actor_loss(s, alpha)
        pi_opt.zero_grad()
        if prune_actor_backward:
            policy_loss.backward(inputs=policy_params)
        else:
            policy_loss.backward()
        pi_opt.step()
        if not lean:  # CleanRL re-samples log pi for the temperature loss
            with torch.no_grad():
                _, logp, _ = policy.evaluate(s)
        alpha_loss = -(log_alpha * (logp.detach() + target_entropy)).mean()
        a_opt.zero_grad()
        alpha_loss.backward()
        a_opt.step()
        with torch.no_grad():
            if lean:
                torch._foreach_lerp_(target_params, q_params, 0.005)
            else:
                for tp, p in zip(target_params, q_params):
                    tp.mul_(0.995).add_(p, alpha=0.005)

    return update


def make_package_update(
    state_dim: int, action_dim: int, hidden: int, batch: int, fused: bool = True, **config: Any
) -> Callable[[], None]:
    """`SACTrainer.update` on a random buffer; ``config``: further `SACConfig` fields (e.g. critic_layer_norm)."""
    torch.manual_seed(0)
    cfg = SACConfig(hidden_dim=hidden, batch_size=batch, fused_update=fused, **config)
    trainer = SACTrainer(state_dim, action_dim, cfg, random_buffer(state_dim, action_dim))

    def update() -> None:
        trainer.update()

    return update


# -- measurement -------------------------------------------------------------------------------------------------


class _Matmul:
    """The peak's reference product, (256 x 256) @ (256 x 256), with its operands allocated once."""

    def __init__(self, n: int = 256) -> None:
        self.n = n
        self.a, self.b, self.out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)

    def __call__(self, reps: int) -> float:
        """Seconds for ``reps`` products (after one warm-up product)."""
        torch.mm(self.a, self.b, out=self.out)
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(self.a, self.b, out=self.out)
        return time.perf_counter() - t


def paired_rate(update: Callable[[], None], n: int, chunk: int = 5, mm_reps: int = 60) -> tuple[float, float]:
    """``(updates/s, matmul GFLOP/s)`` measured interleaved: ``chunk`` updates, then ``mm_reps`` reference
    products, repeated until ``n`` updates are timed. The machine is shared and its speed drifts within seconds; the
    two rates then see the same moments, and their ratio is steadier than the ratio of a peak measured once per
    round to a rate measured later in it."""
    mm = _MATMUL
    for _ in range(3):
        update()
    t_upd = t_mm = 0.0
    done = products = 0
    while done < n:
        k = min(chunk, n - done)
        t = time.perf_counter()
        for _ in range(k):
            update()
        t_upd += time.perf_counter() - t
        t_mm += mm(mm_reps)
        done, products = done + k, products + mm_reps
    return n / t_upd, 2.0 * mm.n**3 * products / t_mm / 1e9


_MATMUL = _Matmul()


def package_only_subprocess(args: argparse.Namespace, env_extra: dict[str, str]) -> dict[str, list[float]]:
    """Run this script with only the package update and the peak, in a child with ``env_extra`` set."""
    cmd = [sys.executable, __file__, "--package-only", "--rounds", str(args.rounds), "--updates", str(args.updates)]
    cmd += ["--state-dim", str(args.state_dim), "--action-dim", str(args.action_dim)]
    out = subprocess.run(cmd, env={**os.environ, **env_extra}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--state-dim", type=int, default=33, help="observation size (33: GraspEnv's until 2026-11-30, 29 since)"
    )
    ap.add_argument("--action-dim", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds; medians are reported")
    ap.add_argument("--updates", type=int, default=40, help="updates timed per variant per round")
    ap.add_argument("--compile", action="store_true", help="include the torch.compile variant (slow to build)")
    ap.add_argument("--package-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dims = (args.state_dim, args.action_dim, args.hidden, args.batch)

    if args.package_only:
        upd = make_package_update(*dims)
        peaks, rates = [], []
        for _ in range(args.rounds):
            r, pk = paired_rate(upd, args.updates)
            rates.append(r)
            peaks.append(pk)
        print(json.dumps({"peak": peaks, "rate": rates}))
        return

    variants: dict[str, Callable[[], None]] = {
        "A_straightforward": make_manual_update(*dims, fused=False, prune_actor_backward=False, lean=False),
        "B_fused_adam": make_manual_update(*dims, fused=True, prune_actor_backward=False, lean=False),
        "C_actor_backward_policy_only": make_manual_update(*dims, fused=True, prune_actor_backward=True, lean=False),
        "D_inplace_relu_reuse_logpi_foreach_polyak": make_manual_update(
            *dims, fused=True, prune_actor_backward=True, lean=True
        ),
        "E_package_autograd_update": make_package_update(*dims, fused=False),
        "F_stacked_twin_q_bmm": make_manual_update(
            *dims, fused=True, prune_actor_backward=True, lean=True, stacked=True
        ),
        "I_package_fused_update": make_package_update(*dims),
    }
    if args.compile:
        t = time.perf_counter()
        upd = make_manual_update(*dims, fused=True, prune_actor_backward=True, lean=True, compile_losses=True)
        for _ in range(3):
            upd()
        print(f"torch.compile warm-up {time.perf_counter() - t:.1f} s", flush=True)
        variants["H_torch_compile_losses"] = upd

    flops = update_flops(*dims)
    rates: dict[str, list[float]] = {k: [] for k in variants}
    peaks: dict[str, list[float]] = {k: [] for k in variants}  # the matmul rate measured alongside each variant
    for r in range(args.rounds):
        for name, upd in variants.items():
            x, pk = paired_rate(upd, args.updates)
            rates[name].append(x)
            peaks[name].append(pk)
        print(
            f"round {r + 1}/{args.rounds}: "
            + ", ".join(f"{k.split('_')[0]} {v[-1]:.1f} ({peaks[k][-1]:.0f})" for k, v in rates.items())
            + " upd/s (matmul GFLOP/s)",
            flush=True,
        )

    print("malloc-tuned package update in a subprocess ...", flush=True)
    tuned = package_only_subprocess(args, MALLOC_ENV)

    def summary(name: str, rs: list[float], pk: list[float]) -> dict[str, float]:
        per_round = [flops["nominal"] * x / (p * 1e9) for x, p in zip(rs, pk)]
        executed = flops["executed_fused" if name.startswith(("I_", "G_")) else "executed"]
        return {
            "updates_per_s": statistics.median(rs),
            "fraction_of_peak_nominal": statistics.median(per_round),
            "fraction_of_peak_executed": statistics.median([executed * x / (p * 1e9) for x, p in zip(rs, pk)]),
            "updates_per_s_all_rounds": [round(x, 2) for x in rs],
            "matmul_gflops_all_rounds": [round(p, 1) for p in pk],
        }

    table = {name: summary(name, rs, peaks[name]) for name, rs in rates.items()}
    table["G_package_malloc_tuned"] = summary("G_package_malloc_tuned", tuned["rate"], tuned["peak"])
    all_peaks = [p for pk in peaks.values() for p in pk]
    peak = statistics.median(all_peaks)
    print(f"\nbatch {args.batch}, hidden {args.hidden}, state {args.state_dim}, action {args.action_dim}, 1 thread")
    print(
        f"FLOPs/update: nominal {flops['nominal'] / 1e9:.3f} G, executed {flops['executed'] / 1e9:.3f} G "
        f"(autograd variants), {flops['executed_fused'] / 1e9:.3f} G (fused: I, G)"
    )
    print(
        f"matmul peak (256^3 fp32, median over all variants and rounds): {peak:.1f} GFLOP/s -> roofline "
        f"{peak * 1e9 / flops['nominal']:.0f} updates/s (nominal)"
    )
    for name, row in table.items():
        print(
            f"{name:45s} {row['updates_per_s']:6.1f} upd/s   {100 * row['fraction_of_peak_nominal']:5.1f}% of peak "
            f"(executed work {100 * row['fraction_of_peak_executed']:5.1f}%)"
        )
    result = {
        "settings": {
            "batch": args.batch,
            "hidden": args.hidden,
            "state_dim": args.state_dim,
            "action_dim": args.action_dim,
            "threads": torch.get_num_threads(),
            "rounds": args.rounds,
            "updates_per_round": args.updates,
        },
        "machine": {"cpu": _cpu_name(), "torch": torch.__version__, "python": platform.python_version()},
        "flops_per_update": flops,
        "matmul_peak_gflops_median": peak,
        "fraction_of_peak": "median over rounds of nominal FLOPs x updates/s / the matmul rate measured interleaved "
        "with that variant in that round",
        "malloc_tuned_peak_gflops_median": statistics.median(tuned["peak"]),
        "variants": table,
        "headline": {
            "updates_per_s": table["I_package_fused_update"]["updates_per_s"],
            "fraction_of_peak": table["I_package_fused_update"]["fraction_of_peak_nominal"],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
