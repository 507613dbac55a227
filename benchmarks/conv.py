"""Convolution-side layers, forward + backward, float32: littlebook vs PyTorch.

Each case is zero_grad + forward + backward with a fixed upstream gradient, the input gradient included
(a conv layer inside a network needs it; PyTorch computes it because the input has requires_grad=True).
"""

from __future__ import annotations

import numpy as np

from .common import floor_verdict, header, interleaved, median, ms, ratio, record, row, torch

BATCH, SIZE = 64, 28


def layers():
    """{name: (littlebook layer, torch layer or None, input shape, target ratio or None)}; None if not available."""
    try:
        from littlebook.conv import Conv2d, MaxPool2d
        from littlebook.norm import BatchNorm2d
    except ImportError:
        return None
    out = {}
    for c_in, c_out, target in ((1, 16, 0.6), (16, 32, 1.0)):  # issue 18's targets, at 2 threads
        lb = Conv2d(c_in, c_out, 3, padding=1, rng=0)
        tl = None
        if torch is not None:
            tl = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
            with torch.no_grad():
                tl.weight.copy_(torch.from_numpy(lb.weight.value))
                tl.bias.copy_(torch.from_numpy(lb.bias.value))
        out[f"Conv2d {c_in}→{c_out}, 3×3, padding 1"] = (lb, tl, (BATCH, c_in, SIZE, SIZE), target)
    out["MaxPool2d(2) on 16 channels"] = (MaxPool2d(2), torch.nn.MaxPool2d(2) if torch is not None else None,
                                          (BATCH, 16, SIZE, SIZE), None)
    out["BatchNorm2d(16), training mode"] = (BatchNorm2d(16), torch.nn.BatchNorm2d(16) if torch is not None else None,
                                             (BATCH, 16, SIZE, SIZE), 1.5)
    return out


def cases_for(lb, tl, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(lb(x).shape, dtype=np.float32)

    def lb_step():
        lb.zero_grad()
        lb(x)
        return lb.backward(g)

    cases = {"littlebook": lb_step}
    if tl is not None:
        xt, gt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g)

        def torch_step():
            xt.grad = None
            tl.zero_grad()
            tl(xt).backward(gt)
            return xt.grad

        # Same input gradient from both? (checks that the two cases compute the same thing)
        same = np.allclose(lb_step(), torch_step().numpy(), rtol=1e-3, atol=1e-4)
        cases["torch"] = torch_step
        if hasattr(lb, "kernel_size") and hasattr(lb, "in_channels"):
            cases["GEMMs"] = conv_gemms(lb, shape)
        return cases, same
    return cases, None


def conv_gemms(conv, shape):
    """The three matrix products of littlebook's Conv2d step alone, same shapes and memory layouts (stride 1):
    forward W_mat @ cols, weight gradient cols @ Gᵀ, input gradient W_matᵀ @ G on the padded grid."""
    rng = np.random.default_rng(2)
    n, c_in, h, w = shape
    _, c_out, ho, wo = conv.output_shape(shape)
    k, (lo, hi) = conv.kernel_size, conv._pad
    positions = n * ho * wo
    w_mat = rng.standard_normal((c_out, c_in * k * k), dtype=np.float32)
    cols = rng.standard_normal((c_in * k * k, positions), dtype=np.float32)
    g = rng.standard_normal((c_out, positions), dtype=np.float32)
    g_pad = rng.standard_normal((c_out, n * (h + lo + hi) * (w + lo + hi)), dtype=np.float32)

    def gemms():
        w_mat @ cols
        cols @ g.T
        w_mat.T @ g_pad

    return gemms


def run(rounds: int) -> None:
    header(f"Convolution-side layers, forward + backward, batch {BATCH}, {SIZE}×{SIZE}, float32")
    table = layers()
    if table is None:
        print(row("littlebook.conv / littlebook.norm", "not available yet"))
        return
    for name, (lb, tl, shape, target) in table.items():
        cases, same = cases_for(lb, tl, shape)
        t = interleaved(cases, rounds=rounds)
        if tl is None:
            print(row(name, ms(median(t["littlebook"])), "torch missing"))
            if target:
                record(f"{name} fwd+bwd / PyTorch", "torch missing", f"≤ {target:.2f}×", None)
            continue
        r = ratio(t["littlebook"], t["torch"])
        result = (record(f"{name} fwd+bwd / PyTorch", f"{r:.2f}×", f"≤ {target:.2f}×", r <= target, number=r,
                         limit=target) if target else "")
        print(row(name, ms(median(t["littlebook"])), ms(median(t["torch"])), f"{r:.2f}×",
                  f"≤ {target:.2f}×" if target else "", result
                  + ("" if same else "  (input gradients DIFFER from torch)")))
        if "GEMMs" in t and target:
            floor = ratio(t["GEMMs"], t["torch"])  # the layer cannot take less time than its own matmuls
            print(row("  floor: its 3 matmuls alone / PyTorch", ms(median(t["GEMMs"])), ms(median(t["torch"])),
                      f"{floor:.2f}×", f"≤ {target:.2f}×", floor_verdict(floor, target)))
