// Fast 3D convolution (stride 1, cubic kernel of side KS = 3 or 1, zero padding `pad`) as tiled
// implicit GEMMs, NCDHW tensors, weights [Cout, Cin, KS, KS, KS] (PyTorch layout).
//
// conv (forward and input gradient):
//   C[m, n] = bias[m] + sum over k of A[m, k] * B[k, n]
//   m = output channel, n = output voxel, k = (source channel c, tap t) = c * KS^3 + t
//   B[k, n] = src[c] at voxel n shifted by tap t - pad (zero outside the volume): never materialised
//   forward:    src = x, A = w viewed as [Cout, Cin * KS^3]
//   input grad: src = gy, pad := KS-1-pad, FLIP: A[ci, (co, t)] = w[co, ci, KS^3-1-t] (the flipped,
//               channel-transposed kernel, read in place)
// conv can also write, per output channel and invocation, the count, mean and M2 of its results (the
// statistics of the normalisation that follows); reduce.wgsl's merge_moments folds them per channel.
// wgrad (weight gradient, partial sums over chunks of voxels; sum_partials adds the chunks up):
//   P[s][m, j] = sum over voxels n of chunk s of gy[m, n] * B'[n, j]
//   m = output channel, j = (input channel c, tap t), B'[n, j] = x[c] at voxel n shifted by tap t - pad
//
// A workgroup computes a BM x BN tile of the result. It walks the reduced dimension in slices of
// BK = 12: stages the slice of A and of B in workgroup memory (4 values per vec4 element), then every
// invocation accumulates QM x QN blocks of 4 x 4 results in mat4x4 registers (column = channel): its
// channel quads tm + i TR and column quads tn + j TC, i < QM, j < QN, with TR x TC invocations, so
// that neighbouring invocations read neighbouring vec4s. QM = QN = 2 (8 x 8 results) suits GPUs. A
// CPU adapter (lavapipe) runs the invocations as SIMD lanes and pays a loop over the lanes for every
// memory access, so there QM = QN = 4 (16 x 16 results, half the loads per multiply-add) goes faster
// although the accumulators spill to the stack.
//
// Voxels come in quads of 4 along an output row (rows padded to a multiple of 4: the padding is
// computed, masked and never stored), and the taps of a kernel row in triples (c, kz, ky, kx = 0..2):
// the 12 entries of a triple and a quad read only 6 input values. Each invocation gathers the B
// quads it multiplies, so their coordinates and padding masks are computed once, before the K loop;
// with a single invocation row (TR = 1, the CPU tiling) it gathers them straight into registers, as
// no other invocation needs them.
//
// Loop iterations per invocation (lavapipe silently stops a shader after 65535): conv, ceil(Cin *
// KS^3 / 12) slices of at most 11 (Cin = 2000, KS = 3: 4500 slices); wgrad, `chunk` / 3 slices of at
// most ~60; sum_partials, the chunk count (at most 1024).
//
// Tile sizes are override constants chosen per adapter by src/ops/conv3d_fast.ts: TR = BM / (4 QM)
// in {1, 2, 4}, TC = BN / (4 QN), WG = TR * TC.

override WG: u32 = 64;
override BM: u32 = 16;
override BN: u32 = 256;
override QM: u32 = 2; // channel quads per invocation: 2 or 4
override QN: u32 = 2; // column quads per invocation: 2 or 4
override KS: u32 = 3;
override FLIP: bool = false;
const BK: u32 = 12u;

// Staged operands and register blocks are R (f32). The half-precision variant of this file (the
// runtime's `f16` dispatches: these lines swapped for their `f16:` comments) stages and multiplies in
// f16, and conv adds each slice's 12-step block into f32 totals, so rounding does not grow with K.
// Only conv runs in f16 (inference); wgrad merely compiles there.
const F16 = false; // f16: const F16 = true;
alias R = f32; // f16: alias R = f16;
alias R4 = vec4f; // f16: alias R4 = vec4<f16>;
alias R44 = mat4x4f; // f16: alias R44 = mat4x4<f16>;

var<workgroup> As: array<R4, BK * BM / 4>; // [kk][m / 4]: 4 channels per element
var<workgroup> Bs: array<R4, BK * BN / 4>; // [kk][n / 4]: 4 columns per element

// The invocation's block: a_ij for channel quad i and column quad j. Only ever named (registers);
// those beyond QM x QN are never touched and compile away.
var<private> a00: R44;
var<private> a01: R44;
var<private> a02: R44;
var<private> a03: R44;
var<private> a10: R44;
var<private> a11: R44;
var<private> a12: R44;
var<private> a13: R44;
var<private> a20: R44;
var<private> a21: R44;
var<private> a22: R44;
var<private> a23: R44;
var<private> a30: R44;
var<private> a31: R44;
var<private> a32: R44;
var<private> a33: R44;
// conv's f32 totals of the blocks (fold)
var<private> c00: mat4x4f;
var<private> c01: mat4x4f;
var<private> c02: mat4x4f;
var<private> c03: mat4x4f;
var<private> c10: mat4x4f;
var<private> c11: mat4x4f;
var<private> c12: mat4x4f;
var<private> c13: mat4x4f;
var<private> c20: mat4x4f;
var<private> c21: mat4x4f;
var<private> c22: mat4x4f;
var<private> c23: mat4x4f;
var<private> c30: mat4x4f;
var<private> c31: mat4x4f;
var<private> c32: mat4x4f;
var<private> c33: mat4x4f;

