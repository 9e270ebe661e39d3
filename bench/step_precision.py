#!/usr/bin/env python3
"""The other half of bench/step_precision.ts (which starts it): one U-Net training step in PyTorch.

Usage: python3 bench/step_precision.py DIR [--ulp N] [--json FILE]

DIR holds what bench/step_precision.ts wrote: meta.json, the weights (param.NAME.bin), the input (x.bin),
the labels (labels.bin, uint32), our loss (loss.bin), our gradients (grad.NAME.bin) and the output of
every normalisation + leaky ReLU of our forward pass (act.BLOCK.bin), raw little-endian float32.

Prints, per gradient, the errors against the float64 step of PyTorch's float32 step and of ours, then
against the float64 step computed with the same leaky-ReLU branch at every voxel as that float32 step
took; the voxels whose branch differs from float64's; with --ulp N, N random one-ulp changes of the input.
Errors are those of the benchmark harness: max |a - e| / max(max |e|, 1e-4 s), s the largest |e| of the
loss and all gradients.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref import UNet  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--ulp", type=int, default=0)
ap.add_argument("--json", help="also write the errors, the noise-floor tensors and the branch flips as JSON")
args = ap.parse_args()
D = args.dir
meta = json.load(open(f"{D}/meta.json"))
cfg, S = meta["config"], meta["size"]
torch.set_num_threads(2)


def raw(name, dtype=np.float32):
    return np.fromfile(f"{D}/{name}.bin", dtype=dtype)


class Step(UNet):
    """torch_ref's U-Net that records every pre-activation and can be told which leaky-ReLU branch to take."""

    def __init__(self, params, buffers, masks):
        super().__init__(cfg, meta["plan"], params, buffers)
        self.masks, self.pre = masks, {}

    def block(self, x, spec):
        name = spec["name"]
        y = F.conv3d(x, self.p[name + ".weight"], self.p[name + ".bias"], padding=1 if cfg["padding"] == "same" else 0)
        g, b = self.p[name + ".norm.weight"], self.p[name + ".norm.bias"]
        if cfg["norm"] == "batch":
            y = F.batch_norm(y, self.buffers[name + ".rm"], self.buffers[name + ".rv"], g, b, training=True, momentum=0.1,
                             eps=1e-5)
        else:
            y = F.instance_norm(y, weight=g, bias=b, eps=1e-5)
        self.pre[name] = y.detach()
        if self.masks is None:
            return F.leaky_relu(y, cfg["negativeSlope"])
        return torch.where(self.masks[name], y, cfg["negativeSlope"] * y)


def step(dtype, masks=None, x=None):
    """Loss, gradients by name and pre-activations by block of one step in `dtype`."""
    params = {k: torch.tensor(raw(f"param.{k}").reshape(s), dtype=dtype, requires_grad=True) for k, s in meta["params"]}
    buffers = {}
    for level in meta["plan"]["down"] + meta["plan"]["dec"]:
        for spec in level:
            buffers[spec["name"] + ".rm"] = torch.zeros(spec["cout"], dtype=dtype)
            buffers[spec["name"] + ".rv"] = torch.ones(spec["cout"], dtype=dtype)
    net = Step(params, buffers, masks)
    x = raw("x") if x is None else x
    labels = torch.tensor(raw("labels", np.uint32).astype(np.int64).reshape(1, S, S, S))
    loss = F.cross_entropy(net.forward(torch.tensor(x.reshape(1, 1, S, S, S), dtype=dtype)), labels)
    loss.backward()
    grads = {k: v.grad.double().numpy() for k, v in params.items()}
    return float(loss), grads, {k: v.double().numpy() for k, v in net.pre.items()}


def errors(loss, grads, ref):
    """Harness-style error of each gradient (and the loss) against the reference step `ref`."""
    rloss, rgrads = ref[0], ref[1]
    scale = max([abs(rloss)] + [np.abs(g).max() for g in rgrads.values()])
    out = {"loss": abs(loss - rloss) / abs(rloss)}
    for k, e in rgrads.items():
        out[k] = np.abs(grads[k] - e).max() / max(np.abs(e).max(), 1e-4 * scale)
    return out


