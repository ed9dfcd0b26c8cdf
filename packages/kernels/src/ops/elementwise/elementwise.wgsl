// Elementwise ops over flat f32 tensors of n elements, one entry point each:
//   fill:      out = alpha
//   scale:     out = alpha * out
//   axpy:      out = out + alpha * a                      a: [n]
//   add:       out = a + b                                a, b: [n]
//   add_bias:  out[r, c] = out[r, c] + a[c]               out: [n / cols, cols], a: [cols]
//   softcap:   out = alpha * tanh(out / alpha)            (Gemma's final_logit_softcapping, alpha > 0)
// The bindings are ordered so that each entry point uses a prefix of them.
//
// Each thread owns one vec4 (4 elements): tensors are bound as array<vec4f>, which the runtime's
// 16-byte padding of every binding allows. When n is not a multiple of 4 the last vec4 runs past
// the tensor into padding or into the next tensor of a shared flat buffer, so it is stored one
// component at a time and the elements past n are never written.

const WG = 64u;

struct Params { n: u32, alpha: f32, cols: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(2) var<storage, read> a: array<vec4f>;
@group(0) @binding(3) var<storage, read> b: array<vec4f>;

// This thread's vec4 in a grid that gpu.grid() may have folded into y; past the end when
// 4 * index >= n (the folded grid's extra workgroups land there too).
fn vec_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn store(i: u32, v: vec4f) {
  if (4u * i + 4u <= p.n) {
    out[i] = v;
    return;
  }
  for (var j = 0u; 4u * i + j < p.n; j++) { out[i][j] = v[j]; }
}

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  store(i, vec4f(p.alpha));  // never reads out: it may hold NaN
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  store(i, p.alpha * out[i]);
}

@compute @workgroup_size(WG)
fn axpy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  store(i, out[i] + p.alpha * a[i]);
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  store(i, a[i] + b[i]);
}

// tanh from e = exp(-2|u|), of a non-positive number only: tanh(|u|) = (1 - e) / (1 + e), so it neither overflows
// (WGSL's tanh may, through sinh / cosh) nor loses the sign.
@compute @workgroup_size(WG)
fn softcap(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  let u = out[i] / p.alpha;
  let e = exp(-2.0 * abs(u));
  store(i, p.alpha * sign(u) * (1.0 - e) / (1.0 + e));
}

@compute @workgroup_size(WG)
fn add_bias(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = vec_index(wid, nwg, lid);
  if (4u * i >= p.n) { return; }
  // A vec4 may straddle two rows, and the bias need not be 4-aligned: gather it per component.
  var bias: vec4f;
  for (var j = 0u; j < 4u; j++) {
    let c = (4u * i + j) % p.cols;
    bias[j] = a[c / 4u][c % 4u];
  }
  store(i, out[i] + bias);
}
