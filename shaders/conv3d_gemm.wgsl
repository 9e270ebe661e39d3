// Fast 3D convolution (stride 1, cubic kernel of side KS = 3 or 1, zero padding `pad`) as a tiled
// implicit GEMM, NCDHW tensors, weights [Cout, Cin, KS, KS, KS]:
//
//   C[m, n] = bias[m] + sum over k of A[m, k] * B[k, n]
//   m = output channel, n = output voxel (batch folded in), k = (source channel c, tap t) = c * KS^3 + t
//   B[k, n] = src[c] at voxel n shifted by tap t - pad (zero outside the volume): never materialised
//
//   forward:    src = x, A = w viewed as [Cout, Cin * KS^3]
//   input grad: src = gy, pad := KS-1-pad, FLIP: A[ci, (co, t)] = w[co, ci, KS^3-1-t] (the flipped,
//               channel-transposed kernel, read in place)
//
// A workgroup computes a BM x BN tile of C. It walks K in slices of BK: stages the A slice [BK][BM] and
// the B slice [BK][BN] in workgroup memory (4 values per vec4 element), then every invocation
// accumulates an 8 x 8 block in sixteen vec4 registers: channels {4 tm + i, BM/2 + 4 tm + i} times
// voxels {4 tn + j, BN/2 + 4 tn + j}, i, j < 4 (split in halves so that neighbouring invocations read
// neighbouring vec4s of the tiles). Each invocation gathers B for one fixed group of 4 voxel columns,
// so the voxel coordinates and the padding test (a bit mask of the taps that land inside the volume)
// are computed once, before the K loop; the rows it gathers are consecutive taps.
//
// Loop counts per invocation: ceil(K / BK) slices of BK + 16 BK / BM + 16 BK / BN steps, far below the
// software Vulkan driver's 65535-iteration cut-off (Cin = 768, KS = 3: 1296 slices of 24 to 48 steps).
//
// Tile sizes are override constants, chosen per adapter by src/ops/conv3d_fast.ts: BM a multiple of
// 16 up to 16 BK, BN a multiple of 8 and of 64 / BM... in short BM in {16, 32, 64, 128} and BN in
// {32, 64, 128, 256}, with WG = BM * BN / 64 invocations.

override WG: u32 = 64;
override BM: u32 = 16;
override BN: u32 = 256;
override KS: u32 = 3;
override FLIP: bool = false;
const BK: u32 = 16u;

struct Params {
  cin: u32, // channels of src (K = cin * KS^3)
  d: u32, h: u32, w: u32, // src volume
  cout: u32, // rows of C
  od: u32, oh: u32, ow: u32, // output volume
  nvox: u32, // batch * od * oh * ow
  pad: u32,
  mtiles: u32, // ceil(cout / BM)
  tiles: u32, // mtiles * ceil(nvox / BN)
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // any buffer when has_bias = 0
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> As: array<vec4f, BK * BM / 4>; // [kk][m / 4]: 4 channels per element
var<workgroup> Bs: array<vec4f, BK * BN / 4>; // [kk][n / 4]: 4 voxels per element

// The invocation's 8 x 8 block: c_i / d_i hold channel i (i < 4: first half, i >= 4: second half of
// the tile rows) for the first / second group of 4 voxels. Only ever indexed by name (registers).
var<private> c0: vec4f;
var<private> c1: vec4f;
var<private> c2: vec4f;
var<private> c3: vec4f;
var<private> c4: vec4f;
var<private> c5: vec4f;
var<private> c6: vec4f;
var<private> c7: vec4f;
var<private> d0: vec4f;
var<private> d1: vec4f;
var<private> d2: vec4f;
var<private> d3: vec4f;
var<private> d4: vec4f;
var<private> d5: vec4f;
var<private> d6: vec4f;
var<private> d7: vec4f;

// One step of K: the outer product of 8 channels (a0, a1) and 8 voxels (b0, b1).
fn fma_block(a0: vec4f, a1: vec4f, b0: vec4f, b1: vec4f) {
  c0 = fma(vec4f(a0.x), b0, c0);
  c1 = fma(vec4f(a0.y), b0, c1);
  c2 = fma(vec4f(a0.z), b0, c2);
  c3 = fma(vec4f(a0.w), b0, c3);
  c4 = fma(vec4f(a1.x), b0, c4);
  c5 = fma(vec4f(a1.y), b0, c5);
  c6 = fma(vec4f(a1.z), b0, c6);
  c7 = fma(vec4f(a1.w), b0, c7);
  d0 = fma(vec4f(a0.x), b1, d0);
  d1 = fma(vec4f(a0.y), b1, d1);
  d2 = fma(vec4f(a0.z), b1, d2);
  d3 = fma(vec4f(a0.w), b1, d3);
  d4 = fma(vec4f(a1.x), b1, d4);
  d5 = fma(vec4f(a1.y), b1, d5);
  d6 = fma(vec4f(a1.z), b1, d6);
  d7 = fma(vec4f(a1.w), b1, d7);
}

// One step kk of a slice: the invocation's 8 channels of A times its 8 voxels of B.
fn multiply_step(kk: u32, tm: u32, tn: u32) {
  let ar = kk * (BM / 4u) + tm;
  let br = kk * (BN / 4u) + tn;
  fma_block(As[ar], As[ar + BM / 8u], Bs[br], Bs[br + BN / 8u]);
}

// Waits for the staged slices, accumulates the invocation's block over them (the BK = 16 steps
// written out: loop iterations count against the software driver's cut-off), and waits again before
// they are overwritten. Called in uniform control flow.
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
  multiply_step(12u, tm, tn);
  multiply_step(13u, tm, tn);
  multiply_step(14u, tm, tn);
  multiply_step(15u, tm, tn);
  workgroupBarrier();
}

