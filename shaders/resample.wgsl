// Voxel sampling: resampling by an affine index map and warping by a sampling field, trilinear or
// nearest. One invocation per output voxel (warp), per run of 4 columns of an output row (resampling)
// or per 4 output voxels (nearest on packed uint8 labels, one output word each). They follow
// src/volume/sample.ts exactly: edge replication (the coordinate clamped to [0, n - 1]) unless a fill
// value is given, which is used beyond half a voxel outside the first or last voxel centre; nearest
// rounds ties up (floor(x + 0.5)). The input is one z-slab of the volume: slices zlo .. zlo + depth - 1.
//
// Resampling reads each axis's coordinate from two host-built tables (src/volume/gpu.ts), because the
// CPU computes coordinates in float64 and float32 would pick other voxels near .5 ties:
//   mode 1 (the axis depends on the column i only) and mode 2 (on the row only): the table holds the
//   CPU's own decision: [index, fraction], index -1 when the point is outside and a fill is given;
//   mode 0 (general): the coordinate is row value + column value, each stored as an integer part, a
//   high part (a multiple of 2^-20 in [0, 1]) and a small float32 low part; the integer and high parts
//   add exactly, so decisions are exact up to the low parts' rounding (about 1e-13 voxels).
// Column table: 3 words per axis and column at (a * dnx + i) * 3; row table: 9 words per row of the
// slab at (row * 3 + a) * 3.

override WG: u32 = 64;
// Table modes of the three axes (resampling) and whether a fill value applies, fixed per pipeline so
// that the compiler drops the unused paths.
override MODE_X: u32 = 0u;
override MODE_Y: u32 = 0u;
override MODE_Z: u32 = 0u;
override FILL: bool = false;

struct Params {
  n: u32, // output voxels in this slab
  dnx: u32, // output row length (resampling)
  snx: u32, sny: u32, snz: u32, // input dims
  zlo: u32, depth: u32, // input slab
  fill: u32, // fill as raw bits (f32 for linear, the voxel word for nearest)
}

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// One axis of a sampling point: linear: the clamped floor and fraction; nearest: the clamped index.
struct Axis { i: i32, f: f32, outside: bool }

// A coordinate as integer + high + low parts (see the header); h is normalised into [0, 1).
struct Coord { i: i32, h: f32, l: f32 }

fn coord(i: i32, h: f32, l: f32) -> Coord {
  let fh = floor(h);
  return Coord(i + i32(fh), h - fh, l);
}

// v >= t + 0.5 and v <= t + 0.5 for integer t, exactly: only when the integer part equals t does the
// fraction decide, and 0.5 - h is exact.
fn at_least_half_past(c: Coord, t: i32) -> bool {
  return c.i > t || (c.i == t && c.l >= 0.5 - c.h);
}
fn at_most_half_past(c: Coord, t: i32) -> bool {
  return c.i < t || (c.i == t && c.l <= 0.5 - c.h);
}

fn outside_extent(c: Coord, n: u32) -> bool {
  return !(at_least_half_past(c, -1) && at_most_half_past(c, i32(n) - 1));
}

fn linear_axis(c: Coord, n: u32) -> Axis {
  let out = outside_extent(c, n);
  // floor(v): the low part moves it only across an integer.
  let fl = c.i + select(0, -1, c.l < -c.h) + select(0, 1, c.l >= 1.0 - c.h);
  let last = i32(n) - 1;
  if (fl < 0) { return Axis(0, 0.0, out); }
  if (fl >= last) { return Axis(last, 0.0, out); }
  return Axis(fl, (c.h - f32(fl - c.i)) + c.l, out);
}

fn nearest_axis(c: Coord, n: u32) -> Axis {
  let out = outside_extent(c, n);
  // floor(v + 0.5) with u = h + 0.5 brought into [0, 1) exactly.
  var b = c.i;
  var u = c.h + 0.5;
  if (u >= 1.0) {
    b += 1;
    u -= 1.0;
  }
  let r = b + select(0, -1, c.l < -u) + select(0, 1, c.l >= 1.0 - u);
  return Axis(clamp(r, 0, i32(n) - 1), 0.0, out);
}

// Nearest index of a float32 coordinate: x - floor(x) is exact in float32, x + 0.5 is not.
fn nearest_f32(x: f32, n: u32) -> Axis {
  let out = !(x >= -0.5 && x <= f32(n) - 0.5);
  let f = floor(x);
  let r = i32(f) + select(0, 1, x - f >= 0.5);
  return Axis(clamp(r, 0, i32(n) - 1), 0.0, out);
}