// Adds the blocks into the totals and clears them (only those of the QM x QN in use).
fn fold() {
  c00 += mat4x4f(a00); a00 = R44();
  c01 += mat4x4f(a01); a01 = R44();
  c10 += mat4x4f(a10); a10 = R44();
  c11 += mat4x4f(a11); a11 = R44();
  if (QN == 4u) {
    c02 += mat4x4f(a02); a02 = R44();
    c03 += mat4x4f(a03); a03 = R44();
    c12 += mat4x4f(a12); a12 = R44();
    c13 += mat4x4f(a13); a13 = R44();
  }
  if (QM == 4u) {
    c20 += mat4x4f(a20); a20 = R44();
    c21 += mat4x4f(a21); a21 = R44();
    c30 += mat4x4f(a30); a30 = R44();
    c31 += mat4x4f(a31); a31 = R44();
    if (QN == 4u) {
      c22 += mat4x4f(a22); a22 = R44();
      c23 += mat4x4f(a23); a23 = R44();
      c32 += mat4x4f(a32); a32 = R44();
      c33 += mat4x4f(a33); a33 = R44();
    }
  }
}

// Column c of the result: channel a[c] times the 4 columns b.
fn outer(a: R4, b: R4) -> R44 {
  return R44(a.x * b, a.y * b, a.z * b, a.w * b);
}

// One step kk of a slice: the invocation's channel quads of A (read from the staged slice) times its
// column quads y0 .. y3 (y2, y3 unused when QN = 2).
fn multiply_regs(kk: u32, tm: u32, y0: R4, y1: R4, y2: R4, y3: R4) {
  let tr = BM / (4u * QM);
  let ar = kk * (BM / 4u) + tm;
  let x0 = As[ar];
  let x1 = As[ar + tr];
  a00 += outer(x0, y0);
  a01 += outer(x0, y1);
  a10 += outer(x1, y0);
  a11 += outer(x1, y1);
  if (QN == 4u) {
    a02 += outer(x0, y2);
    a03 += outer(x0, y3);
    a12 += outer(x1, y2);
    a13 += outer(x1, y3);
  }
  if (QM == 4u) {
    let x2 = As[ar + 2u * tr];
    let x3 = As[ar + 3u * tr];
    a20 += outer(x2, y0);
    a21 += outer(x2, y1);
    a30 += outer(x3, y0);
    a31 += outer(x3, y1);
    if (QN == 4u) {
      a22 += outer(x2, y2);
      a23 += outer(x2, y3);
      a32 += outer(x3, y2);
      a33 += outer(x3, y3);
    }
  }
}

// One step kk of a slice with both operands staged.
fn multiply_step(kk: u32, tm: u32, tn: u32) {
  let tc = BN / (4u * QN);
  let br = kk * (BN / 4u) + tn;
  var y2 = R4();
  var y3 = R4();
  if (QN == 4u) {
    y2 = Bs[br + 2u * tc];
    y3 = Bs[br + 3u * tc];
  }
  multiply_regs(kk, tm, Bs[br], Bs[br + tc], y2, y3);
}

// Waits for the staged slices, accumulates the invocation's block over them (the BK = 12 steps written
// out: loop iterations count against the software driver's cut-off, and a loop here costs a third of
// the speed on lavapipe), and waits again before they are overwritten. Uniform control flow.
fn multiply_slice(tm: u32, tn: u32) {
  workgroupBarrier();
  multiply_step(0u, tm, tn);
  multiply_step(1u, tm, tn);
  multiply_step(2u, tm, tn);
  multiply_step(3u, tm, tn);
  multiply_step(4u, tm, tn);
  multiply_step(5u, tm, tn);
  multiply_step(6u, tm, tn);
  multiply_step(7u, tm, tn);
  multiply_step(8u, tm, tn);
  multiply_step(9u, tm, tn);
  multiply_step(10u, tm, tn);
  multiply_step(11u, tm, tn);
  workgroupBarrier();
}

