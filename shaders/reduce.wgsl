// Grouped sums over a tensor viewed as [outer, groups, inner]: for each group g, the sum over o and i
// of f(x[o, g, i]). Batch norm and bias gradients use (N, C, DHW), instance norm (1, N*C, DHW), a
// total (1, 1, n). Each workgroup sums one chunk of CHUNK = WG * PER elements of one group into
// partial[g * chunks + chunk]; the host repeats with mode "sum" until one chunk is left. Each
// invocation loops PER times, far below the software Vulkan driver's 65535-iteration cut-off.
//
// sum and dot also come in a "vec4" variant for views whose inner extent is a multiple of 4: x and y
// are read as vec4s (4 consecutive elements of one group), and the params count vec4s.

override WG: u32 = 256;
const PER: u32 = 16u;

struct Params { outer: u32, groups: u32, inner: u32, chunks: u32 }

alias V = f32; // vec4: alias V = vec4f;

// The sum of the lanes of v.
fn lanes(v: V) -> f32 {
  return v; // vec4: return v.x + v.y + v.z + v.w;
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read> ys: array<V>; // second operand (dot)
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn element(g: u32, e: u32) -> u32 {
  let o = e / p.inner;
  return (o * p.groups + g) * p.inner + (e - o * p.inner);
}

// mode 0: x; mode 1: x * y
fn reduce(mode: u32, lid: u32, wid: vec3u, nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  let g = w / p.chunks;
  let chunk = w - g * p.chunks;
  let count = p.outer * p.inner;
  var s = V(0.0);
  if (g < p.groups) {
    let start = chunk * WG * PER;
    for (var k = 0u; k < PER; k++) {
      let e = start + k * WG + lid;
      if (e < count) {
        let j = element(g, e);
        if (mode == 0u) { s += xs[j]; } else { s += xs[j] * ys[j]; }
      }
    }
  }
  acc[lid] = lanes(s);
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { acc[lid] += acc[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && g < p.groups) { partial[w] = acc[0]; }
}

@compute @workgroup_size(WG)
fn sum(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  reduce(0u, lid, wid, nwg);
}

@compute @workgroup_size(WG)
fn dot(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  reduce(1u, lid, wid, nwg);
}

// --- moments: per group, the mean and M2 (sum of squared deviations from it) in one read of x ---
// Each workgroup takes a chunk of CHUNK elements of one group as above. All values are shifted by the
// group's first element, so that the means merged below stay near the spread rather than the offset
// (float32 means of values near 1000 would otherwise cost digits of M2). An invocation keeps its PER
// values, takes their mean and their squared deviations from it; the workgroup then merges the
// invocations' (count, mean, M2) in a tree with Chan et al.'s formula (stable: no E[x^2] - E[x]^2)
// into mpart[w] = (count, shifted mean, M2). merge_moments (below) merges a group's chunks the same way.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mpart: array<f32>; // [groups][chunks][3]

var<workgroup> mcount: array<u32, WG>;
var<workgroup> mmean: array<f32, WG>;
var<workgroup> mm2: array<f32, WG>;

// (mean, M2) of set a merged with set b, given their (count, mean, M2).
fn chan(na: f32, ma: f32, qa: f32, nb: f32, mb: f32, qb: f32) -> vec2f {
  if (nb == 0.0) { return vec2f(ma, qa); }
  let f = nb / (na + nb);
  let d = mb - ma;
  return vec2f(ma + d * f, qa + qb + d * d * na * f);
}

@compute @workgroup_size(WG)
fn moments(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  let g = w / p.chunks;
  let chunk = w - g * p.chunks;
  let count = p.outer * p.inner;
  var v: array<f32, PER>;
  var n = 0u;
  var s = 0.0;
  if (g < p.groups) {
    let shift = x[element(g, 0u)];
    let start = chunk * WG * PER;
    // the valid elements of an invocation are a prefix of its k
    for (var k = 0u; k < PER; k++) {
      let e = start + k * WG + lid;
      if (e < count) {
        v[k] = x[element(g, e)] - shift;
        s += v[k];
        n++;
      }
    }
  }
  let m = s / f32(max(n, 1u));
  var q = 0.0;
  for (var k = 0u; k < n; k++) {
    let d = v[k] - m;
    q += d * d;
  }
  mcount[lid] = n;
  mmean[lid] = m;
  mm2[lid] = q;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let r = chan(f32(mcount[lid]), mmean[lid], mm2[lid], f32(mcount[lid + stride]), mmean[lid + stride],
                   mm2[lid + stride]);
      mcount[lid] += mcount[lid + stride];
      mmean[lid] = r.x;
      mm2[lid] = r.y;
    }
    workgroupBarrier();
  }
  if (lid == 0u && g < p.groups) {
    mpart[3u * w] = f32(mcount[0]); // at most CHUNK: exact
    mpart[3u * w + 1u] = mmean[0];
    mpart[3u * w + 2u] = mm2[0];
  }
}

// --- merge_moments: partial (count, mean, M2) triples [groups][parts][3] merged `block` at a time ---
// Those of the moments kernel above, or of a convolution's epilogue (conv3d_gemm.wgsl). Without
// `finish`: mout = [groups][ceil(parts / block)][3], for another pass. With it (block >= parts):
// mean[g] = shift[g * stride] + the merged mean (the moments kernel's shift back, or a convolution's
// bias; has_shift = 0: nothing) and m2[g]. A partial of count 0 changes nothing. An invocation loops
// at most `block` times. Counts are f32: exact up to 2^24 values a group.
struct MergeParams { groups: u32, parts: u32, block: u32, stride: u32, has_shift: u32, finish: u32 }

@group(0) @binding(0) var<uniform> mp: MergeParams;
@group(0) @binding(1) var<storage, read> mparts: array<f32>;
@group(0) @binding(2) var<storage, read> mshift: array<f32>; // any buffer when has_shift = 0
@group(0) @binding(3) var<storage, read_write> mout: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2_out: array<f32>; // with finish

@compute @workgroup_size(WG)
fn merge_moments(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let blocks = (mp.parts + mp.block - 1u) / mp.block;
  if (i >= mp.groups * blocks) { return; }
  let g = i / blocks;
  let first = (i - g * blocks) * mp.block;
  let last = min(mp.parts, first + mp.block);
  var n = 0.0;
  var r = vec2f(0.0);
  for (var j = first; j < last; j++) {
    let o = 3u * (g * mp.parts + j);
    r = chan(n, r.x, r.y, mparts[o], mparts[o + 1u], mparts[o + 2u]);
    n += mparts[o];
  }
  if (mp.finish != 0u) {
    mout[g] = r.x + select(0.0, mshift[g * mp.stride], mp.has_shift != 0u);
    m2_out[g] = r.y;
  } else {
    mout[3u * i] = n;
    mout[3u * i + 1u] = r.x;
    mout[3u * i + 2u] = r.y;
  }
}
