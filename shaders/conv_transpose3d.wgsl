// Transposed 3D convolution with kernel 2x2x2 and stride 2 (the U-Net up-convolution): x [N, Cin, D,
// H, W], w [Cin, Cout, 2, 2, 2] (PyTorch layout), out [N, Cout, 2D, 2H, 2W]. Every output voxel has
// exactly one input voxel and one tap, so both directions are gathers without atomics:
//
//   forward      out[n,co,2d+a,2h+b,2w+c] = bias[co] + sum_ci x[n,ci,d,h,w] * w[ci,co,a,b,c]
//   grad_input   gx[n,ci,d,h,w] = sum over co and the 8 taps (a,b,c) of gy[n,co,2d+a,2h+b,2w+c] * w[ci,co,a,b,c]
//   grad_weight  partial[wi, chunk] = sum over the chunk's input rows (n,d,h) of x * gy for weight wi =
//                (ci,co,a,b,c); the host sums the chunks. Chunks of about a thousand voxels keep every
//                invocation far below the software Vulkan driver's 65535-iteration cut-off.
//
// Each invocation handles a whole 2x2x2 block (8 taps) per input voxel, so it reads every input value
// once (the software driver pays per memory access).

override WG: u32 = 64;

struct Params {
  count: u32, // invocations
  cin: u32,
  cout: u32,
  d: u32, h: u32, w: u32, // input
  has_bias: u32, // forward
  rows: u32, // grad_weight: N * d * h
  rows_per_chunk: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- forward: one invocation per input voxel and output channel, writing its 2x2x2 output block ---
// It reads each input value once for the 8 taps; the 8 weights of (ci, co) are two vec4s (taps
// a * 4 + b * 2 + c: `lo` holds a = 0, `hi` a = 1, each as (b, c) = 00, 01, 10, 11).
@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fw: array<vec4f>; // [Cin, Cout, 2]
@group(0) @binding(3) var<storage, read> fb: array<f32>; // any buffer when has_bias = 0
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.count) { return; }
  var r = i;
  let x = r % p.w; r = r / p.w;
  let y = r % p.h; r = r / p.h;
  let z = r % p.d; r = r / p.d;
  let co = r % p.cout;
  let n = r / p.cout;
  let dhw = p.d * p.h * p.w;
  var xi = n * p.cin * dhw + (z * p.h + y) * p.w + x;
  var wi = co * 2u;
  var lo = vec4f(0.0);
  var hi = vec4f(0.0);
  for (var ci = 0u; ci < p.cin; ci++) {
    let v = fx[xi];
    lo += v * fw[wi];
    hi += v * fw[wi + 1u];
    xi += dhw;
    wi += 2u * p.cout;
  }
  if (p.has_bias != 0u) {
    lo += fb[co];
    hi += fb[co];
  }
  let ow = 2u * p.w;
  let ohw = 2u * p.h * ow;
  let o = ((n * p.cout + co) * 2u * p.d + 2u * z) * ohw + 2u * y * ow + 2u * x;
  fout[o] = lo.x;
  fout[o + 1u] = lo.y;
  fout[o + ow] = lo.z;
  fout[o + ow + 1u] = lo.w;
  fout[o + ohw] = hi.x;
  fout[o + ohw + 1u] = hi.y;
  fout[o + ohw + ow] = hi.z;
  fout[o + ohw + ow + 1u] = hi.w;
}

// --- grad_input: one invocation per input voxel and channel ci, over the 2x2x2 blocks it produced ---
// gy is read as vec2s (a block row: x = 2w, 2w + 1, at an even index) and matched against the two
// weight vec4s of (ci, co), in the forward's tap order.
@group(0) @binding(1) var<storage, read> igy: array<vec2f>;
@group(0) @binding(2) var<storage, read> iw: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> igx: array<f32>;

@compute @workgroup_size(WG)
fn grad_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.count) { return; }
  var r = i;
  let x = r % p.w; r = r / p.w;
  let y = r % p.h; r = r / p.h;
  let z = r % p.d; r = r / p.d;
  let ci = r % p.cin;
  let n = r / p.cin;
  // in vec2 units: an output row holds w of them, a plane 2 h w, a channel 2 d * 2 h w
  let row = p.w;
  let plane = 2u * p.h * p.w;
  let channel = 2u * p.d * plane;
  var g = n * p.cout * channel + 2u * z * plane + 2u * y * row + x;
  var wi = ci * p.cout * 2u;
  var s = 0.0;
  for (var co = 0u; co < p.cout; co++) {
    s += dot(vec4f(igy[g], igy[g + row]), iw[wi]) + dot(vec4f(igy[g + plane], igy[g + plane + row]), iw[wi + 1u]);
    g += channel;
    wi += 2u;
  }
  igx[i] = s;
}

// --- grad_weight: partial sums laid out [Cin * Cout * 8, chunks] ---
// One invocation per chunk and channel pair (ci, co), accumulating the 8 taps as in the forward: each
// x value read once, gy as vec2s.
@group(0) @binding(1) var<storage, read> wgy: array<vec2f>;
@group(0) @binding(2) var<storage, read> wx: array<f32>;
@group(0) @binding(3) var<storage, read_write> wpartial: array<f32>;

@compute @workgroup_size(WG)
fn grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.count) { return; }
  let pairs = p.cin * p.cout;
  // neighbouring invocations take neighbouring channel pairs of one chunk: they read the same voxels
  let chunk = i / pairs;
  let pair = i - chunk * pairs; // ci * cout + co
  let co = pair % p.cout;
  let ci = pair / p.cout;
  // gy in vec2 units, as in grad_input
  let row = p.w;
  let plane = 2u * p.h * p.w;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(p.rows, r0 + p.rows_per_chunk);
  var lo = vec4f(0.0);
  var hi = vec4f(0.0);
  for (var r = r0; r < r1; r++) {
    let y = r % p.h;
    let t = r / p.h;
    let z = t % p.d;
    let n = t / p.d;
    let x0 = ((n * p.cin + ci) * p.d + z) * p.h * p.w + y * p.w;
    let g0 = ((n * p.cout + co) * 2u * p.d + 2u * z) * plane + 2u * y * row;
    for (var x = 0u; x < p.w; x++) {
      let v = wx[x0 + x];
      let g = g0 + x;
      lo += v * vec4f(wgy[g], wgy[g + row]);
      hi += v * vec4f(wgy[g + plane], wgy[g + plane + row]);
    }
  }
  let o = pair * 8u * p.chunks + chunk;
  wpartial[o] = lo.x;
  wpartial[o + p.chunks] = lo.y;
  wpartial[o + 2u * p.chunks] = lo.z;
  wpartial[o + 3u * p.chunks] = lo.w;
  wpartial[o + 4u * p.chunks] = hi.x;
  wpartial[o + 5u * p.chunks] = hi.y;
  wpartial[o + 6u * p.chunks] = hi.z;
  wpartial[o + 7u * p.chunks] = hi.w;
}
