// Batch and instance normalisation on NCDHW tensors: per-group statistics finishing kernels, the
// per-element normalise, x-hat, and the backward kernel. The sums themselves come from reduce.wgsl
// (groupMoments, groupSum), split across workgroups. An element j lies in plane q = j / inner
// (q = n * C + c); its statistics group is q % groups (groups = C for batch norm, N * C for instance
// norm) and its affine channel q % channels. One invocation per element (or 4), no loops.

override WG: u32 = 64;

// n: invocation count; inner: voxels per (n, c) plane; channels: C; groups: statistics groups;
// a, b: per-kernel scalars (see each kernel); mode: 1 = affine-only backward (inference), and in
// norm_apply / xhat 2 = a leaky ReLU of slope b follows the affine map (fused: one pass fewer each way).
struct Params { n: u32, inner: u32, channels: u32, groups: u32, a: f32, b: f32, mode: u32 }

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- per-group statistics: in [groups] -> out [groups] ---
@group(0) @binding(1) var<storage, read> sin: array<f32>;
@group(0) @binding(2) var<storage, read_write> sout: array<f32>;

// invstd = 1 / sqrt(a * q + eps), with q a sum of squared deviations (a = 1 / count) or a variance
// (a = 1), and eps = b
@compute @workgroup_size(WG)
fn stat_invstd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { sout[i] = inverseSqrt(p.a * sin[i] + p.b); }
}

// --- running statistics, in place: rm = (1 - a) rm + a mean, rv = (1 - a) rv + a q b ---
// a = momentum, b = 1 / (count - 1), so q b is the unbiased variance.
@group(0) @binding(1) var<storage, read> rmean: array<f32>;
@group(0) @binding(2) var<storage, read> rsq: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;

@compute @workgroup_size(WG)
fn running_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) {
    running_mean[i] = (1.0 - p.a) * running_mean[i] + p.a * rmean[i];
    running_var[i] = (1.0 - p.a) * running_var[i] + p.a * rsq[i] * p.b;
  }
}

// --- per element ---
// These kernels run on V = f32, one element per invocation, or in the "vec4" variant on vec4s: VW = 4
// consecutive elements of one (n, c) plane per invocation (for planes of a multiple of 4 voxels), with
// p.n counting the vec4s. On the software adapter every memory access costs a loop over the SIMD lanes
// whatever its width, so the variant is about twice as fast.
alias V = f32; // vec4: alias V = vec4f;
const VW = 1u; // vec4: const VW = 4u;

// xhat = (x - mean) * invstd; y = gamma * xhat + beta, then a leaky ReLU of slope b in mode 2
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<V>;

// The (n, c) plane of invocation i.
fn plane(i: u32) -> u32 {
  return VW * i / p.inner;
}

fn xhat_at(i: u32) -> V {
  let g = plane(i) % p.groups;
  return (x[i] - mean[g]) * invstd[g];
}

@compute @workgroup_size(WG)
fn norm_apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let c = plane(i) % p.channels;
    let v = gamma[c] * xhat_at(i) + beta[c];
    y[i] = select(v, select(p.b * v, v, v > V(0.0)), p.mode == 2u);
  }
}

@group(0) @binding(4) var<storage, read_write> xhat_out: array<V>;

@compute @workgroup_size(WG)
fn xhat(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) { xhat_out[i] = xhat_at(i); }
}

// xhat, and the gradient g of the fused output taken back through its leaky ReLU (slope b) to the
// affine map's output: ga = g where gamma xhat + beta > 0, else b g.
// bindings: x, mean, invstd, gamma, beta (as norm_apply), g; outputs xhat, ga
@group(0) @binding(6) var<storage, read> act_g: array<V>;
@group(0) @binding(7) var<storage, read_write> act_xhat: array<V>;
@group(0) @binding(8) var<storage, read_write> act_ga: array<V>;

@compute @workgroup_size(WG)
fn xhat_act(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let c = plane(i) % p.channels;
    let xh = xhat_at(i);
    act_xhat[i] = xh;
    act_ga[i] = select(p.b * act_g[i], act_g[i], gamma[c] * xh + beta[c] > V(0.0));
  }
}

// --- backward: gx = gamma * invstd * (gy - a * s1 - xhat * a * s2), a = 1 / count ---
// s1 = sum of gy and s2 = sum of gy * xhat over the element's statistics group. In affine-only mode
// (batch norm inference: the statistics are constants) gx = gamma * invstd * gy.
@group(0) @binding(1) var<storage, read> gy: array<V>;
@group(0) @binding(2) var<storage, read> gxhat: array<V>;
@group(0) @binding(3) var<storage, read> ginvstd: array<f32>;
@group(0) @binding(4) var<storage, read> ggamma: array<f32>;
@group(0) @binding(5) var<storage, read> s1: array<f32>;
@group(0) @binding(6) var<storage, read> s2: array<f32>;
@group(0) @binding(7) var<storage, read_write> gx: array<V>;

@compute @workgroup_size(WG)
fn norm_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let q = plane(i);
    let g = q % p.groups;
    let k = ggamma[q % p.channels] * ginvstd[g];
    if (p.mode == 1u) {
      gx[i] = k * gy[i];
    } else {
      gx[i] = k * (gy[i] - p.a * s1[g] - gxhat[i] * (p.a * s2[g]));
    }
  }
}
