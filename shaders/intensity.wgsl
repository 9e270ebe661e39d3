// CT intensity normalisation (src/volume/intensity.ts): clip HU to [lo, hi] and map the window
// linearly onto [-1, 1]: (clip(v) - centre) / half. Comparisons rather than clamp() so NaN stays NaN.

override WG: u32 = 64;

struct Params { n: u32, lo: f32, hi: f32, centre: f32, half: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn normalize_hu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let v = x[i];
  let c = select(select(v, p.hi, v > p.hi), p.lo, v < p.lo);
  y[i] = (c - p.centre) / p.half;
}
