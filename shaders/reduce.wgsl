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
// into mpart[w] = (count, shifted mean, M2). merge_moments merges a group's chunks the same way.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mpart: array<f32>; // [groups][chunks][3]

var<workgroup> mcount: array<u32, WG>;
var<workgroup> mmean: array<f32, WG>;
var<workgroup> mm2: array<f32, WG>;

// (count, mean, M2) of set a merged with those of set b.
fn chan(na: u32, ma: f32, qa: f32, nb: u32, mb: f32, qb: f32) -> vec2f {
  if (nb == 0u) { return vec2f(ma, qa); }
  let f = f32(nb) / f32(na + nb);
  let d = mb - ma;
  return vec2f(ma + d * f, qa + qb + d * d * f32(na) * f);
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
      let r = chan(mcount[lid], mmean[lid], mm2[lid], mcount[lid + stride], mmean[lid + stride],
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

// One invocation per group: merges its `chunks` partials (loops that often: a few hundred for the
// largest volumes) into mean[g] (shifted back by the group's first element of x) and m2[g].
@group(0) @binding(1) var<storage, read> parts: array<f32>;
@group(0) @binding(2) var<storage, read> mx: array<f32>; // x, for the shift
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2_out: array<f32>;

@compute @workgroup_size(WG)
fn merge_moments(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= p.groups) { return; }
  var n = 0u;
  var r = vec2f(0.0);
  for (var c = 0u; c < p.chunks; c++) {
    let i = 3u * (g * p.chunks + c);
    let nc = u32(parts[i]);
    r = chan(n, r.x, r.y, nc, parts[i + 1u], parts[i + 2u]);
    n += nc;
  }
  mean_out[g] = mx[g * p.inner] + r.x; // element (o = 0, g, i = 0)
  m2_out[g] = r.y;
}
