// Rotary position embedding, Hugging Face's "rotate half" convention, in place on x.
// For head dim D = 2*HALF and i < HALF, with c = cos[pos, i] and s = sign * sin[pos, i]:
//   x[i]        <- x[i] * c - x[i + HALF] * s
//   x[i + HALF] <- x[i + HALF] * c + x[i] * s
// x: [N, heads, D]; positions: [N], the position of each token row; cos, sin: [P, HALF].
// sign = -1 rotates by -angle: the inverse, which is also the backward (a rotation's transpose).
// Rows whose position is >= P are left as they are. Why the guard: a shader cannot raise an
// error, and WebGPU turns an out-of-bounds read into an implementation-defined one (clamped
// to the buffer, or zero), so without it such a row would be silently rotated by some other
// row's angle, or zeroed, differently on each GPU. Leaving it unrotated is at least the same
// everywhere; the host checks the positions it knows (rope.ts `sequence`) and callers must keep
// the rest below P.
//
// One thread per (row, head, i): adjacent threads read and write adjacent elements.

const WG = 256u;

struct Params { N: u32, heads: u32, half: u32, P: u32, total: u32, sign: f32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> cos_table: array<f32>;
@group(0) @binding(3) var<storage, read> sin_table: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let i = e % p.half;
  let head_row = e / p.half;  // row * heads + head
  let pos = positions[head_row / p.heads];
  if (pos >= p.P) { return; }
  let c = cos_table[pos * p.half + i];
  let s = p.sign * sin_table[pos * p.half + i];
  let lo = head_row * 2u * p.half + i;
  let hi = lo + p.half;
  let a = x[lo];
  let b = x[hi];
  x[lo] = a * c - b * s;
  x[hi] = b * c + a * s;
}