// Bits lo .. hi-1 set: the offsets j < count with 0 <= o + j - pad < size (o + j - pad < size + pad
// always holds for an output coordinate o, so hi > lo).
fn axis_bits(o: u32, size: u32, pad: u32, count: u32) -> u32 {
  let lo = select(0u, pad - o, o < pad);
  let hi = min(count, size + pad - o);
  return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

// (batch, oz, oy) of output row `row` = (batch * od + oz) * oh + oy.
fn row_coords(row: u32, od: u32, oh: u32) -> vec3u {
  let slab = row / oh;
  let nb = slab / od;
  return vec3u(nb, slab - nb * od, row - slab * oh);
}

// Bit kz * KS + ky set: kernel row (kz, ky) of output voxel (oz, oy) lands inside a d x h volume
// padded by pad (the y bits repeated in each KS-bit group kz whose z bit is set).
fn tap_rows(oz: u32, d: u32, oy: u32, h: u32, pad: u32) -> u32 {
  let mz = axis_bits(oz, d, pad, KS);
  let my = axis_bits(oy, h, pad, KS);
  return select(0u, my, (mz & 1u) != 0u) | select(0u, my << KS, (mz & 2u) != 0u) |
    select(0u, my << (2u * KS), (mz & 4u) != 0u);
}

// --- conv ---

struct Params {
  cin: u32, // channels of src (K = cin * KS^3)
  d: u32, h: u32, w: u32, // src volume
  cout: u32, // rows of C
  od: u32, oh: u32, ow: u32, // output volume
  quads: u32, // batch * od * oh * qw: voxel quads
  qw: u32, // quads per output row: ceil(ow / 4)
  pad: u32,
  mtiles: u32, // ceil(cout / BM)
  tiles: u32, // mtiles * ceil(quads / (BN / 4))
  has_bias: u32,
  moments: u32, // 1: also write the moments of the output channels (for a normalisation that follows)
  parts: u32, // with moments: moment partials per channel, (tiles / mtiles) * TC
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // any buffer when has_bias = 0
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// With p.moments: per channel and invocation column, (count, mean, M2) of the raw sums (bias left
// out) over the invocation's voxels, [cout][parts][3]. Bound (to a stand-in) either way. (A uniform,
// not an override constant: naga 29 panics compacting the module when one guards this code.)
@group(0) @binding(5) var<storage, read_write> moments: array<f32>;

// Lanes 0 .. nx-1 of a quad as ones.
fn lane_mask(nx: u32) -> vec4f {
  return select(vec4f(0.0), vec4f(1.0), vec4<bool>(nx > 0u, nx > 1u, nx > 2u, nx > 3u));
}

// (count, mean, M2) of the valid lanes of v0 .. v3 (quads q0 .. q3), two-pass in registers.
fn moments16(v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, q0: Quad, q1: Quad, q2: Quad, q3: Quad) -> vec3f {
  let k0 = lane_mask(q0.nx);
  let k1 = lane_mask(q1.nx);
  let k2 = lane_mask(q2.nx);
  let k3 = lane_mask(q3.nx);
  let n = f32(q0.nx + q1.nx + q2.nx + q3.nx);
  if (n == 0.0) { return vec3f(0.0); }
  let m = (dot(v0, k0) + dot(v1, k1) + dot(v2, k2) + dot(v3, k3)) / n;
  let d0 = (v0 - m) * k0;
  let d1 = (v1 - m) * k1;
  let d2 = (v2 - m) * k2;
  let d3 = (v3 - m) * k3;
  return vec3f(n, m, dot(d0, d0) + dot(d1, d1) + dot(d2, d2) + dot(d3, d3));
}

fn write_moments(m: u32, part: u32, r: vec3f) {
  if (m >= p.cout) { return; }
  let o = 3u * (m * p.parts + part);
  moments[o] = r.x;
  moments[o + 1u] = r.y;
  moments[o + 2u] = r.z;
}

// The moments of channels m .. m+3 (the columns of the blocks b0 .. b3 of quads q0 .. q3).
fn quad_moments(m: u32, part: u32, b0: mat4x4f, b1: mat4x4f, b2: mat4x4f, b3: mat4x4f, q0: Quad, q1: Quad,
                q2: Quad, q3: Quad) {
  write_moments(m, part, moments16(b0[0], b1[0], b2[0], b3[0], q0, q1, q2, q3));
  write_moments(m + 1u, part, moments16(b0[1], b1[1], b2[1], b3[1], q0, q1, q2, q3));
  write_moments(m + 2u, part, moments16(b0[2], b1[2], b2[2], b3[2], q0, q1, q2, q3));
  write_moments(m + 3u, part, moments16(b0[3], b1[3], b2[3], b3[3], q0, q1, q2, q3));
}

// A quad of 4 output voxels x0 .. x0+3 of one row. `base`: src index of tap 0, channel 0, voxel x0
// (wrapping below zero at the borders, where the masks hide it); `zy` bit kz * KS + ky: that (kz, ky)
// lands inside the volume; `xm` bit j: x0 + j - pad lands inside; `dst`: output index of voxel x0 in
// channel 0; `nx`: how many of the 4 voxels exist (0 past the end, < 4 at the end of a row).
struct Quad { base: u32, zy: u32, xm: u32, dst: u32, nx: u32 }

fn quad_at(qi: u32) -> Quad {
  if (qi >= p.quads) { return Quad(0u, 0u, 0u, 0u, 0u); }
  let row = qi / p.qw;
  let x0 = 4u * (qi - row * p.qw);
  let c = row_coords(row, p.od, p.oh);
  let nb = c.x;
  let oz = c.y;
  let oy = c.z;
  let hw = p.h * p.w;
  let zy = tap_rows(oz, p.d, oy, p.h, p.pad);
  return Quad(
    nb * p.cin * p.d * hw + (oz - p.pad) * hw + (oy - p.pad) * p.w + (x0 - p.pad),
    zy,
    axis_bits(x0, p.w, p.pad, KS + 3u),
    (nb * p.cout * p.od + oz) * p.oh * p.ow + oy * p.ow + x0,
    min(4u, p.ow - x0),
  );
}

// A[m, k], zero outside [0, cout) x [0, K).
fn weight(m: u32, k: u32, kdim: u32) -> f32 {
  if (m >= p.cout || k >= kdim) { return 0.0; }
  if (FLIP) {
    let ks3 = KS * KS * KS;
    let co = k / ks3;
    let t = k - co * ks3;
    return wt[(co * p.cout + m) * ks3 + (ks3 - 1u - t)];
  }
  return wt[m * kdim + k];
}

// Stages the A slice: BK * BM / 4 vec4 elements; neighbouring invocations read neighbouring k.
fn stage_a(lid: u32, m0: u32, k0: u32, kdim: u32) {
  for (var u = lid; u < BK * BM / 4u; u += WG) {
    let kk = u % BK;
    let m = m0 + (u / BK) * 4u;
    let k = k0 + kk;
    As[kk * (BM / 4u) + u / BK] = R4(vec4f(weight(m, k, kdim), weight(m + 1u, k, kdim),
                                           weight(m + 2u, k, kdim), weight(m + 3u, k, kdim)));
  }
}

// src[i] where `ok`, else 0. Branch-free: a masked address may lie outside src, which WGSL defines
// (some value of the buffer, or 0), and the value is dropped. The masks below combine their conditions
// with `&`, not `&&`: a short-circuit is a branch, and with dozens of these inlined per slice
// Chromium's SwiftShader took 30 s to forever (past 10 GB) to compile the single-row KS = 1 kernel.
fn src_at(i: u32, ok: bool) -> f32 {
  return select(0.0, src[i], ok);
}

// Rows k, k+1, k+2 (k a multiple of 3) of B for voxel quad q, one per column. KS = 3: the rows are
// taps kx = 0, 1, 2 of one (c, kz, ky), which read src at x0 - pad + 0 .. 5: 6 loads for 12 entries.
// KS = 1: the rows are channels k, k + 1, k + 2.
fn triple_at(k: u32, q: Quad, kdim: u32) -> mat3x4f {
  let hw = p.h * p.w;
  if (KS == 3u) {
    let tri = k / 3u; // c * 9 + kz * 3 + ky
    let c = tri / 9u;
    let zy = tri - c * 9u;
    let kz = zy / 3u;
    let at = q.base + c * p.d * hw + kz * hw + (zy - kz * 3u) * p.w;
    let m = select(0u, q.xm, (k < kdim) & (((q.zy >> zy) & 1u) != 0u));
    let s0 = src_at(at, (m & 1u) != 0u);
    let s1 = src_at(at + 1u, (m & 2u) != 0u);
    let s2 = src_at(at + 2u, (m & 4u) != 0u);
    let s3 = src_at(at + 3u, (m & 8u) != 0u);
    let s4 = src_at(at + 4u, (m & 16u) != 0u);
    let s5 = src_at(at + 5u, (m & 32u) != 0u);
    return mat3x4f(vec4f(s0, s1, s2, s3), vec4f(s1, s2, s3, s4), vec4f(s2, s3, s4, s5));
  }
  return mat3x4f(channel_at(k, q, kdim), channel_at(k + 1u, q, kdim), channel_at(k + 2u, q, kdim));
}

// Row c of B (KS = 1: channel c) for voxel quad q.
fn channel_at(c: u32, q: Quad, kdim: u32) -> vec4f {
  let at = q.base + c * p.d * p.h * p.w;
  let m = select(0u, q.xm, (c < kdim) & (q.zy != 0u));
  return vec4f(src_at(at, (m & 1u) != 0u), src_at(at + 1u, (m & 2u) != 0u), src_at(at + 2u, (m & 4u) != 0u),
               src_at(at + 3u, (m & 8u) != 0u));
}

// Stages rows kk .. kk+2 (k = k0 + kk) of the B slice for voxel quad q at column group g.
fn gather_triple(kk: u32, k: u32, g: u32, q: Quad, kdim: u32) {
  let t = triple_at(k, q, kdim);
  let i = kk * (BN / 4u) + g;
  Bs[i] = R4(t[0]);
  Bs[i + BN / 4u] = R4(t[1]);
  Bs[i + BN / 2u] = R4(t[2]);
}

// With a single invocation row (TR = 1) no other invocation reads this one's B values, so staging them
// would only add a store and a load per value: the triple u of the slice goes from src to registers
// and through its three steps.
fn multiply_triple(u: u32, k0: u32, tm: u32, q0: Quad, q1: Quad, q2: Quad, q3: Quad, kdim: u32) {
  let kk = 3u * u;
  let t0 = triple_at(k0 + kk, q0, kdim);
  let t1 = triple_at(k0 + kk, q1, kdim);
  var t2 = mat3x4f();
  var t3 = mat3x4f();
  if (QN == 4u) {
    t2 = triple_at(k0 + kk, q2, kdim);
    t3 = triple_at(k0 + kk, q3, kdim);
  }
  multiply_regs(kk, tm, R4(t0[0]), R4(t1[0]), R4(t2[0]), R4(t3[0]));
  multiply_regs(kk + 1u, tm, R4(t0[1]), R4(t1[1]), R4(t2[1]), R4(t3[1]));
  multiply_regs(kk + 2u, tm, R4(t0[2]), R4(t1[2]), R4(t2[2]), R4(t3[2]));
}

// Writes channel m of quad q (skipped past cout).
fn store_channel(m: u32, v: vec4f, q: Quad, ov: u32) {
  if (m >= p.cout) { return; }
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[m]; }
  let o = q.dst + m * ov;
  if (q.nx > 0u) { out[o] = v.x + b; }
  if (q.nx > 1u) { out[o + 1u] = v.y + b; }
  if (q.nx > 2u) { out[o + 2u] = v.z + b; }
  if (q.nx > 3u) { out[o + 3u] = v.w + b; }
}

// Writes channels m .. m+3 (the columns of acc) of quad q.
fn store_quad(m: u32, acc: mat4x4f, q: Quad, ov: u32) {
  store_channel(m, acc[0], q, ov);
  store_channel(m + 1u, acc[1], q, ov);
  store_channel(m + 2u, acc[2], q, ov);
  store_channel(m + 3u, acc[3], q, ov);
}

@compute @workgroup_size(WG)
fn conv(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.tiles) { return; } // whole workgroups only: uniform
  // neighbouring workgroups share the voxel tile (and so the gathered input) and differ in channels
  let m0 = (tile % p.mtiles) * BM;
  let g0 = (tile / p.mtiles) * (BN / 4u); // first voxel quad of the tile
  let kdim = p.cin * KS * KS * KS;
  let tr = BM / (4u * QM);
  let tc = BN / (4u * QN);
  let tm = lid / tc;
  let tn = lid % tc;

  // the invocation's voxel quads, gathered for triples tm * tpt .. of every slice (TR > 1)
  let q0 = quad_at(g0 + tn);
  let q1 = quad_at(g0 + tn + tc);
  var q2 = Quad(0u, 0u, 0u, 0u, 0u);
  var q3 = Quad(0u, 0u, 0u, 0u, 0u);
  if (QN == 4u) {
    q2 = quad_at(g0 + tn + 2u * tc);
    q3 = quad_at(g0 + tn + 3u * tc);
  }
  let tpt = BK / 3u / tr;

  for (var k0 = 0u; k0 < kdim; k0 += BK) {
    stage_a(lid, m0, k0, kdim);
    if (tr == 1u) {
      workgroupBarrier();
      multiply_triple(0u, k0, tm, q0, q1, q2, q3, kdim);
      multiply_triple(1u, k0, tm, q0, q1, q2, q3, kdim);
      multiply_triple(2u, k0, tm, q0, q1, q2, q3, kdim);
      multiply_triple(3u, k0, tm, q0, q1, q2, q3, kdim);
      workgroupBarrier();
    } else {
      for (var u = tm * tpt; u < (tm + 1u) * tpt; u++) {
        let kk = 3u * u;
        gather_triple(kk, k0 + kk, tn, q0, kdim);
        gather_triple(kk, k0 + kk, tn + tc, q1, kdim);
        if (QN == 4u) {
          gather_triple(kk, k0 + kk, tn + 2u * tc, q2, kdim);
          gather_triple(kk, k0 + kk, tn + 3u * tc, q3, kdim);
        }
      }
      multiply_slice(tm, tn);
    }
    if (F16) { fold(); }
  }
  fold();

  let ov = p.od * p.oh * p.ow;
  let m1 = m0 + 4u * tm;
  if (p.moments != 0u) {
    // blocks beyond QN are zero and their quads empty (nx = 0): they add nothing
    let part = (tile / p.mtiles) * tc + tn;
    quad_moments(m1, part, c00, c01, c02, c03, q0, q1, q2, q3);
    quad_moments(m1 + 4u * tr, part, c10, c11, c12, c13, q0, q1, q2, q3);
    if (QM == 4u) {
      quad_moments(m1 + 8u * tr, part, c20, c21, c22, c23, q0, q1, q2, q3);
      quad_moments(m1 + 12u * tr, part, c30, c31, c32, c33, q0, q1, q2, q3);
    }
  }
  store_quad(m1, c00, q0, ov);
  store_quad(m1, c01, q1, ov);
  store_quad(m1 + 4u * tr, c10, q0, ov);
  store_quad(m1 + 4u * tr, c11, q1, ov);
  if (QN == 4u) {
    store_quad(m1, c02, q2, ov);
    store_quad(m1, c03, q3, ov);
    store_quad(m1 + 4u * tr, c12, q2, ov);
    store_quad(m1 + 4u * tr, c13, q3, ov);
  }
  if (QM == 4u) {
    store_quad(m1 + 8u * tr, c20, q0, ov);
    store_quad(m1 + 8u * tr, c21, q1, ov);
    store_quad(m1 + 12u * tr, c30, q0, ov);
    store_quad(m1 + 12u * tr, c31, q1, ov);
    if (QN == 4u) {
      store_quad(m1 + 8u * tr, c22, q2, ov);
      store_quad(m1 + 8u * tr, c23, q3, ov);
      store_quad(m1 + 12u * tr, c32, q2, ov);
      store_quad(m1 + 12u * tr, c33, q3, ov);
    }
  }
}

