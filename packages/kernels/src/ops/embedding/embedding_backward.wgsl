// Embedding backward: dtable[ids[n], c] += dout[n, c] for every token n; ids >= V are skipped.
// dout: [N, C]; ids: [N]; dtable: [V, C] (zeroed beforehand by embedding_zero.wgsl unless the
// caller accumulates).
//
// Deterministic and race-free without float atomics or a sort: one workgroup per token n, and
// the workgroup of a row's first token owns the row (every other one returns). The owner walks
// the tokens in chunks of WG, one id per thread; a tree reduction tells the workgroup whether
// the chunk holds its id at all, and before n (then it is not the owner). For a chunk with
// matches, the threads add those tokens' dout rows into the table row in token order, each
// thread its strided columns (coalesced). Work: N^2 / WG id compares, N * C adds, no pass over
// rows no token touched.

const WG = 256u;

struct Params { N: u32, C: u32, V: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

const MATCH = 1u;    // token base + i has this workgroup's id
const EARLIER = 2u;  // ... and comes before n

var<workgroup> hits: array<u32, WG>;   // per token of the chunk: MATCH | EARLIER bits
var<workgroup> folds: array<u32, WG>;  // OR-reduction scratch
var<workgroup> chunk: u32;             // the OR of the chunk's bits

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x + wid.y * nwg.x;
  if (n >= p.N) { return; }  // uniform per workgroup: drops the spare workgroups of a folded grid
  let id = ids[n];
  if (id >= p.V) { return; }  // uniform: every thread read the same id
  let row = id * p.C;
  for (var base = 0u; base < p.N; base += WG) {
    let m = base + lid;
    var bits = 0u;
    if (m < p.N && ids[m] == id) { bits = select(MATCH, MATCH | EARLIER, m < n); }
    hits[lid] = bits;
    folds[lid] = bits;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) { folds[lid] |= folds[lid + stride]; }
      workgroupBarrier();
    }
    if (lid == 0u) { chunk = folds[0]; }
    let any = workgroupUniformLoad(&chunk);
    if ((any & EARLIER) != 0u) { return; }  // an earlier token owns the row
    if (any != 0u) {
      for (var i = 0u; i < WG; i++) {
        if (hits[i] != 0u) {
          let src = (base + i) * p.C;
          for (var c = lid; c < p.C; c += WG) { dtable[row + c] += dout[src + c]; }
        }
      }
    }
    workgroupBarrier();  // hits and folds are rewritten for the next chunk
  }
}
