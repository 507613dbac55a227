"""MLP 784-256-256-10 training step, batch 256, float32: littlebook vs PyTorch vs numpy's GEMM.

One step = forward + CrossEntropyLoss + backward + SGD update, written the way ``littlebook.fit`` runs it.
FLOPs are counted from the step's matrix products (2·m·k·n each): forward x Wᵀ for every layer, backward gᵀ x for
every weight gradient and g W for every input gradient except the first layer's (the data needs none; neither
PyTorch nor ``fit`` computes it). Elementwise work (bias, ReLU, softmax, update) is not counted: it is overhead.
"""

from __future__ import annotations

import numpy as np

from littlebook import CrossEntropyLoss, Linear, ReLU, Sequential, train_step
from littlebook.optim import SGD

from .common import floor_verdict, header, interleaved, median, ms, ratio, record, row, torch

SIZES = (784, 256, 256, 10)
BATCH = 256
LR = 0.01
TARGET_TORCH = 0.6  # issue 18: littlebook step time / PyTorch step time, at 2 threads
TARGET_SHARE = 0.8  # issue 18: littlebook's GFLOP/s / numpy's GFLOP/s on the step's own matmuls


def step_matmuls(sizes=SIZES, batch=BATCH) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """(role, shape of A, shape of B) for every matrix product A @ B in one training step."""
    layers = list(zip(sizes[:-1], sizes[1:], strict=True))
    forward = [(f"x{i} W{i}ᵀ", (batch, d_in), (d_in, d_out)) for i, (d_in, d_out) in enumerate(layers)]
    grad_w = [(f"g{i}ᵀ x{i}", (d_out, batch), (batch, d_in)) for i, (d_in, d_out) in enumerate(layers)]
    grad_x = [(f"g{i} W{i}", (batch, d_out), (d_out, d_in)) for i, (d_in, d_out) in enumerate(layers) if i > 0]
    return forward + grad_w + grad_x


def flops(matmuls) -> int:
    return sum(2 * a[0] * a[1] * b[1] for _, a, b in matmuls)


def make_data(rng):
    X = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return X, y