// Bit t of the result is set when tap t of an axis (0 <= t < KS) lands inside [0, size) from output
// coordinate o (u32 wrap-around makes o + t < pad fail the test).
fn axis_mask(o: u32, size: u32, pad: u32) -> u32 {
  var m = 0u;
  for (var t = 0u; t < KS; t++) {
    if (o + t - pad < size) { m |= 1u << t; }
  }
  return m;
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

// Voxel coordinates of column n: `base` is the src index of tap 0 in channel 0 (wrapping below zero at
// the borders, where the mask hides it), `mask` bit t is set when tap t lands inside the volume.
struct Column { base: u32, mask: u32 }

fn column(n: u32) -> Column {
  if (n >= p.nvox) { return Column(0u, 0u); }
  let ohw = p.oh * p.ow;
  let ov = p.od * ohw;
  let nb = n / ov;
  var r = n - nb * ov;
  let oz = r / ohw;
  r -= oz * ohw;
  let oy = r / p.ow;
  let ox = r - oy * p.ow;
  let hw = p.h * p.w;
  let base = nb * p.cin * p.d * hw + (oz - p.pad) * hw + (oy - p.pad) * p.w + (ox - p.pad);
  let mz = axis_mask(oz, p.d, p.pad);
  let my = axis_mask(oy, p.h, p.pad);
  let mx = axis_mask(ox, p.w, p.pad);
  var mask = 0u;
  for (var kz = 0u; kz < KS; kz++) {
    for (var ky = 0u; ky < KS; ky++) {
      if (((mz >> kz) & (my >> ky) & 1u) != 0u) { mask |= mx << ((kz * KS + ky) * KS); }
    }
  }
  return Column(base, mask);
}

// Stages row kk (k = k0 + kk) of the B slice for the invocation's column group g: 4 voxels at
// src index base + offset of (c, t), where their mask says tap t lands inside. A masked address may
// lie outside src: WGSL defines such reads (some value of the buffer, or 0) and the value is dropped.
fn gather_row(kk: u32, k: u32, g: u32, base: vec4u, mask: vec4u, kdim: u32) {
  let ks3 = KS * KS * KS;
  let c = k / ks3;
  let t = k - c * ks3;
  let kz = t / (KS * KS);
  let ky = (t / KS) % KS;
  let kx = t % KS;
  let hw = p.h * p.w;
  let at = base + vec4u(c * p.d * hw + kz * hw + ky * p.w + kx);
  let ok = (((mask >> vec4u(t)) & vec4u(1u)) != vec4u(0u)) & vec4<bool>(k < kdim);
  Bs[kk * (BN / 4u) + g] = vec4f(select(0.0, src[at.x], ok.x), select(0.0, src[at.y], ok.y),
                                 select(0.0, src[at.z], ok.z), select(0.0, src[at.w], ok.w));
}

// Writes one channel row of the block: two groups of 4 voxels at flat output indices o0, o1 (plus the
// channel offset), skipping voxels past the end and channels past cout.
fn store_row(m: u32, a: vec4f, b: vec4f, o0: vec4u, ok0: vec4<bool>, o1: vec4u, ok1: vec4<bool>, ov: u32) {
  if (m >= p.cout) { return; }
  var bv = 0.0;
  if (p.has_bias != 0u) { bv = bias[m]; }
  let off = m * ov;
  if (ok0.x) { out[o0.x + off] = a.x + bv; }
  if (ok0.y) { out[o0.y + off] = a.y + bv; }
  if (ok0.z) { out[o0.z + off] = a.z + bv; }
  if (ok0.w) { out[o0.w + off] = a.w + bv; }
  if (ok1.x) { out[o1.x + off] = b.x + bv; }
  if (ok1.y) { out[o1.y + off] = b.y + bv; }
  if (ok1.z) { out[o1.z + off] = b.z + bv; }
  if (ok1.w) { out[o1.w + off] = b.w + bv; }
}

// Flat output index (without the channel term) of 4 consecutive voxels, which may straddle a batch
// boundary: (nb * cout) * ov + r for voxel n = nb * ov + r.
fn out_index(n: u32, ov: u32) -> vec4u {
  let vs = vec4u(n, n + 1u, n + 2u, n + 3u);
  let nb = vs / ov;
  return nb * p.cout * ov + (vs - nb * ov);
}

@compute @workgroup_size(WG)
fn conv(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.tiles) { return; } // whole workgroups only: uniform
  // neighbouring workgroups share the voxel tile (and so the gathered input) and differ in channels
  let m0 = (tile % p.mtiles) * BM;
  let n0 = (tile / p.mtiles) * BN;
  let kdim = p.cin * KS * KS * KS;

  // B gathering: column group g (4 voxels), rows r0 .. r0 + RPT - 1 of every slice.
  let rpt = 16u * BK / BM; // rows per invocation: WG / (BN / 4) = BM / 16 invocations share a group
  let g = lid % (BN / 4u);
  let r0 = (lid / (BN / 4u)) * rpt;
  let n = n0 + 4u * g;
  let col0 = column(n);
  let col1 = column(n + 1u);
  let col2 = column(n + 2u);
  let col3 = column(n + 3u);
  let base = vec4u(col0.base, col1.base, col2.base, col3.base);
  let mask = vec4u(col0.mask, col1.mask, col2.mask, col3.mask);

  let tn = lid % (BN / 8u);
  let tm = lid / (BN / 8u);

  for (var k0 = 0u; k0 < kdim; k0 += BK) {
    // A slice: BK * BM / 4 vec4 elements; neighbouring invocations read neighbouring k (coalesced)
    for (var u = lid; u < BK * BM / 4u; u += WG) {
      let kk = u % BK;
      let m = m0 + (u / BK) * 4u;
      let k = k0 + kk;
      As[kk * (BM / 4u) + u / BK] = vec4f(
        weight(m, k, kdim),
        weight(m + 1u, k, kdim),
        weight(m + 2u, k, kdim),
        weight(m + 3u, k, kdim),
      );
    }
    // B slice: 4 voxels x rpt consecutive k, four rows per iteration
    for (var i = 0u; i < rpt; i += 4u) {
      let kk = r0 + i;
      gather_row(kk, k0 + kk, g, base, mask, kdim);
      gather_row(kk + 1u, k0 + kk + 1u, g, base, mask, kdim);
      gather_row(kk + 2u, k0 + kk + 2u, g, base, mask, kdim);
      gather_row(kk + 3u, k0 + kk + 3u, g, base, mask, kdim);
    }
    multiply_slice(tm, tn);
  }

  let ov = p.od * p.oh * p.ow;
  let v0 = n0 + 4u * tn;
  let v1 = v0 + BN / 2u;
  let o0 = out_index(v0, ov);
  let o1 = out_index(v1, ov);
  let ok0 = vec4u(v0, v0 + 1u, v0 + 2u, v0 + 3u) < vec4u(p.nvox);
  let ok1 = vec4u(v1, v1 + 1u, v1 + 2u, v1 + 3u) < vec4u(p.nvox);
  let ma = m0 + 4u * tm;
  let mb = ma + BM / 2u;
  store_row(ma, c0, d0, o0, ok0, o1, ok1, ov);
  store_row(ma + 1u, c1, d1, o0, ok0, o1, ok1, ov);
  store_row(ma + 2u, c2, d2, o0, ok0, o1, ok1, ov);
  store_row(ma + 3u, c3, d3, o0, ok0, o1, ok1, ov);
  store_row(mb, c4, d4, o0, ok0, o1, ok1, ov);
  store_row(mb + 1u, c5, d5, o0, ok0, o1, ok1, ov);
  store_row(mb + 2u, c6, d6, o0, ok0, o1, ok1, ov);
  store_row(mb + 3u, c7, d7, o0, ok0, o1, ok1, ov);
}

