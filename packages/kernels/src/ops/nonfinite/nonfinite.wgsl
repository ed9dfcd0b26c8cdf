// flag[0] = 1 when some x[i] is NaN or an infinity (only where w[i] != 0 when WEIGHTED); flag is never set back to 0,
// so one flag gathers several tensors and several steps: the trainer's "do not update" switch for AdamW
// (adamw.wgsl), raised by a non-finite loss term or gradient norm without the host reading either first.
// Finiteness is read from the bits (all exponent bits set), not from x != x: a compiler may assume floats are finite.

const WG = 256u;
const WEIGHTED = false;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;  // the grid may be folded into y
  if (i >= p.n) { return; }
  if (WEIGHTED && w[i] == 0.0) { return; }
  if ((bitcast<u32>(x[i]) & 0x7f800000u) == 0x7f800000u) { atomicOr(&flag[0], 1u); }
}