// --- wgrad: partial weight gradients ---
//
// The voxels are the reduced dimension, in quads of 4 along an output row (rows padded to a multiple
// of 4, the padding masked): workgroup (m tile, j tile, chunk s) walks the `chunk` quads of its chunk
// in slices of BK / 4 = 3 quads, so an invocation loops chunk / 3 times whatever the volume. Here the
// staged vec4s run along the voxels: As[kq][m] holds gy of channel m at the 4 voxels of quad kq,
// Bs[kq][j] the shifted x of column j there, and a step multiplies 4 x 4 blocks of them (a 4-voxel
// dot product per result). Column triples (c, kz, ky, kx = 0..2) of one quad read 6 values of x for
// 12 entries, as in conv.

struct WgradParams {
  cin: u32, // channels of x (columns: cin * KS^3)
  d: u32, h: u32, w: u32, // x volume
  cout: u32, // channels of gy (rows)
  od: u32, oh: u32, ow: u32, // gy volume
  quads: u32, // batch * od * oh * qw
  qw: u32, // quads per output row: ceil(ow / 4)
  pad: u32,
  mtiles: u32, // ceil(cout / BM)
  ntiles: u32, // ceil(cin * KS^3 / BN)
  chunk: u32, // quads per chunk, a multiple of 3
  tiles: u32, // mtiles * ntiles * chunks
}

