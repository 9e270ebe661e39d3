#!/usr/bin/env python3
"""PyTorch reference for `deno task bench` (bench/backends/torch.ts starts it; not run by hand).

Usage: python3 bench/torch_ref.py --mode cpu|f64|fp32|tf32 [--threads N]

  cpu   the CPU, torch.set_num_threads(N) (2 by default: the project's machines have 2 cores)
  f64   the CPU in float64 (inputs widened from float32, results written as float32): a reference
        to check the float32 backends against
  fp32  CUDA, float32 with TF32 off for matmul and cuDNN
  tf32  CUDA, TF32 allowed (Ampere and later)

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout.
  {"cmd": "hello"}                                        -> {"ok": true, "torch": ..., "device": ...}
  {"cmd": "setup", "id", "op", "shape", "inputs": {name: file}, "plan"?}
                                                           -> {"ok": true} | {"ok": false, "error", "unsupported"?}
  {"cmd": "run", "id", "output": file}                    -> {"ok": true, "ms"} (one run; result written)
  {"cmd": "time", "id", "reps", "warmup", "budget_ms", "min_reps"}
                                                           -> {"ok": true, "times_ms": [...]}
  {"cmd": "free", "id"}                                   -> {"ok": true}
Tensors are raw little-endian files: float32 NCDHW, labels uint32. Shapes and op names are those of
bench/shapes.ts; conv weights [cout, cin, k, k, k], up-convolution weights [cin, cout, 2, 2, 2].
A training step's result is its loss followed by every parameter's gradient, in the plan's order.
"time" makes at most reps runs, stopping once budget_ms is spent but not before min_reps runs.
Every timed run ends with torch.cuda.synchronize() on CUDA.
"""
import argparse
import json
import sys
import time
import traceback

import torch
import torch.nn.functional as F


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Unsupported(Exception):
    pass


def load(path, shape, dtype=torch.float32):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if dtype == "u32":  # labels: read as int32 (they are small), index with int64
        t = torch.frombuffer(raw, dtype=torch.int32).long()
    else:
        t = torch.frombuffer(raw, dtype=dtype).to(torch.get_default_dtype())
    return t.reshape(shape)


def save(t, path):
    if isinstance(t, (list, tuple)):
        t = torch.cat([x.detach().reshape(-1) for x in t])
    t = t.detach().float().cpu().contiguous().reshape(-1)
    try:
        t.numpy().tofile(path)
    except (RuntimeError, ImportError):  # torch without numpy
        with open(path, "wb") as f:
            f.write(bytes(t.view(torch.uint8).tolist()))


def conv_out(s):
    p = (s["k"] - 1) // 2 if s["padding"] == "same" else 0
    return [v + 2 * p - s["k"] + 1 for v in (s["d"], s["h"], s["w"])], p