def worst(errs, keys=None):
    k = max(keys or errs, key=errs.get)
    return f"{errs[k]:.2e} ({k})"


ours_loss = float(raw("loss")[0])
ours_grads = {k: raw(f"grad.{k}").astype(np.float64).reshape(s) for k, s in meta["params"]}
ours_masks = {b: torch.tensor(raw(f"act.{b}").reshape(s) > 0) for b, s in meta["acts"]}
f64 = step(torch.float64)
f32 = step(torch.float32)
f32_masks = {b: torch.tensor(p > 0) for b, p in f32[2].items()}
e = {
    "pytorch-f32": errors(f32[0], f32[1], f64),
    "ours": errors(ours_loss, ours_grads, f64),
    "pytorch-f32, same branches": errors(f32[0], f32[1], step(torch.float64, f32_masks)),
    "ours, same branches": errors(ours_loss, ours_grads, step(torch.float64, ours_masks)),
}
print(f"fast U-Net (base {cfg['baseChannels']}), {S}^3 tile, labels: {meta['labels']}; errors against float64 "
      f"(PyTorch {torch.__version__}, CPU)")
print(f"{'':30} {'max |f64|':>10} " + " ".join(f"{c:>13}" for c in ("pytorch-f32", "ours")) +
      "   against float64 with the same leaky-ReLU branches: " + " ".join(f"{c:>11}" for c in ("pytorch-f32", "ours")))
for k in e["ours"]:
    ref = abs(f64[0]) if k == "loss" else np.abs(f64[1][k]).max()
    print(f"{k:30} {ref:10.2e} " + " ".join(f"{e[c][k]:13.2e}" for c in ("pytorch-f32", "ours")) + " " * 55 +
          " ".join(f"{e[c][k]:11.2e}" for c in ("pytorch-f32, same branches", "ours, same branches")))
# tensors whose float64 value is below the harness's floor (the bias of a convolution that a normalisation
# follows: zero in exact arithmetic) hold rounding noise only
scale = max([abs(f64[0])] + [np.abs(g).max() for g in f64[1].values()])
real = [k for k in e["ours"] if k == "loss" or np.abs(f64[1][k]).max() >= 1e-4 * scale]
for c, v in e.items():
    print(f"worst tensor, {c}: {worst(v)}; above the noise floor: {worst(v, real)}")
flips = {"pytorch-f32": [], "ours": []}
print("voxels whose leaky-ReLU branch differs from float64's (float64 pre-activation there; largest |pre-activation|):")
for block, _ in meta["acts"][::-1]:
    pre = f64[2][block]
    for who, m in (("pytorch-f32", f32_masks[block].numpy()), ("ours", ours_masks[block].numpy())):
        for i in np.argwhere(m != (pre > 0)):
            flips[who].append([block, [int(v) for v in i], float(pre[tuple(i)])])
            print(f"  {who:12} {block:12} voxel {tuple(int(v) for v in i)}: {pre[tuple(i)]:+.2e} "
                  f"(largest {np.abs(pre).max():.2f})")
ulp = []
if args.ulp:
    rng = np.random.default_rng(0)
    x0 = raw("x")
    for trial in range(args.ulp):
        up = rng.random(x0.size) < 0.5
        x1 = np.where(up, np.nextafter(x0, np.float32(np.inf)), np.nextafter(x0, np.float32(-np.inf))).astype(np.float32)
        g64 = step(torch.float64, x=x1)
        g32 = step(torch.float32, x=x1)
        ulp.append({"float64": errors(g64[0], g64[1], f64), "pytorch-f32": errors(g32[0], g32[1], g64)})
        print(f"input moved by one ulp ({trial}): the float64 step moves by {worst(errors(g64[0], g64[1], f64))}; "
              f"PyTorch float32 there against float64 there: {worst(errors(g32[0], g32[1], g64))}")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"errors": e, "noise": [k for k in e["ours"] if k not in real], "flips": flips, "ulp": ulp}, f)