def littlebook_step(X, y):
    layers = []
    for i, (d_in, d_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers += [Linear(d_in, d_out, rng=i), ReLU()]
    model = Sequential(*layers[:-1])
    loss_fn, optimizer = CrossEntropyLoss(), SGD(model.parameters(), lr=LR)

    def step():  # what fit does per batch: the data needs no gradient (input_grad=False)
        return train_step(model, loss_fn, optimizer, X, y)

    return model, step


def torch_step(model_lb, X, y):
    layers = []
    for d_in, d_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [torch.nn.Linear(d_in, d_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    with torch.no_grad():  # start from littlebook's weights, so the two steps can be checked against each other
        for p_t, p_lb in zip(model.parameters(), model_lb.parameters(), strict=True):
            p_t.copy_(torch.from_numpy(p_lb.value))
    loss_fn, optimizer = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        optimizer.step()
        return loss

    return model, step


def numpy_step(X, y):
    """The same step written by hand in numpy, no abstraction: what the Module API must not lose against."""
    rng = np.random.default_rng(0)
    W = [(rng.standard_normal((o, i)) * np.sqrt(2 / i)).astype(np.float32)
         for i, o in zip(SIZES[:-1], SIZES[1:], strict=True)]
    b = [np.zeros(o, np.float32) for o in SIZES[1:]]
    rows, scale = np.arange(BATCH), np.float32(1 / BATCH)

    def step():
        acts = [X]
        for i in range(len(W)):
            z = acts[-1] @ W[i].T
            z += b[i]
            acts.append(np.maximum(z, 0) if i < len(W) - 1 else z)
        z = acts[-1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        g = e / e.sum(axis=1, keepdims=True)
        g[rows, y] -= 1
        g *= scale
        for i in reversed(range(len(W))):
            gW, gb = g.T @ acts[i], g.sum(axis=0)
            if i:
                g = g @ W[i]
                g *= acts[i] > 0
            W[i] -= LR * gW
            b[i] -= LR * gb

    return step


def gemm_cases(matmuls):
    """The step's matrix products, same shapes and memory layouts (transposed views where the step has them)."""
    rng = np.random.default_rng(1)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    pairs = []
    for role, (m, k), (_, n) in matmuls:
        if role.endswith("ᵀ"):  # x Wᵀ: W is stored (out, in)
            pairs.append((rand(m, k), rand(n, k).T))
        elif "ᵀ" in role:  # gᵀ x: g is stored (batch, out)
            pairs.append((rand(k, m).T, rand(k, n)))
        else:
            pairs.append((rand(m, k), rand(k, n)))

    def step_gemms():
        for a, b in pairs:
            a @ b

    a = rng.standard_normal((1024, 1024), dtype=np.float32)

    def square():
        a @ a

    torch_gemms = None
    if torch is not None:  # the same products through PyTorch's BLAS: explains most of the step ratio
        torch_pairs = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in pairs]

        def torch_gemms():
            for a, b in torch_pairs:
                a @ b

    return step_gemms, square, torch_gemms


def run(rounds: int) -> None:
    header(f"MLP {'-'.join(map(str, SIZES))} training step, batch {BATCH}, float32 (forward + cross-entropy + "
           "backward + SGD)")
    rng = np.random.default_rng(0)
    X, y = make_data(rng)
    model_lb, lb = littlebook_step(X, y)
    matmuls = step_matmuls()
    step_flops = flops(matmuls)
    step_gemms, square, torch_gemms = gemm_cases(matmuls)
    cases = {"littlebook": lb, "numpy by hand": numpy_step(X, y), "GEMMs": step_gemms, "square": square}
    if torch is not None:
        model_t, t_step = torch_step(model_lb, X, y)
        loss_lb, loss_t = float(lb()), t_step().item()  # one step each from the same weights: same loss?
        same = abs(loss_lb - loss_t) < 1e-4 * max(1.0, abs(loss_t))
        cases["torch"] = t_step
        cases["torch GEMMs"] = torch_gemms
    t = interleaved(cases, rounds=rounds)

    lb_s = median(t["littlebook"])
    if torch is not None:
        r = ratio(t["littlebook"], t["torch"])
        print(row("littlebook step vs PyTorch", ms(lb_s), ms(median(t["torch"])), f"{r:.2f}×", f"≤ {TARGET_TORCH}×",
                  record("MLP 784-256-256-10 step / PyTorch", f"{r:.2f}×", f"≤ {TARGET_TORCH}×",
                         r <= TARGET_TORCH, number=r, limit=TARGET_TORCH)))
        print(row("  (same first-step loss as PyTorch)", f"{loss_lb:.5f}", f"{loss_t:.5f}", "", "",
                  "ok" if same else "MISMATCH"))
    else:
        print(row("littlebook step", ms(lb_s), "torch missing"))
        record("MLP 784-256-256-10 step / PyTorch", "torch missing", f"≤ {TARGET_TORCH}×", None)
    r_np = ratio(t["numpy by hand"], t["torch"]) if torch is not None else float("nan")
    print(row("numpy step written by hand (reference)", ms(median(t["numpy by hand"])),
              ms(median(t["torch"])) if torch is not None else "torch missing",
              f"{r_np:.2f}×" if torch is not None else ""))
    print(row("littlebook vs numpy by hand", ms(lb_s), ms(median(t["numpy by hand"])),
              f"{ratio(t['littlebook'], t['numpy by hand']):.2f}×"))

    gemm_s = median(t["GEMMs"])
    peak = step_flops / gemm_s / 1e9
    achieved = step_flops / lb_s / 1e9
    share = ratio(t["GEMMs"], t["littlebook"])  # = achieved / peak, per round
    print(row(f"step's {len(matmuls)} matmuls ({step_flops / 1e6:.1f} MFLOP) in numpy", f"{achieved:.1f} GF/s",
              f"{peak:.1f} GF/s", f"{share:.0%}", f"≥ {TARGET_SHARE:.0%}",
              record("MLP step: share of numpy GEMM throughput", f"{share:.0%}", f"≥ {TARGET_SHARE:.0%}",
                     share >= TARGET_SHARE, number=share, limit=TARGET_SHARE, higher=True, fmt="{:.1%}")))
    hand_share = ratio(t["GEMMs"], t["numpy by hand"])  # what the step written by hand reaches, for comparison
    print(row("  the numpy step by hand: its share", f"{step_flops / median(t['numpy by hand']) / 1e9:.1f} GF/s",
              f"{peak:.1f} GF/s", f"{hand_share:.0%}", "", "no abstraction: bias, ReLU, softmax, update in numpy"))
    if torch is not None:
        floor = ratio(t["GEMMs"], t["torch"])  # no numpy step can take less time than its own matmuls
        print(row("  floor: those matmuls alone / PyTorch step", ms(gemm_s), ms(median(t["torch"])), f"{floor:.2f}×",
                  f"≤ {TARGET_TORCH}×", floor_verdict(floor, TARGET_TORCH)))
        print(row("  the same matmuls: numpy vs PyTorch", f"{peak:.1f} GF/s",
                  f"{step_flops / median(t['torch GEMMs']) / 1e9:.1f} GF/s",
                  f"{ratio(t['GEMMs'], t['torch GEMMs']):.2f}×"))
    print(row("  numpy GEMM 1024×1024×1024 (for scale)", "", f"{2 * 1024**3 / median(t['square']) / 1e9:.1f} GF/s"))
    print("  matmuls counted: " + ", ".join(f"{role} {a[0]}×{a[1]}·{b[0]}×{b[1]}" for role, a, b in matmuls))
