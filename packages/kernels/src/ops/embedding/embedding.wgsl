// Embedding lookup: out[n, c] = table[ids[n], c], or 0 when ids[n] >= V (ids are validated by
// the caller; this only keeps the kernel inside the table).
// table: [V, C]; ids: [N]; out: [N, C]. One thread per output element.

const WG = 256u;

struct Params { N: u32, C: u32, V: u32, total: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let id = ids[e / p.C];
  var v = 0.0;
  if (id < p.V) { v = table[id * p.C + e % p.C]; }
  out[e] = v;
}
