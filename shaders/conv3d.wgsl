// 3D convolution, stride 1, cubic kernel of side K (override constant, 1 or 3), zero padding `pad` on
// every side; tensors NCDHW, weights [Cout, Cin, K, K, K] (PyTorch layout). Reference kernels: one
// output per invocation, index arithmetic hoisted out of the loops. A K = 3 output loops about 40 times
// per input channel (all loop levels counted), so the software driver's cut-off allows Cin < ~1600.
//
//   forward      out[n,co,o] = b[co] + sum over ci and taps k of x[n,ci,o+k-pad] * w[co,ci,k]
//   flip_weights wf[ci,co,k] = w[co,ci,K-1-k]: the input gradient is `forward` of the output gradient
//                with these weights and padding K-1-pad (a gather: no atomics)
//   grad_weight  partial[wi, chunk] = sum over the chunk's output rows of gy[n,co,o] * x[n,ci,o+k-pad]
//                for weight wi = (co,ci,kd,kh,kw); the host sums the chunks. A chunk is a run of whole
//                output rows (n,od,oh) of about a thousand voxels, so that no invocation loops more
//                than a few thousand times (the software Vulkan driver silently stops a shader after
//                65535 loop iterations).

override WG: u32 = 64;
override K: u32 = 3;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// The k in [lo, hi) with 0 <= o + k - pad < size and k < limit: for an output coordinate o (limit K),
// the taps that land on real input voxels; for a tap o (limit the output size), the outputs that do.
fn span(o: u32, pad: u32, size: u32, limit: u32) -> vec2u {
  let lo = select(0u, pad - o, o < pad);
  let hi = min(limit, size + pad - o);
  return vec2u(lo, max(lo, hi));
}

// --- forward ---
struct FwdParams {
  count: u32, // outputs
  cin: u32,
  cout: u32,
  d: u32, h: u32, w: u32, // input
  od: u32, oh: u32, ow: u32, // output
  pad: u32,
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> fp: FwdParams;
@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fw: array<f32>;
@group(0) @binding(3) var<storage, read> fb: array<f32>; // any buffer when has_bias = 0
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= fp.count) { return; }
  var r = i;
  let ow = r % fp.ow; r = r / fp.ow;
  let oh = r % fp.oh; r = r / fp.oh;
  let od = r % fp.od; r = r / fp.od;
  let co = r % fp.cout;
  let n = r / fp.cout;
  let td = span(od, fp.pad, fp.d, K);
  let th = span(oh, fp.pad, fp.h, K);
  let tw = span(ow, fp.pad, fp.w, K);
  let hw = fp.h * fp.w;
  let dhw = fp.d * hw;
  let kk = K * K;
  var acc = 0.0;
  if (fp.has_bias != 0u) { acc = fb[co]; }
  // input voxel of the first tap in channel ci, and the weight row of (co, ci)
  var xc = n * fp.cin * dhw + (od + td.x - fp.pad) * hw + (oh + th.x - fp.pad) * fp.w + (ow + tw.x - fp.pad);
  var wc = co * fp.cin * kk * K + td.x * kk + th.x * K + tw.x;
  let nw = tw.y - tw.x;
  for (var ci = 0u; ci < fp.cin; ci++) {
    var xd = xc;
    var wd = wc;
    for (var kd = td.x; kd < td.y; kd++) {
      var xh = xd;
      var wh = wd;
      for (var kh = th.x; kh < th.y; kh++) {
        for (var j = 0u; j < nw; j++) {
          acc += fx[xh + j] * fw[wh + j];
        }
        xh += fp.w;
        wh += K;
      }
      xd += hw;
      wd += kk;
    }
    xc += dhw;
    wc += kk * K;
  }
  fout[i] = acc;
}

// --- flip_weights: [Cout, Cin, K, K, K] -> [Cin, Cout, K, K, K], every axis of the kernel reversed ---
struct FlipParams { count: u32, cin: u32, cout: u32 }

@group(0) @binding(0) var<uniform> lp: FlipParams;
@group(0) @binding(1) var<storage, read> lw: array<f32>;
@group(0) @binding(2) var<storage, read_write> lout: array<f32>;

@compute @workgroup_size(WG)
fn flip_weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= lp.count) { return; }
  let k3 = K * K * K;
  let k = i % k3;
  let r = i / k3;
  let co = r % lp.cout;
  let ci = r / lp.cout;
  lout[i] = lw[(co * lp.cin + ci) * k3 + (k3 - 1u - k)];
}

// --- grad_weight: partial sums of the weight gradient, laid out [weights, chunks] ---
struct GwParams {
  cin: u32,
  cout: u32,
  d: u32, h: u32, w: u32, // input
  od: u32, oh: u32, ow: u32, // output
  pad: u32,
  rows: u32, // N * od * oh
  rows_per_chunk: u32,
  chunks: u32,
  weights: u32, // Cout * Cin * K^3
}

@group(0) @binding(0) var<uniform> gp: GwParams;
@group(0) @binding(1) var<storage, read> ggy: array<f32>;
@group(0) @binding(2) var<storage, read> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> gpartial: array<f32>;

@compute @workgroup_size(WG)
fn grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= gp.weights * gp.chunks) { return; }
  // neighbouring invocations take neighbouring weights of one chunk: they read the same voxels
  let chunk = i / gp.weights;
  let wi = i - chunk * gp.weights;
  var r = wi;
  let kw = r % K; r = r / K;
  let kh = r % K; r = r / K;
  let kd = r % K; r = r / K;
  let ci = r % gp.cin;
  let co = r / gp.cin;
  // output columns whose tap kw lands on the input; the rows are checked one by one
  let tw = span(kw, gp.pad, gp.w, gp.ow);
  let ohw = gp.oh * gp.ow;
  let hw = gp.h * gp.w;
  let r0 = chunk * gp.rows_per_chunk;
  let r1 = min(gp.rows, r0 + gp.rows_per_chunk);
  let nw = tw.y - tw.x;
  var s = 0.0;
  for (var row = r0; row < r1; row++) {
    let oh = row % gp.oh;
    let t = row / gp.oh;
    let od = t % gp.od;
    let n = t / gp.od;
    let id = od + kd; // input coordinate + pad
    let ih = oh + kh;
    if (id < gp.pad || id - gp.pad >= gp.d || ih < gp.pad || ih - gp.pad >= gp.h) { continue; }
    let g0 = (n * gp.cout + co) * gp.od * ohw + od * ohw + oh * gp.ow + tw.x;
    let x0 = (n * gp.cin + ci) * gp.d * hw + (id - gp.pad) * hw + (ih - gp.pad) * gp.w + (tw.x + kw - gp.pad);
    for (var j = 0u; j < nw; j++) {
      s += ggy[g0 + j] * gx[x0 + j];
    }
  }
  gpartial[wi * gp.chunks + chunk] = s;
}