@group(0) @binding(0) var<uniform> q: WgradParams;
@group(0) @binding(1) var<storage, read> ggy: array<f32>;
@group(0) @binding(2) var<storage, read> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>; // [chunks][cout][cin * KS^3]

// A quad of 4 output voxels x0 .. x0+3 of one row. `gy`: gy index of voxel x0 in channel 0; `x`: x
// index of tap 0 in channel 0 (wrapping below zero at the borders, where the masks hide it); `zy` bit
// kz * KS + ky: that (kz, ky) lands inside the volume; `xm` bit j: x0 + j - pad lands inside; `nx`:
// how many of the 4 voxels exist (0 past the chunk).
struct QuadW { gy: u32, x: u32, zy: u32, xm: u32, nx: u32 }

// The quad after pos = (row, quad in row) of the padded output (row = (batch * od + oz) * oh + oy).
fn next_quad(pos: vec2u) -> vec2u {
  return select(vec2u(pos.x, pos.y + 1u), vec2u(pos.x + 1u, 0u), pos.y + 1u == q.qw);
}

// The quad at pos = (row, quad in row), or an empty quad when !live.
fn quad_w(pos: vec2u, live: bool) -> QuadW {
  let row = pos.x;
  let x0 = 4u * pos.y;
  let c = row_coords(row, q.od, q.oh);
  let nb = c.x;
  let oz = c.y;
  let oy = c.z;
  let hw = q.h * q.w;
  let zy = tap_rows(oz, q.d, oy, q.h, q.pad);
  return QuadW(
    (nb * q.cout * q.od + oz) * q.oh * q.ow + oy * q.ow + x0,
    nb * q.cin * q.d * hw + (oz - q.pad) * hw + (oy - q.pad) * q.w + (x0 - q.pad),
    select(0u, zy, live),
    axis_bits(x0, q.w, q.pad, KS + 3u),
    select(0u, min(4u, q.ow - x0), live),
  );
}

