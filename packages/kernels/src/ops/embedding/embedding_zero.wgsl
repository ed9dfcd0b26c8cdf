// Zero dtable before embedding_backward.wgsl adds into it. dtable: [V, C], one thread per element.

const WG = 256u;

struct Params { total: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  dtable[e] = 0.0;
}
