// Per-element kernels: fill, add, scale, activations and their gradients, in-place accumulation.
// One invocation per element; the grid may be split in two dimensions (see src/gpu/runtime.ts).

override WG: u32 = 64;

struct Params { n: u32, a: f32 }

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- fill: out = a ---
@group(0) @binding(1) var<storage, read_write> fill_out: array<f32>;

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { fill_out[i] = p.a; }
}

// --- unary: out = f(x) ---
@group(0) @binding(1) var<storage, read> ux: array<f32>;
@group(0) @binding(2) var<storage, read_write> uout: array<f32>;

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { uout[i] = p.a * ux[i]; }
}

// Leaky ReLU with slope a for negative inputs (a = 0 is the plain ReLU).
@compute @workgroup_size(WG)
fn leaky_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let v = ux[i];
    uout[i] = select(p.a * v, v, v > 0.0);
  }
}

// In-place accumulation: out += x (gradient accumulation).
@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { uout[i] = uout[i] + ux[i]; }
}

// --- binary: out = f(x, y) ---
@group(0) @binding(1) var<storage, read> bx: array<f32>;
@group(0) @binding(2) var<storage, read> by: array<f32>;
@group(0) @binding(3) var<storage, read_write> bout: array<f32>;

@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { bout[i] = bx[i] + by[i]; }
}

@compute @workgroup_size(WG)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { bout[i] = bx[i] * by[i]; }
}

// Gradient of leaky ReLU: x is the forward input, y the incoming gradient.
@compute @workgroup_size(WG)
fn leaky_relu_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { bout[i] = select(p.a * by[i], by[i], bx[i] > 0.0); }
}

// out = a * x[0] everywhere (gradient of a sum or mean).
@compute @workgroup_size(WG)
fn broadcast_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { uout[i] = p.a * ux[0]; }
}