// v0, v1 or v2 for kq = 0, 1, 2.
fn pick_quad(kq: u32, v0: QuadW, v1: QuadW, v2: QuadW) -> QuadW {
  if (kq == 0u) { return v0; }
  if (kq == 1u) { return v1; }
  return v2;
}

// x at flat index i when `ok`, else 0 (a masked address may lie outside x: see src_at).
fn x_at(i: u32, ok: bool) -> f32 {
  return select(0.0, gx[i], ok);
}

// Stores column j of quad kq when it falls in the tile [n0, n0 + BN) and below jdim.
fn store_column_w(kq: u32, j: u32, n0: u32, jdim: u32, v: vec4f) {
  if (j >= n0 && j < n0 + BN && j < jdim) { Bs[kq * BN + j - n0] = R4(v); }
}

// Stages the x values of column triple tt (columns 3 tt .. 3 tt + 2, where they fall in the tile) at
// quad kq: KS = 3, one (c, kz, ky) and kx = 0, 1, 2, reading x at x0 - pad + 0 .. 5; KS = 1, the
// channels 3 tt .. 3 tt + 2.
fn gather_triple_w(kq: u32, tt: u32, n0: u32, jdim: u32, v: QuadW) {
  let hw = q.h * q.w;
  let dhw = q.d * hw;
  let j = 3u * tt;
  if (KS == 3u) {
    let c = tt / 9u;
    let zy = tt - c * 9u;
    let kz = zy / 3u;
    let at = v.x + c * dhw + kz * hw + (zy - kz * 3u) * q.w;
    let m = select(0u, v.xm, ((v.zy >> zy) & 1u) != 0u);
    let s0 = x_at(at, (m & 1u) != 0u);
    let s1 = x_at(at + 1u, (m & 2u) != 0u);
    let s2 = x_at(at + 2u, (m & 4u) != 0u);
    let s3 = x_at(at + 3u, (m & 8u) != 0u);
    let s4 = x_at(at + 4u, (m & 16u) != 0u);
    let s5 = x_at(at + 5u, (m & 32u) != 0u);
    store_column_w(kq, j, n0, jdim, vec4f(s0, s1, s2, s3));
    store_column_w(kq, j + 1u, n0, jdim, vec4f(s1, s2, s3, s4));
    store_column_w(kq, j + 2u, n0, jdim, vec4f(s2, s3, s4, s5));
  } else {
    let m = select(0u, v.xm, v.zy != 0u);
    for (var r = 0u; r < 3u; r++) {
      let at = v.x + (j + r) * dhw;
      store_column_w(kq, j + r, n0, jdim, vec4f(x_at(at, (m & 1u) != 0u), x_at(at + 1u, (m & 2u) != 0u),
                                                x_at(at + 2u, (m & 4u) != 0u), x_at(at + 3u, (m & 8u) != 0u)));
    }
  }
}

