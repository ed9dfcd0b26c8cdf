// Embedding lookup: out[n, c] = table[ids[n], c], or 0 when ids[n] >= V (ids are validated by
// the caller; this only keeps the kernel inside the table).
// table: [V, C]; ids: [N]; out: [N, C]. One thread per output element.
// The table is bound as words so that frozen weights can stay in their checkpoint's dtype:
// TABLE_PACK 1 is bf16 and 2 is f16, two to a word (element 2i in the low half), widened exactly.

const WG = 256u;
const TABLE_PACK = 0u;  // 0: f32; 1: bf16 pairs; 2: f16 pairs

struct Params { N: u32, C: u32, V: u32, total: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn table_at(i: u32) -> f32 {
  if (TABLE_PACK == 0u) { return bitcast<f32>(table[i]); }
  let w = table[i / 2u];
  if (TABLE_PACK == 1u) { return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u)); }
  return unpack2x16float(w)[i & 1u];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let id = ids[e / p.C];
  var v = 0.0;
  if (id < p.V) { v = table_at(id * p.C + e % p.C); }
  out[e] = v;
}