fn linear_f32(x: f32, n: u32) -> Axis {
  let out = !(x >= -0.5 && x <= f32(n) - 0.5);
  let last = f32(n) - 1.0;
  let xc = select(select(x, last, x > last), 0.0, x < 0.0);
  let f = floor(xc);
  return Axis(clamp(i32(f), 0, i32(n) - 1), xc - f, out);
}

fn dim(a: u32) -> u32 {
  return select(select(p.snz, p.sny, a == 1u), p.snx, a == 0u);
}

fn mode(a: u32) -> u32 {
  return select(select(MODE_Z, MODE_Y, a == 1u), MODE_X, a == 0u);
}

// Trilinear interpolation at the three axes, in the order of sampleLinear (x, then y, then z).
fn trilinear(ax: Axis, ay: Axis, az: Axis) -> f32 {
  let zl = clamp(az.i - i32(p.zlo), 0, i32(p.depth) - 1);
  let dx = select(0u, 1u, ax.i < i32(p.snx) - 1);
  let dy = select(0u, p.snx, ay.i < i32(p.sny) - 1);
  let dz = select(0u, p.snx * p.sny, az.i < i32(p.snz) - 1 && zl < i32(p.depth) - 1);
  let i = u32(ax.i) + p.snx * (u32(ay.i) + p.sny * u32(zl));
  let fx = ax.f;
  let fy = ay.f;
  let fz = az.f;
  let c00 = lsrc[i] + fx * (lsrc[i + dx] - lsrc[i]);
  let c10 = lsrc[i + dy] + fx * (lsrc[i + dy + dx] - lsrc[i + dy]);
  let c01 = lsrc[i + dz] + fx * (lsrc[i + dz + dx] - lsrc[i + dz]);
  let c11 = lsrc[i + dz + dy] + fx * (lsrc[i + dz + dy + dx] - lsrc[i + dz + dy]);
  let c0 = c00 + fy * (c10 - c00);
  let c1 = c01 + fy * (c11 - c01);
  return c0 + fz * (c1 - c0);
}

// Input voxel (slab-relative word index) of three nearest axes.
fn nearest_index(ax: Axis, ay: Axis, az: Axis) -> u32 {
  let zl = clamp(az.i - i32(p.zlo), 0, i32(p.depth) - 1);
  return u32(ax.i) + p.snx * (u32(ay.i) + p.sny * u32(zl));
}

fn any_outside(ax: Axis, ay: Axis, az: Axis) -> bool {
  return FILL && (ax.outside || ay.outside || az.outside);
}

// --- resampling by an index map: tables ---
@group(0) @binding(1) var<storage, read> lsrc: array<f32>;
@group(0) @binding(2) var<storage, read> col_tab: array<u32>;
@group(0) @binding(3) var<storage, read> row_tab: array<u32>;
@group(0) @binding(4) var<storage, read_write> lout: array<f32>;

@group(0) @binding(1) var<storage, read> wsrc: array<u32>; // nearest: voxel words or packed bytes
@group(0) @binding(4) var<storage, read_write> wout: array<u32>;

// One axis at output voxel v (column i, slab row r), for linear (lin = true) or nearest sampling.
fn table_axis(a: u32, i: u32, r: u32, lin: bool) -> Axis {
  let c = (a * p.dnx + i) * 3u;
  let q = (r * 3u + a) * 3u;
  let m = mode(a);
  if (m == 1u) {
    let idx = bitcast<i32>(col_tab[c]);
    return Axis(max(idx, 0), bitcast<f32>(col_tab[c + 1u]), idx < 0);
  }
  if (m == 2u) {
    let idx = bitcast<i32>(row_tab[q]);
    return Axis(max(idx, 0), bitcast<f32>(row_tab[q + 1u]), idx < 0);
  }
  let v = coord(
    bitcast<i32>(col_tab[c]) + bitcast<i32>(row_tab[q]),
    bitcast<f32>(col_tab[c + 1u]) + bitcast<f32>(row_tab[q + 1u]),
    bitcast<f32>(col_tab[c + 2u]) + bitcast<f32>(row_tab[q + 2u]),
  );
  if (lin) { return linear_axis(v, dim(a)); }
  return nearest_axis(v, dim(a));
}

// Linear and 32-bit nearest resampling: each invocation covers RUN consecutive columns of one row, so
// the row's work (its index, and the axes that depend on the row alone) is done once.
const RUN: u32 = 4u;

// Invocation w: x = its first column, y = its row in the slab (past the slab when y * dnx >= n).
fn run_of(w: u32) -> vec2u {
  let runs = (p.dnx + RUN - 1u) / RUN;
  let r = w / runs;
  return vec2u((w - r * runs) * RUN, r);
}

