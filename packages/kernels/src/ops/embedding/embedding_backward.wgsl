// Embedding backward: dtable[ids[n], c] += dout[n, c] for every token n; ids >= V are skipped.
// dout: [N, C]; ids: [N]; dtable: [V, C] (zeroed beforehand by embedding_zero.wgsl unless the
// caller accumulates).
//
// Deterministic and race-free without float atomics: one thread owns a column and walks the
// tokens in order, so repeated ids add up in token order and no two threads touch one element.
// Adjacent threads own adjacent columns: each step reads and writes coalesced runs.

const WG = 64u;

struct Params { N: u32, C: u32, V: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid;
  if (c >= p.C) { return; }  // also drops the spare workgroups of a folded grid
  for (var n = 0u; n < p.N; n++) {
    let id = ids[n];
    if (id < p.V) {
      let i = id * p.C + c;
      dtable[i] += dout[n * p.C + c];
    }
  }
}
