// Dropout with a counter-based mask:  out[i] = keep(seed, i) ? x[i] * scale : 0      x, out: [n]
//   keep(seed, i) = pcg(pcg(i) ^ seed) >= threshold,  threshold = ceil(p * 2^32),  scale = 1 / (1 - p)
// The mask is a pure function of (seed, i), so the backward is this same kernel with the same
// seed applied to the upstream gradient: nothing is stored between the passes. p = 0 gives
// threshold 0 and scale 1: an exact copy. dropout.ref.ts computes the same hash bit for bit.
//
// Each thread owns one vec4; a partial last vec4 is stored one component at a time so the
// elements past n (another tensor's, in a shared buffer) are never written.

const WG = 64u;

// seed is last: setSeed() rewrites it alone, at byte offset 12.
struct Params { n: u32, threshold: u32, scale: f32, seed: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

// The PCG hash (RXS-M-XS output of one LCG step; Jarzynski & Olano 2020): a bijection of u32
// with good avalanche, in 32-bit integer arithmetic (u32 multiplication wraps).
fn pcg(v: vec4u) -> vec4u {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> vec4u(28u)) + 4u)) ^ state) * 277803737u;
  return (word >> vec4u(22u)) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;  // the grid may be folded into y
  if (4u * i >= p.n) { return; }
  let index = vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u);
  let keep = pcg(pcg(index) ^ vec4u(p.seed)) >= vec4u(p.threshold);
  let v = select(vec4f(0.0), x[i] * p.scale, keep);
  if (4u * i + 4u <= p.n) {
    out[i] = v;
    return;
  }
  for (var j = 0u; 4u * i + j < p.n; j++) { out[i][j] = v[j]; }
}