// --- wgrad: partial weight gradients ---
//
//   P[s][m, j] = sum over voxels n of chunk s of gy[m, n] * B'[n, j]
//   m = output channel, j = (input channel c, tap t) = c * KS^3 + t, n = output voxel (batch folded in)
//   B'[n, j] = x[c] at voxel n shifted by tap t - pad (zero outside the volume)
//
// The same tiled GEMM with the voxels as K: workgroup (m tile, j tile, chunk s) walks the `chunk`
// voxels of its chunk in slices of BK, so an invocation loops chunk / BK times whatever the volume;
// the host sums the chunks (sum_partials). Each invocation gathers x for one fixed group of 4 columns
// j (their channel and tap offsets computed once) over consecutive voxels, whose coordinates it
// advances step by step.

struct WgradParams {
  cin: u32, // channels of x (columns: cin * KS^3)
  d: u32, h: u32, w: u32, // x volume
  cout: u32, // channels of gy (rows)
  od: u32, oh: u32, ow: u32, // gy volume
  nvox: u32, // batch * od * oh * ow
  pad: u32,
  mtiles: u32, // ceil(cout / BM)
  ntiles: u32, // ceil(cin * KS^3 / BN)
  chunk: u32, // voxels per chunk, a multiple of BK
  tiles: u32, // mtiles * ntiles * chunks
}

