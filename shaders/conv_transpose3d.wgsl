// Transposed 3D convolution with kernel 2x2x2 and stride 2 (the U-Net up-convolution): x [N, Cin, D,
// H, W], w [Cin, Cout, 2, 2, 2] (PyTorch layout), out [N, Cout, 2D, 2H, 2W]. Every output voxel has
// exactly one input voxel and one tap, so both directions are gathers without atomics:
//
//   forward      out[n,co,2d+a,2h+b,2w+c] = bias[co] + sum_ci x[n,ci,d,h,w] * w[ci,co,a,b,c]
//   grad_input   gx[n,ci,d,h,w] = sum over co and the 8 taps (a,b,c) of gy[n,co,2d+a,2h+b,2w+c] * w[ci,co,a,b,c]
//   grad_weight  partial[wi, chunk] = sum over the chunk's input rows (n,d,h) of x * gy for weight wi =
//                (ci,co,a,b,c); the host sums the chunks. Chunks of about a thousand voxels keep every
//                invocation far below the software Vulkan driver's 65535-iteration cut-off.

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

// --- forward ---
@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fw: array<f32>;
@group(0) @binding(3) var<storage, read> fb: array<f32>; // any buffer when has_bias = 0
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.count) { return; }
  let ow = 2u * p.w;
  let oh = 2u * p.h;
  let od = 2u * p.d;
  var r = i;
  let x = r % ow; r = r / ow;
  let y = r % oh; r = r / oh;
  let z = r % od; r = r / od;
  let co = r % p.cout;
  let n = r / p.cout;
  let dhw = p.d * p.h * p.w;
  var xi = n * p.cin * dhw + ((z >> 1u) * p.h + (y >> 1u)) * p.w + (x >> 1u);
  var wi = co * 8u + (z & 1u) * 4u + (y & 1u) * 2u + (x & 1u);
  var acc = 0.0;
  if (p.has_bias != 0u) { acc = fb[co]; }
  for (var ci = 0u; ci < p.cin; ci++) {
    acc += fx[xi] * fw[wi];
    xi += dhw;
    wi += p.cout * 8u;
  }
  fout[i] = acc;
}

// --- grad_input ---
@group(0) @binding(1) var<storage, read> igy: array<f32>;
@group(0) @binding(2) var<storage, read> iw: array<f32>;
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
  let ow = 2u * p.w;
  let ohw = 4u * p.h * p.w;
  let odhw = 2u * p.d * ohw;
  // the 2x2x2 block of gy this voxel produced, in channel co
  var g = n * p.cout * odhw + 2u * z * ohw + 2u * y * ow + 2u * x;
  var wi = ci * p.cout * 8u;
  var s = 0.0;
  for (var co = 0u; co < p.cout; co++) {
    s += igy[g] * iw[wi] + igy[g + 1u] * iw[wi + 1u]
       + igy[g + ow] * iw[wi + 2u] + igy[g + ow + 1u] * iw[wi + 3u]
       + igy[g + ohw] * iw[wi + 4u] + igy[g + ohw + 1u] * iw[wi + 5u]
       + igy[g + ohw + ow] * iw[wi + 6u] + igy[g + ohw + ow + 1u] * iw[wi + 7u];
    g += odhw;
    wi += 8u;
  }
  igx[i] = s;
}

// --- grad_weight: partial sums laid out [Cin * Cout * 8, chunks] ---
@group(0) @binding(1) var<storage, read> wgy: array<f32>;
@group(0) @binding(2) var<storage, read> wx: array<f32>;
@group(0) @binding(3) var<storage, read_write> wpartial: array<f32>;

@compute @workgroup_size(WG)
fn grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= p.count) { return; }
  let weights = p.cin * p.cout * 8u;
  // neighbouring invocations take neighbouring weights of one chunk: they read the same voxels
  let chunk = i / weights;
  let wi = i - chunk * weights;
  let c = wi & 1u;
  let b = (wi >> 1u) & 1u;
  let a = (wi >> 2u) & 1u;
  let co = (wi >> 3u) % p.cout;
  let ci = (wi >> 3u) / p.cout;
  let ow = 2u * p.w;
  let ohw = 4u * p.h * p.w;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(p.rows, r0 + p.rows_per_chunk);
  var s = 0.0;
  for (var row = r0; row < r1; row++) {
    let y = row % p.h;
    let t = row / p.h;
    let z = t % p.d;
    let n = t / p.d;
    let x0 = ((n * p.cin + ci) * p.d + z) * p.h * p.w + y * p.w;
    let g0 = ((n * p.cout + co) * 2u * p.d + 2u * z + a) * ohw + (2u * y + b) * ow + c;
    for (var x = 0u; x < p.w; x++) {
      s += wx[x0 + x] * wgy[g0 + 2u * x];
    }
  }
  wpartial[wi * p.chunks + chunk] = s;
}
