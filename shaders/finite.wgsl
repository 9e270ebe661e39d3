// Non-finite detection: counts the NaN and infinite values of a tensor into a counter that stays set
// across launches (a sticky flag), so that many tensors are checked with one read-back at the end.
// The test is on the bits (exponent all ones), which no floating-point optimisation can fold away as
// it may `x != x`. One invocation per element; the workgroup sums its count in workgroup memory and
// adds it to the counter with one atomic, so a tensor full of NaN costs one atomic per workgroup.

override WG: u32 = 256;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>; // f32 values, read as their bits
@group(0) @binding(2) var<storage, read_write> counter: array<atomic<u32>>;

var<workgroup> bad: atomic<u32>;

@compute @workgroup_size(WG)
fn count_nonfinite(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.n && (x[i] & 0x7f800000u) == 0x7f800000u) {
    atomicAdd(&bad, 1u);
  }
  workgroupBarrier();
  if (lid == 0u) {
    let b = atomicLoad(&bad);
    if (b > 0u) {
      atomicAdd(&counter[0], b);
    }
  }
}