@group(0) @binding(0) var<uniform> q: WgradParams;
@group(0) @binding(1) var<storage, read> ggy: array<f32>;
@group(0) @binding(2) var<storage, read> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>; // [chunks][cout][cin * KS^3]

// gy[i] for channel m when m < cout and the voxel is valid, else 0.
fn gy_at(i: u32, m: u32, ok: bool) -> f32 {
  return select(0.0, ggy[i], ok && m < q.cout);
}

// Writes one row of the block: columns j0 + (0..3) and j1 + (0..3) of row `row` (flat offset).
fn store_partial(m: u32, row: u32, a: vec4f, b: vec4f, j0: u32, j1: u32, jdim: u32) {
  if (m >= q.cout) { return; }
  if (j0 < jdim) { partial[row + j0] = a.x; }
  if (j0 + 1u < jdim) { partial[row + j0 + 1u] = a.y; }
  if (j0 + 2u < jdim) { partial[row + j0 + 2u] = a.z; }
  if (j0 + 3u < jdim) { partial[row + j0 + 3u] = a.w; }
  if (j1 < jdim) { partial[row + j1] = b.x; }
  if (j1 + 1u < jdim) { partial[row + j1 + 1u] = b.y; }
  if (j1 + 2u < jdim) { partial[row + j1 + 2u] = b.z; }
  if (j1 + 3u < jdim) { partial[row + j1 + 3u] = b.w; }
}

// The invocation's 4 columns j .. j + 3: tap coordinates (kz, ky, kx) and the x index of each tap
// from the corner voxel (channel c included); tap coordinates are KS (always out of range) past jdim.
struct ColumnsW { kz: vec4u, ky: vec4u, kx: vec4u, off: vec4u }

fn columns_w(j0: u32) -> ColumnsW {
  let ks3 = KS * KS * KS;
  let j = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
  let c = j / ks3;
  let t = j - c * ks3;
  let inside = j < vec4u(q.cin * ks3);
  let kz = select(vec4u(q.d + q.pad), t / (KS * KS), inside);
  let ky = (t / KS) % KS;
  let kx = t % KS;
  let hw = q.h * q.w;
  return ColumnsW(kz, ky, kx, c * q.d * hw + kz * hw + ky * q.w + kx);
}

// The voxel after v = (ox, oy, oz, batch) in the flattened output.
fn next_voxel(v: vec4u) -> vec4u {
  var r = v;
  r.x += 1u;
  if (r.x == q.ow) {
    r.x = 0u;
    r.y += 1u;
    if (r.y == q.oh) {
      r.y = 0u;
      r.z += 1u;
      if (r.z == q.od) {
        r.z = 0u;
        r.w += 1u;
      }
    }
  }
  return r;
}

