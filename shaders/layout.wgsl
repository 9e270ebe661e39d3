// Layout copies on NCDHW tensors: spatial windows (centre crop and its zero padding), also used for
// blocks of the first two dims of weights, seen as a window over [A, B, rest]. One invocation per
// output element, no loops. (Channel ranges, for concat and its split, are plain buffer copies.)

override WG: u32 = 64;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- window: out[nc, z, y, x] = x[nc, z + oz, y + oy, x + ox], 0 where that falls outside x ---
// Positive offsets crop, negative ones pad. (id, ih, iw) is the input size, (d, h, w) the output's.
struct WindowParams {
  n: u32, id: u32, ih: u32, iw: u32, d: u32, h: u32, w: u32, oz: i32, oy: i32, ox: i32,
}

@group(0) @binding(0) var<uniform> wp: WindowParams;
@group(0) @binding(1) var<storage, read> wx: array<f32>;
@group(0) @binding(2) var<storage, read_write> wout: array<f32>;

@compute @workgroup_size(WG)
fn window(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= wp.n) { return; }
  let x = i % wp.w;
  var r = i / wp.w;
  let y = r % wp.h;
  r = r / wp.h;
  let z = r % wp.d;
  let nc = r / wp.d;
  let sx = i32(x) + wp.ox;
  let sy = i32(y) + wp.oy;
  let sz = i32(z) + wp.oz;
  var v = 0.0;
  if (sx >= 0 && sx < i32(wp.iw) && sy >= 0 && sy < i32(wp.ih) && sz >= 0 && sz < i32(wp.id)) {
    v = wx[((nc * wp.id + u32(sz)) * wp.ih + u32(sy)) * wp.iw + u32(sx)];
  }
  wout[i] = v;
}