// One step of the K loop: quad kq of the slice. Result column c of a_ij = channel c of quad i, so
// a_ij += transpose(B) * A with A, B the 4 x 4 blocks (columns: channels, resp. j; rows: voxels).
fn multiply_step_w(kq: u32, tm: u32, tn: u32) {
  let tr = BM / (4u * QM);
  let tc = BN / (4u * QN);
  let ar = kq * BM + 4u * tm;
  let br = kq * BN + 4u * tn;
  let x0 = R44(As[ar], As[ar + 1u], As[ar + 2u], As[ar + 3u]);
  let x1 = R44(As[ar + 4u * tr], As[ar + 4u * tr + 1u], As[ar + 4u * tr + 2u], As[ar + 4u * tr + 3u]);
  let y0 = transpose(R44(Bs[br], Bs[br + 1u], Bs[br + 2u], Bs[br + 3u]));
  let y1 = transpose(R44(Bs[br + 4u * tc], Bs[br + 4u * tc + 1u], Bs[br + 4u * tc + 2u],
                             Bs[br + 4u * tc + 3u]));
  a00 += y0 * x0;
  a01 += y1 * x0;
  a10 += y0 * x1;
  a11 += y1 * x1;
  var y2 = y0;
  var y3 = y0;
  if (QN == 4u) {
    let b2 = br + 8u * tc;
    let b3 = br + 12u * tc;
    y2 = transpose(R44(Bs[b2], Bs[b2 + 1u], Bs[b2 + 2u], Bs[b2 + 3u]));
    y3 = transpose(R44(Bs[b3], Bs[b3 + 1u], Bs[b3 + 2u], Bs[b3 + 3u]));
    a02 += y2 * x0;
    a03 += y3 * x0;
    a12 += y2 * x1;
    a13 += y3 * x1;
  }
  if (QM == 4u) {
    let r2 = ar + 8u * tr;
    let r3 = ar + 12u * tr;
    let x2 = R44(As[r2], As[r2 + 1u], As[r2 + 2u], As[r2 + 3u]);
    let x3 = R44(As[r3], As[r3 + 1u], As[r3 + 2u], As[r3 + 3u]);
    a20 += y0 * x2;
    a21 += y1 * x2;
    a30 += y0 * x3;
    a31 += y1 * x3;
    if (QN == 4u) {
      a22 += y2 * x2;
      a23 += y3 * x2;
      a32 += y2 * x3;
      a33 += y3 * x3;
    }
  }
}

// Writes channel m of column quad j0 .. j0+3 into chunk row `row` (skipped past cout and jdim).
fn store_partial_channel(m: u32, v: vec4f, j0: u32, row: u32, jdim: u32) {
  if (m >= q.cout) { return; }
  let o = row + m * jdim + j0;
  if (j0 < jdim) { partial[o] = v.x; }
  if (j0 + 1u < jdim) { partial[o + 1u] = v.y; }
  if (j0 + 2u < jdim) { partial[o + 2u] = v.z; }
  if (j0 + 3u < jdim) { partial[o + 3u] = v.w; }
}

// Writes channels m .. m+3 (the columns of acc) of column quad j0 .. j0+3.
fn store_partial(m: u32, acc: mat4x4f, j0: u32, row: u32, jdim: u32) {
  store_partial_channel(m, acc[0], j0, row, jdim);
  store_partial_channel(m + 1u, acc[1], j0, row, jdim);
  store_partial_channel(m + 2u, acc[2], j0, row, jdim);
  store_partial_channel(m + 3u, acc[3], j0, row, jdim);
}

