// Bias gradient: dbias[c] (+)= sum_r dy[r, c]        dy: [rows, cols], dbias: [cols]
//
// partial_sums: a workgroup owns COLS adjacent columns (threads along x read adjacent elements
//   of a row: coalesced) of a slab of CHUNK rows; LANES threads per column stride down the slab
//   and one barrier joins their sums. It writes dst[chunk, c]: the slab sums [chunks, cols] for
//   `finish`, or dbias itself when one slab covers all rows.
// finish: one thread per column adds the slab sums in order.
// Every output element has one writer and a fixed summation order: race-free and deterministic.
// With accumulate == 0 the destination is never read (it may hold NaN).

const COLS = 64u;
const LANES = 4u;
const CHUNK = 256u;

struct Params { rows: u32, cols: u32, chunks: u32, col_blocks: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> lane_sums: array<f32, COLS * LANES>;

@compute @workgroup_size(COLS, LANES)
fn partial_sums(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.col_blocks * p.chunks) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let c = (g % p.col_blocks) * COLS + lid.x;
  let chunk = g / p.col_blocks;
  let end = min(p.rows, (chunk + 1u) * CHUNK);
  var s = 0.0;
  if (c < p.cols) {
    for (var r = chunk * CHUNK + lid.y; r < end; r += LANES) { s += src[r * p.cols + c]; }
  }
  lane_sums[lid.y * COLS + lid.x] = s;
  workgroupBarrier();
  if (lid.y != 0u || c >= p.cols) { return; }
  for (var l = 1u; l < LANES; l++) { s += lane_sums[l * COLS + lid.x]; }
  let o = chunk * p.cols + c;
  if (p.accumulate != 0u) { s += dst[o]; }
  dst[o] = s;
}

@compute @workgroup_size(COLS)
fn finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * COLS + lid;
  if (c >= p.cols) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.chunks; k++) { s += src[k * p.cols + c]; }
  if (p.accumulate != 0u) { s += dst[c]; }
  dst[c] = s;
}
