// Max pooling with a 2x2x2 window and stride 2 on NCDHW tensors, and its backward pass.
// Output sizes follow the floor rule (od = d / 2, ...): a last odd plane is never read.
// The forward keeps, per output, the window position 0..7 of its maximum (t = dz * 4 + dy * 2 + dx,
// the first maximum in d, h, w order). Windows do not overlap, so the backward is a gather: each
// input voxel looks at its single window and takes the gradient if it was the arg-max (no atomics).
// One invocation per element, 8 loop iterations at most.

override WG: u32 = 64;

// nc = N * C; (d, h, w) the input size; (od, oh, ow) the output size; n the invocation count.
struct Params { nc: u32, d: u32, h: u32, w: u32, od: u32, oh: u32, ow: u32, n: u32 }

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- forward: y = max over the window, arg = its position in the window ---
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(WG)
fn max_pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let ox = i % p.ow;
  var r = i / p.ow;
  let oy = r % p.oh;
  r = r / p.oh;
  let oz = r % p.od;
  let nc = r / p.od;
  let base = ((nc * p.d + 2u * oz) * p.h + 2u * oy) * p.w + 2u * ox;
  var best = x[base];
  var k = 0u;
  for (var t = 1u; t < 8u; t++) {
    let v = x[base + ((t >> 2u) * p.h + ((t >> 1u) & 1u)) * p.w + (t & 1u)];
    if (v > best) { // strict: ties keep the first maximum
      best = v;
      k = t;
    }
  }
  y[i] = best;
  arg[i] = k;
}

// --- backward: gx[voxel] = gy[its window] if the voxel was the window's arg-max, else 0 ---
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> garg: array<u32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size(WG)
fn max_pool_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let vx = i % p.w;
  var r = i / p.w;
  let vy = r % p.h;
  r = r / p.h;
  let vz = r % p.d;
  let nc = r / p.d;
  let ox = vx / 2u;
  let oy = vy / 2u;
  let oz = vz / 2u;
  var v = 0.0;
  // voxels of a dropped odd plane belong to no window
  if (ox < p.ow && oy < p.oh && oz < p.od) {
    let o = ((nc * p.od + oz) * p.oh + oy) * p.ow + ox;
    let t = (vz & 1u) * 4u + (vy & 1u) * 2u + (vx & 1u);
    if (garg[o] == t) { v = gy[o]; }
  }
  gx[i] = v;
}