@compute @workgroup_size(WG)
fn wgrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= q.tiles) { return; } // whole workgroups only: uniform
  let m0 = (tile % q.mtiles) * BM;
  let rest = tile / q.mtiles;
  let n0 = (rest % q.ntiles) * BN;
  let s = rest / q.ntiles;
  let jdim = q.cin * KS * KS * KS;
  let ov = q.od * q.oh * q.ow;
  let c0 = s * q.chunk;
  let c1 = min(q.quads, c0 + q.chunk);
  let tr = BM / (4u * QM);
  let tc = BN / (4u * QN);
  let tm = lid / tc;
  let tn = lid % tc;
  let tt0 = n0 / 3u; // column triples that overlap the tile
  let units = 3u * ((min(n0 + BN, jdim) - 1u) / 3u - tt0 + 1u);

  for (var k0 = c0; k0 < c1; k0 += 3u) {
    // the slice's 3 quads: (row, quad in row) of the first by division, the next two by stepping
    let row0 = k0 / q.qw;
    let p0 = vec2u(row0, k0 - row0 * q.qw);
    let p1 = next_quad(p0);
    let p2 = next_quad(p1);
    let v0 = quad_w(p0, true);
    let v1 = quad_w(p1, k0 + 1u < c1);
    let v2 = quad_w(p2, k0 + 2u < c1);
    // A slice: gy of channel m at the 4 voxels of quad kq
    for (var u = lid; u < 3u * BM; u += WG) {
      let kq = u % 3u;
      let m = m0 + u / 3u;
      let v = pick_quad(kq, v0, v1, v2);
      let i = v.gy + m * ov;
      let n = select(0u, v.nx, m < q.cout);
      As[kq * BM + u / 3u] = R4(vec4f(select(0.0, ggy[i], n > 0u), select(0.0, ggy[i + 1u], n > 1u),
                                      select(0.0, ggy[i + 2u], n > 2u), select(0.0, ggy[i + 3u], n > 3u)));
    }
    // B slice: column triples x quads
    for (var u = lid; u < units; u += WG) {
      let kq = u % 3u;
      let v = pick_quad(kq, v0, v1, v2);
      gather_triple_w(kq, tt0 + u / 3u, n0, jdim, v);
    }
    workgroupBarrier();
    multiply_step_w(0u, tm, tn);
    multiply_step_w(1u, tm, tn);
    multiply_step_w(2u, tm, tn);
    workgroupBarrier();
  }

  let row = s * q.cout * jdim;
  let m1 = m0 + 4u * tm;
  let j0 = n0 + 4u * tn;
  store_partial(m1, mat4x4f(a00), j0, row, jdim);
  store_partial(m1, mat4x4f(a01), j0 + 4u * tc, row, jdim);
  store_partial(m1 + 4u * tr, mat4x4f(a10), j0, row, jdim);
  store_partial(m1 + 4u * tr, mat4x4f(a11), j0 + 4u * tc, row, jdim);
  if (QN == 4u) {
    store_partial(m1, mat4x4f(a02), j0 + 8u * tc, row, jdim);
    store_partial(m1, mat4x4f(a03), j0 + 12u * tc, row, jdim);
    store_partial(m1 + 4u * tr, mat4x4f(a12), j0 + 8u * tc, row, jdim);
    store_partial(m1 + 4u * tr, mat4x4f(a13), j0 + 12u * tc, row, jdim);
  }
  if (QM == 4u) {
    store_partial(m1 + 8u * tr, mat4x4f(a20), j0, row, jdim);
    store_partial(m1 + 8u * tr, mat4x4f(a21), j0 + 4u * tc, row, jdim);
    store_partial(m1 + 12u * tr, mat4x4f(a30), j0, row, jdim);
    store_partial(m1 + 12u * tr, mat4x4f(a31), j0 + 4u * tc, row, jdim);
    if (QN == 4u) {
      store_partial(m1 + 8u * tr, mat4x4f(a22), j0 + 8u * tc, row, jdim);
      store_partial(m1 + 8u * tr, mat4x4f(a23), j0 + 12u * tc, row, jdim);
      store_partial(m1 + 12u * tr, mat4x4f(a32), j0 + 8u * tc, row, jdim);
      store_partial(m1 + 12u * tr, mat4x4f(a33), j0 + 12u * tc, row, jdim);
    }
  }
}

// --- sum_partials: out[i] = sum over chunks s of partial[s * count + i] ---
// One invocation per weight, looping over the chunks (at most MAX_CHUNKS in src/ops/conv3d_fast.ts).
struct SumParams { count: u32, chunks: u32 }

@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> sin: array<f32>;
@group(0) @binding(2) var<storage, read_write> sout: array<f32>;

@compute @workgroup_size(WG)
fn sum_partials(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= sp.count) { return; }
  var acc = 0.0;
  for (var s = 0u; s < sp.chunks; s++) { acc += sin[s * sp.count + i]; }
  sout[i] = acc;
}

// --- transpose: a [rows, cols] matrix as [cols, rows] ---
// The 1x1x1 forward reads its weights [Cout, Cin] transposed, the way conv's FLIP mode reads them.
struct TransposeParams { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> tp: TransposeParams;
@group(0) @binding(1) var<storage, read> tin: array<f32>;
@group(0) @binding(2) var<storage, read_write> tout: array<f32>;

@compute @workgroup_size(WG)
fn transpose_matrix(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= tp.rows * tp.cols) { return; }
  let r = i / tp.cols;
  tout[(i - r * tp.cols) * tp.rows + r] = tin[i];
}