// An axis at column i of row r, where `row_only` is its value when it depends on the row alone.
fn axis_in_run(a: u32, i: u32, r: u32, lin: bool, row_only: Axis) -> Axis {
  if (mode(a) == 2u) { return row_only; }
  return table_axis(a, i, r, lin);
}

@compute @workgroup_size(WG)
fn resample_linear(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let run = run_of(index(gid, nwg));
  let r = run.y;
  if (r * p.dnx >= p.n) { return; }
  let hx = table_axis(0u, 0u, r, true);
  let hy = table_axis(1u, 0u, r, true);
  let hz = table_axis(2u, 0u, r, true);
  for (var q = 0u; q < RUN; q++) {
    let i = run.x + q;
    if (i < p.dnx) {
      let ax = axis_in_run(0u, i, r, true, hx);
      let ay = axis_in_run(1u, i, r, true, hy);
      let az = axis_in_run(2u, i, r, true, hz);
      let v = r * p.dnx + i;
      if (any_outside(ax, ay, az)) {
        lout[v] = bitcast<f32>(p.fill);
      } else {
        lout[v] = trilinear(ax, ay, az);
      }
    }
  }
}

// Nearest on 32-bit voxels (float32 images): copies the input word.
@compute @workgroup_size(WG)
fn resample_nearest(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let run = run_of(index(gid, nwg));
  let r = run.y;
  if (r * p.dnx >= p.n) { return; }
  let hx = table_axis(0u, 0u, r, false);
  let hy = table_axis(1u, 0u, r, false);
  let hz = table_axis(2u, 0u, r, false);
  for (var q = 0u; q < RUN; q++) {
    let i = run.x + q;
    if (i < p.dnx) {
      let ax = axis_in_run(0u, i, r, false, hx);
      let ay = axis_in_run(1u, i, r, false, hy);
      let az = axis_in_run(2u, i, r, false, hz);
      wout[r * p.dnx + i] = select(wsrc[nearest_index(ax, ay, az)], p.fill, any_outside(ax, ay, az));
    }
  }
}

// Nearest on packed uint8 voxels (labels): each invocation writes one word, 4 output voxels, which
// may span two rows.
@compute @workgroup_size(WG)
fn resample_nearest8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = index(gid, nwg);
  if (w * 4u >= p.n) { return; }
  var word = 0u;
  for (var q = 0u; q < 4u; q++) {
    let v = w * 4u + q;
    if (v < p.n) {
      let i = v % p.dnx;
      let r = v / p.dnx;
      let ax = table_axis(0u, i, r, false);
      let ay = table_axis(1u, i, r, false);
      let az = table_axis(2u, i, r, false);
      word |= select(byte_at(nearest_index(ax, ay, az)), p.fill & 0xffu, any_outside(ax, ay, az)) << (q * 8u);
    }
  }
  wout[w] = word;
}

fn byte_at(b: u32) -> u32 {
  return (wsrc[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// --- warping by a sampling field: field[3v .. 3v + 2] is the input index of output voxel v ---
@group(0) @binding(2) var<storage, read> field: array<f32>;
@group(0) @binding(3) var<storage, read_write> wlout: array<f32>;
@group(0) @binding(3) var<storage, read_write> wwout: array<u32>;

@compute @workgroup_size(WG)
fn warp_linear(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= p.n) { return; }
  let ax = linear_f32(field[3u * v], p.snx);
  let ay = linear_f32(field[3u * v + 1u], p.sny);
  let az = linear_f32(field[3u * v + 2u], p.snz);
  if (any_outside(ax, ay, az)) {
    wlout[v] = bitcast<f32>(p.fill);
  } else {
    wlout[v] = trilinear(ax, ay, az);
  }
}

fn warp_nearest_at(v: u32) -> vec2u {
  let ax = nearest_f32(field[3u * v], p.snx);
  let ay = nearest_f32(field[3u * v + 1u], p.sny);
  let az = nearest_f32(field[3u * v + 2u], p.snz);
  return vec2u(nearest_index(ax, ay, az), select(0u, 1u, any_outside(ax, ay, az)));
}

@compute @workgroup_size(WG)
fn warp_nearest(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = index(gid, nwg);
  if (v >= p.n) { return; }
  let at = warp_nearest_at(v);
  wwout[v] = select(wsrc[at.x], p.fill, at.y != 0u);
}

@compute @workgroup_size(WG)
fn warp_nearest8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = index(gid, nwg);
  if (w * 4u >= p.n) { return; }
  var word = 0u;
  for (var q = 0u; q < 4u; q++) {
    let v = w * 4u + q;
    if (v < p.n) {
      let at = warp_nearest_at(v);
      word |= select(byte_at(at.x), p.fill & 0xffu, at.y != 0u) << (q * 8u);
    }
  }
  wwout[w] = word;
}
