// Softmax over the channel dimension, argmax, per-class voxel counts, the class weights of Roth et al.
// and the weighted softmax cross-entropy with its gradient. Tensors are [N, K, S] with S = D * H * W
// voxels per channel; labels and masks are u32 [N, S]. Per-voxel kernels loop over the K classes only;
// counting loops at most CHUNK_LEN voxels per invocation (the software Vulkan driver silently stops a
// shader after 65535 loop iterations), and the host sums the partials with groupSum.

override WG: u32 = 64;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- softmax, softmax gradient and argmax: one invocation per voxel (n, s) ---
struct VoxelParams { nvox: u32, k: u32, s: u32 }

@group(0) @binding(0) var<uniform> vp: VoxelParams;

// Offset of channel 0 of voxel v = n * S + s in an [N, K, S] tensor.
fn base(v: u32) -> u32 {
  let n = v / vp.s;
  return n * vp.k * vp.s + (v - n * vp.s);
}

@group(0) @binding(1) var<storage, read> sm_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sm_y: array<f32>;

// y = exp(x - max) / sum exp(x - max): subtracting the max keeps exp from overflowing.
@compute @workgroup_size(WG)
fn softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= vp.nvox) { return; }
  let b = base(v);
  var m = sm_x[b];
  for (var k = 1u; k < vp.k; k++) { m = max(m, sm_x[b + k * vp.s]); }
  var total = 0.0;
  for (var k = 0u; k < vp.k; k++) {
    let e = exp(sm_x[b + k * vp.s] - m);
    sm_y[b + k * vp.s] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var k = 0u; k < vp.k; k++) { sm_y[b + k * vp.s] *= inv; }
}

@group(0) @binding(1) var<storage, read> sg_y: array<f32>;
@group(0) @binding(2) var<storage, read> sg_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> sg_dx: array<f32>;

// dx_k = y_k * (g_k - sum_j g_j y_j), the softmax Jacobian applied to the incoming gradient.
@compute @workgroup_size(WG)
fn softmax_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= vp.nvox) { return; }
  let b = base(v);
  var d = 0.0;
  for (var k = 0u; k < vp.k; k++) { d += sg_g[b + k * vp.s] * sg_y[b + k * vp.s]; }
  for (var k = 0u; k < vp.k; k++) {
    let j = b + k * vp.s;
    sg_dx[j] = sg_y[j] * (sg_g[j] - d);
  }
}

@group(0) @binding(1) var<storage, read> am_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> am_out: array<u32>;

// Index of the largest channel; strict > keeps the lowest class on ties.
@compute @workgroup_size(WG)
fn argmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= vp.nvox) { return; }
  let b = base(v);
  var best = am_x[b];
  var arg = 0u;
  for (var k = 1u; k < vp.k; k++) {
    let x = am_x[b + k * vp.s];
    if (x > best) {
      best = x;
      arg = k;
    }
  }
  am_out[v] = arg;
}

// --- per-class counts: partial[k * chunks + c] = #{v = c + j * chunks : mask[v] != 0, label[v] == k} ---
// Interleaving the voxels of a chunk (stride `chunks`) makes neighbouring invocations read neighbouring
// voxels. any_label = 1 counts every masked voxel into the single group (the mask size M).
struct CountParams { n: u32, k: u32, chunks: u32, has_mask: u32, any_label: u32 }

@group(0) @binding(0) var<uniform> cp: CountParams;
@group(0) @binding(1) var<storage, read> cnt_labels: array<u32>;
@group(0) @binding(2) var<storage, read> cnt_mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> cnt_partial: array<f32>;

@compute @workgroup_size(WG)
fn count_partials(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= cp.k * cp.chunks) { return; }
  let k = i / cp.chunks;
  let c = i - k * cp.chunks;
  let len = (cp.n + cp.chunks - 1u) / cp.chunks; // at most CHUNK_LEN (chosen on the host)
  var count = 0u;
  for (var j = 0u; j < len; j++) {
    let v = c + j * cp.chunks;
    if (v < cp.n && (cp.has_mask == 0u || cnt_mask[v] != 0u) && (cp.any_label != 0u || cnt_labels[v] == k)) {
      count++;
    }
  }
  cnt_partial[i] = f32(count);
}

// --- class weights of Roth et al.: w_i = (1 - N_i / N_C) / (K - 1), N_C = sum_i N_i; zeros if N_C = 0 ---
struct WeightParams { k: u32 }

