// Optimiser updates, in place, one invocation per parameter element (PyTorch's update rules).
// Scalars that depend on the step count (Adam's bias corrections) are computed on the host.

override WG: u32 = 64;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- SGD: g = grad + wd * p; buf = momentum * buf + g; p -= lr * (nesterov ? g + momentum * buf : buf) ---
// A zero-initialised buffer makes the first step buf = g, as PyTorch's lazily created one (dampening 0).
struct SgdParams { n: u32, lr: f32, momentum: f32, wd: f32, nesterov: u32 }

@group(0) @binding(0) var<uniform> sp: SgdParams;
@group(0) @binding(1) var<storage, read> sgd_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> sgd_param: array<f32>;
@group(0) @binding(3) var<storage, read_write> sgd_buf: array<f32>;

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= sp.n) { return; }
  let p = sgd_param[i];
  let g = sgd_grad[i] + sp.wd * p;
  let b = sp.momentum * sgd_buf[i] + g;
  sgd_buf[i] = b;
  let d = select(b, g + sp.momentum * b, sp.nesterov != 0u);
  sgd_param[i] = p - sp.lr * d;
}

// Momentum 0: no buffer.
@compute @workgroup_size(WG)
fn sgd_plain(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= sp.n) { return; }
  let p = sgd_param[i];
  sgd_param[i] = p - sp.lr * (sgd_grad[i] + sp.wd * p);
}

// --- Adam / AdamW ---
// p *= shrink (AdamW: 1 - lr * wd, else 1); g = grad + l2 * p (Adam: wd, AdamW: 0); m += (g - m) * (1 - beta1),
// v = beta2 * v + (1 - beta2) * g^2, p -= step_size * m / (sqrt(v) / bc2_sqrt + eps) with
// step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t). The host computes 1 - beta and the
// corrections in float64, as PyTorch does (1 - 0.999 rounded from an f32 0.999 would be 1.3e-5 off).
struct AdamParams {
  n: u32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  l2: f32,
  shrink: f32,
  step_size: f32,
  bc2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read> adam_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> adam_param: array<f32>;
@group(0) @binding(3) var<storage, read_write> adam_m: array<f32>;
@group(0) @binding(4) var<storage, read_write> adam_v: array<f32>;

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= ap.n) { return; }
  let p = adam_param[i] * ap.shrink;
  let g = adam_grad[i] + ap.l2 * p;
  let m = adam_m[i] + (g - adam_m[i]) * ap.one_minus_beta1;
  let v = ap.beta2 * adam_v[i] + ap.one_minus_beta2 * g * g;
  adam_m[i] = m;
  adam_v[i] = v;
  adam_param[i] = p - ap.step_size * m / (sqrt(v) / ap.bc2_sqrt + ap.eps);
}