def unet_output_size(cfg, size):
    shrink = 4 if cfg["padding"] == "valid" else 0
    s = list(size)
    for lvl in range(cfg["levels"]):
        s = [v - shrink for v in s]
        if lvl < cfg["levels"] - 1:
            s = [v // 2 for v in s]
    for _ in range(cfg["levels"] - 1):
        s = [2 * v - shrink for v in s]
    return s


class UNet:
    """The U-Net of src/nn/unet3d.ts, functionally, on parameters named as ours."""

    def __init__(self, cfg, plan, params, buffers):
        self.cfg, self.plan, self.p, self.buffers = cfg, plan, params, buffers
        self.training = True

    def block(self, x, spec):
        name, cfg = spec["name"], self.cfg
        y = F.conv3d(x, self.p[name + ".weight"], self.p[name + ".bias"],
                     padding=1 if cfg["padding"] == "same" else 0)
        g, b = self.p[name + ".norm.weight"], self.p[name + ".norm.bias"]
        if cfg["norm"] == "batch":
            y = F.batch_norm(y, self.buffers[name + ".rm"], self.buffers[name + ".rv"], g, b,
                             training=self.training, momentum=0.1, eps=1e-5)
        else:
            y = F.instance_norm(y, weight=g, bias=b, eps=1e-5)
        return F.leaky_relu(y, cfg["negativeSlope"])

    def forward(self, x):
        cfg, plan = self.cfg, self.plan
        skips, h = [], x
        for lvl, level in enumerate(plan["down"]):
            for spec in level:
                h = self.block(h, spec)
            if lvl < cfg["levels"] - 1:
                skips.append(h)
                h = F.max_pool3d(h, 2, 2)
        for k, up in enumerate(plan["up"]):
            u = F.conv_transpose3d(h, self.p[up["name"] + ".weight"], self.p[up["name"] + ".bias"], stride=2)
            skip = skips.pop()
            if cfg["padding"] == "valid":
                o = [(a - b) // 2 for a, b in zip(skip.shape[2:], u.shape[2:])]
                skip = skip[:, :, o[0]:o[0] + u.shape[2], o[1]:o[1] + u.shape[3], o[2]:o[2] + u.shape[4]]
            h = torch.cat([u, skip], 1)
            for spec in plan["dec"][k]:
                h = self.block(h, spec)
        return F.conv3d(h, self.p["head.weight"], self.p["head.bias"])


class Case:
    def __init__(self, req, dev):
        self.op, s, files = req["op"], req["shape"], req["inputs"]
        self.result = None
        get = lambda name, shape, dtype=torch.float32: load(files[name], shape, dtype).to(dev)  # noqa: E731
        op = self.op
        if op.startswith("conv3d_"):
            (od, oh, ow), p = conv_out(s)
            n, ci, co, k = s["n"], s["cin"], s["cout"], s["k"]
            x = get("x", [n, ci, s["d"], s["h"], s["w"]])
            w = get("w", [co, ci, k, k, k])
            b = get("b", [co])
            if op == "conv3d_forward":
                self.fn = lambda: F.conv3d(x, w, b, padding=p)
            else:
                dy = get("dy", [n, co, od, oh, ow])
                mask = [op == "conv3d_input_grad", op == "conv3d_weight_grad", False]
                which = 0 if mask[0] else 1
                # the kernels autograd itself calls for F.conv3d's backward (cuDNN on CUDA)
                self.fn = lambda: torch.ops.aten.convolution_backward(
                    dy, x, w, None, [1, 1, 1], [p, p, p], [1, 1, 1], False, [0, 0, 0], 1, mask)[which]
        elif op == "conv_transpose3d_forward":
            n, ci, co = s["n"], s["cin"], s["cout"]
            x = get("x", [n, ci, s["d"], s["h"], s["w"]])
            w = get("w", [ci, co, 2, 2, 2])
            b = get("b", [co])
            self.fn = lambda: F.conv_transpose3d(x, w, b, stride=2)
        elif op == "max_pool3d_forward":
            x = get("x", [s["n"], s["c"], s["d"], s["h"], s["w"]])
            self.fn = lambda: F.max_pool3d(x, 2, 2)
        elif op == "softmax_ce_forward":
            z = get("x", [s["n"], s["k"], s["d"], s["h"], s["w"]])
            y = get("labels", [s["n"], s["d"], s["h"], s["w"]], "u32")
            self.fn = lambda: F.cross_entropy(z, y).reshape(1)
        elif op in ("unet_train_step", "unet_inference_tile"):
            cfg, plan = req["plan"]["config"], req["plan"]
            params = {}
            for name, shape in req["plan"]["params"]:
                params[name] = get("param:" + name, shape).requires_grad_(op == "unet_train_step")
            buffers = {}
            for level in plan["down"] + plan["dec"]:
                for spec in level:
                    buffers[spec["name"] + ".rm"] = torch.zeros(spec["cout"], device=dev)
                    buffers[spec["name"] + ".rv"] = torch.ones(spec["cout"], device=dev)
            net = UNet(cfg, plan, params, buffers)
            x = get("x", [s["n"], cfg["inChannels"], s["d"], s["h"], s["w"]])
            if op == "unet_inference_tile":
                net.training = False

                def infer():
                    with torch.no_grad():
                        return net.forward(x)
                self.fn = infer
            else:
                out = unet_output_size(cfg, [s["d"], s["h"], s["w"]])
                labels = get("labels", [s["n"]] + out, "u32")
                opt = torch.optim.SGD(list(params.values()), lr=1e-4, momentum=0.9)
                order = [name for name, _ in req["plan"]["params"]]

                def step():
                    opt.zero_grad(set_to_none=True)
                    loss = F.cross_entropy(net.forward(x), labels)
                    loss.backward()
                    opt.step()
                    # the loss before the update and the gradients it gave (the update leaves them)
                    return [loss.detach().reshape(1)] + [params[name].grad for name in order]
                self.fn = step
        else:
            raise Unsupported(f"unknown op {op}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["cpu", "f64", "fp32", "tf32"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.mode in ("cpu", "f64"):
        torch.set_num_threads(args.threads)
        if args.mode == "f64":
            torch.set_default_dtype(torch.float64)
        dev = torch.device("cpu")
        desc = f"CPU, {torch.get_num_threads()} threads{', float64' if args.mode == 'f64' else ''}"
        sync = lambda: None  # noqa: E731
    else:
        if not torch.cuda.is_available():
            print(json.dumps({"ok": False, "error": f"no CUDA device (torch {torch.__version__})"}), flush=True)
            return
        tf32 = args.mode == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
        dev = torch.device("cuda")
        desc = f"{torch.cuda.get_device_name(0)}, {'TF32' if tf32 else 'float32, TF32 off'}"
        sync = torch.cuda.synchronize
    cases = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req["cmd"]
        try:
            if cmd == "hello":
                ans = {"ok": True, "torch": torch.__version__, "device": desc}
            elif cmd == "setup":
                cases[req["id"]] = Case(req, dev)
                sync()
                ans = {"ok": True}
            elif cmd == "run":
                c = cases[req["id"]]
                t0 = time.perf_counter()
                c.result = c.fn()
                sync()
                ms = (time.perf_counter() - t0) * 1e3
                save(c.result, req["output"])
                ans = {"ok": True, "ms": ms}
            elif cmd == "time":
                c = cases[req["id"]]
                for _ in range(max(0, req["warmup"] - 1)):
                    c.fn()
                sync()
                times, spent = [], 0.0
                least = max(1, req.get("min_reps", 1))
                while len(times) < req["reps"] and (len(times) < least or spent < req["budget_ms"]):
                    t0 = time.perf_counter()
                    c.fn()
                    sync()
                    dt = (time.perf_counter() - t0) * 1e3
                    times.append(dt)
                    spent += dt
                ans = {"ok": True, "times_ms": times}
            elif cmd == "free":
                cases.pop(req["id"], None)
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                ans = {"ok": True}
            else:
                ans = {"ok": False, "error": f"unknown command {cmd}"}
        except Unsupported as e:
            ans = {"ok": False, "error": str(e), "unsupported": True}
        except Exception as e:  # reported in the row; the process stays up for the next case
            log(traceback.format_exc())
            ans = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        print(json.dumps(ans), flush=True)


if __name__ == "__main__":
    main()