@group(0) @binding(0) var<uniform> wp: WeightParams;
@group(0) @binding(1) var<storage, read> pw_counts: array<f32>;
@group(0) @binding(2) var<storage, read_write> pw_w: array<f32>;

@compute @workgroup_size(WG)
fn paper_weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (index(gid, nwg) != 0u) { return; }
  var total = 0.0;
  for (var k = 0u; k < wp.k; k++) { total += pw_counts[k]; }
  for (var k = 0u; k < wp.k; k++) {
    var w = 0.0;
    if (total > 0.0) { w = (1.0 - pw_counts[k] / total) / f32(wp.k - 1u); }
    pw_w[k] = w;
  }
}

// --- weighted cross-entropy: one invocation per voxel ---
// term[v] = -w[y] * log softmax(z)[y] * mask / M and, when GRAD, dz_k = (softmax_k - [k == y]) * w[y] *
// mask / M. Voxels outside the mask contribute 0 whatever their label; a label >= K inside the mask makes
// the term (and the gradient) NaN, so a bad label shows up as a NaN loss without a host round trip.
override GRAD: bool = true;

struct CeParams { nvox: u32, k: u32, s: u32, has_mask: u32 }

@group(0) @binding(0) var<uniform> cep: CeParams;
@group(0) @binding(1) var<storage, read> ce_z: array<f32>;
@group(0) @binding(2) var<storage, read> ce_labels: array<u32>;
@group(0) @binding(3) var<storage, read> ce_mask: array<u32>;
@group(0) @binding(4) var<storage, read> ce_w: array<f32>;
@group(0) @binding(5) var<storage, read> ce_m: array<f32>; // [1]: number of voxels in the mask
@group(0) @binding(6) var<storage, read_write> ce_term: array<f32>;
@group(0) @binding(7) var<storage, read_write> ce_dz: array<f32>;

@compute @workgroup_size(WG)
fn ce_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= cep.nvox) { return; }
  let n = v / cep.s;
  let b = n * cep.k * cep.s + (v - n * cep.s);
  let inside = cep.has_mask == 0u || ce_mask[v] != 0u;
  let y = ce_labels[v];
  let m = ce_m[0];
  if (!inside || m <= 0.0) {
    // ignored voxel (or an empty mask): no loss, no gradient
    ce_term[v] = 0.0;
    if (GRAD) {
      for (var k = 0u; k < cep.k; k++) { ce_dz[b + k * cep.s] = 0.0; }
    }
    return;
  }
  if (y >= cep.k) {
    // a quiet NaN from its bits at run time: as a constant expression the bitcast is invalid WGSL
    // (Chromium's compiler refuses it: NaN is not representable as an f32 constant)
    let bits = 0x7fc00000u;
    let nan = bitcast<f32>(bits);
    ce_term[v] = nan;
    if (GRAD) {
      for (var k = 0u; k < cep.k; k++) { ce_dz[b + k * cep.s] = nan; }
    }
    return;
  }
  var mx = ce_z[b];
  for (var k = 1u; k < cep.k; k++) { mx = max(mx, ce_z[b + k * cep.s]); }
  var total = 0.0;
  for (var k = 0u; k < cep.k; k++) { total += exp(ce_z[b + k * cep.s] - mx); }
  let scale = ce_w[y] / m;
  // log softmax(z)_y = z_y - max - log(sum exp(z - max))
  ce_term[v] = -scale * (ce_z[b + y * cep.s] - mx - log(total));
  if (GRAD) {
    let inv = 1.0 / total;
    for (var k = 0u; k < cep.k; k++) {
      let j = b + k * cep.s;
      let p = exp(ce_z[j] - mx) * inv;
      ce_dz[j] = scale * (p - select(0.0, 1.0, k == y));
    }
  }
}

// --- out = x * g[0]: the backward of the scalar loss applies the incoming gradient ---
struct ScaleParams { n: u32 }

@group(0) @binding(0) var<uniform> sp: ScaleParams;
@group(0) @binding(1) var<storage, read> sc_x: array<f32>;
@group(0) @binding(2) var<storage, read> sc_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> sc_out: array<f32>;

@compute @workgroup_size(WG)
fn scale_by_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < sp.n) { sc_out[i] = sc_x[i] * sc_g[0]; }
}
