// Grouped sums over a tensor viewed as [outer, groups, inner]: for each group g, the sum over o and i
// of f(x[o, g, i]). Batch norm and bias gradients use (N, C, DHW), instance norm (1, N*C, DHW), a
// total (1, 1, n). Each workgroup sums one chunk of CHUNK = WG * PER elements of one group into
// partial[g * chunks + chunk]; the host repeats with mode "sum" until one chunk is left. Each
// invocation loops PER times, far below the software Vulkan driver's 65535-iteration cut-off.

override WG: u32 = 256;
const PER: u32 = 16u;

struct Params { outer: u32, groups: u32, inner: u32, chunks: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>; // second operand (dot) or per-group mean (sqdev)
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn element(g: u32, e: u32) -> u32 {
  let o = e / p.inner;
  return (o * p.groups + g) * p.inner + (e - o * p.inner);
}

// mode 0: x; mode 1: x * y; mode 2: (x - y[g])^2
fn reduce(mode: u32, lid: u32, wid: vec3u, nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  let g = w / p.chunks;
  let chunk = w - g * p.chunks;
  let count = p.outer * p.inner;
  var s = 0.0;
  if (g < p.groups) {
    let start = chunk * WG * PER;
    for (var k = 0u; k < PER; k++) {
      let e = start + k * WG + lid;
      if (e < count) {
        let j = element(g, e);
        if (mode == 0u) { s += x[j]; }
        else if (mode == 1u) { s += x[j] * y[j]; }
        else { let d = x[j] - y[g]; s += d * d; }
      }
    }
  }
  acc[lid] = s;
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

@compute @workgroup_size(WG)
fn sqdev(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  reduce(2u, lid, wid, nwg);
}