// Stages row kk of the B slice: x at output voxel v = (ox, oy, oz, batch) shifted by the taps of the
// invocation's 4 columns (zero where a tap leaves the volume, or past the chunk when !live).
fn gather_row_w(kk: u32, live: bool, v: vec4u, g: u32, cols: ColumnsW) {
  // input coordinates of the taps (wrapping below zero: then >= size, invalid)
  let iz = vec4u(v.z - q.pad) + cols.kz;
  let iy = vec4u(v.y - q.pad) + cols.ky;
  let ix = vec4u(v.x - q.pad) + cols.kx;
  let ok = (iz < vec4u(q.d)) & (iy < vec4u(q.h)) & (ix < vec4u(q.w)) & vec4<bool>(live);
  let hw = q.h * q.w;
  let corner = v.w * q.cin * q.d * hw + (v.z - q.pad) * hw + (v.y - q.pad) * q.w + (v.x - q.pad);
  let at = vec4u(corner) + cols.off;
  Bs[kk * (BN / 4u) + g] = vec4f(select(0.0, gx[at.x], ok.x), select(0.0, gx[at.y], ok.y),
                                 select(0.0, gx[at.z], ok.z), select(0.0, gx[at.w], ok.w));
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
  let ohw = q.oh * q.ow;
  let ov = q.od * ohw;
  let v0 = s * q.chunk;
  let v1 = min(q.nvox, v0 + q.chunk);

  // B gathering: column group g (4 consecutive j), rows r0 .. r0 + rpt - 1 of every slice.
  let rpt = 16u * BK / BM;
  let g = lid % (BN / 4u);
  let r0 = (lid / (BN / 4u)) * rpt;
  let cols = columns_w(n0 + 4u * g);

  let tn = lid % (BN / 8u);
  let tm = lid / (BN / 8u);

  for (var k0 = v0; k0 < v1; k0 += BK) {
    // A slice: gy of 4 channels at one voxel per vec4; neighbouring invocations read neighbouring voxels
    for (var u = lid; u < BK * BM / 4u; u += WG) {
      let kk = u % BK;
      let m = m0 + (u / BK) * 4u;
      let n = k0 + kk;
      let nb = n / ov;
      let i = (nb * q.cout + m) * ov + (n - nb * ov);
      let ok = n < v1;
      As[kk * (BM / 4u) + u / BK] = vec4f(gy_at(i, m, ok), gy_at(i + ov, m + 1u, ok),
                                          gy_at(i + 2u * ov, m + 2u, ok), gy_at(i + 3u * ov, m + 3u, ok));
    }
    // B slice: 4 columns x rpt consecutive voxels, four rows per iteration
    let n = k0 + r0;
    let nb = n / ov;
    var r = n - nb * ov;
    let oz = r / ohw;
    r -= oz * ohw;
    let oy = r / q.ow;
    var v = vec4u(r - oy * q.ow, oy, oz, nb);
    for (var i = 0u; i < rpt; i += 4u) {
      let kk = r0 + i;
      gather_row_w(kk, k0 + kk < v1, v, g, cols);
      v = next_voxel(v);
      gather_row_w(kk + 1u, k0 + kk + 1u < v1, v, g, cols);
      v = next_voxel(v);
      gather_row_w(kk + 2u, k0 + kk + 2u < v1, v, g, cols);
      v = next_voxel(v);
      gather_row_w(kk + 3u, k0 + kk + 3u < v1, v, g, cols);
      v = next_voxel(v);
    }
    multiply_slice(tm, tn);
  }

  let j0 = n0 + 4u * tn;
  let j1 = j0 + BN / 2u;
  let ma = m0 + 4u * tm;
  let mb = ma + BM / 2u;
  let row = s * q.cout * jdim;
  store_partial(ma, row + ma * jdim, c0, d0, j0, j1, jdim);
  store_partial(ma + 1u, row + (ma + 1u) * jdim, c1, d1, j0, j1, jdim);
  store_partial(ma + 2u, row + (ma + 2u) * jdim, c2, d2, j0, j1, jdim);
  store_partial(ma + 3u, row + (ma + 3u) * jdim, c3, d3, j0, j1, jdim);
  store_partial(mb, row + mb * jdim, c4, d4, j0, j1, jdim);
  store_partial(mb + 1u, row + (mb + 1u) * jdim, c5, d5, j0, j1, jdim);
  store_partial(mb + 2u, row + (mb + 2u) * jdim, c6, d6, j0, j1, jdim);
  store_partial(mb + 3u, row + (mb + 3u) * jdim, c7, d7, j0, j1, jdim);
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
