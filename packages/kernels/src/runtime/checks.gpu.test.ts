// WebGPU's aliasing rule as the browser enforces it, against requireDisjoint: every case the
// check accepts must run, and every case it rejects must be a validation error. If a browser
// relaxes the rule, this fails and the check (and its doc) should follow.
import { gpuTest } from '@webtune/harness/page';
import { type Named, requireDisjoint } from './checks.ts';
import { type Dispatch, Gpu } from './gpu.ts';
import type { Tensor } from './tensor.ts';

type Access = 'read' | 'read_write';

/** Two storage bindings with the given access, both statically used (layout 'auto' drops unused ones). */
function kernel(a: Access, b: Access) {
  const use = a === 'read_write' ? 'a[0] = b[0];' : b === 'read_write' ? 'b[0] = a[0];' : 'let s = a[0] + b[0];';
  const source = `
@group(0) @binding(0) var<storage, ${a}> a: array<f32>;
@group(0) @binding(1) var<storage, ${b}> b: array<f32>;
@compute @workgroup_size(1) fn main() { ${use} ${a === 'read_write' && b === 'read_write' ? 'b[1] = a[1];' : ''} }`;
  return { name: `aliasing_${a}_${b}`, source };
}

gpuTest('requireDisjoint agrees with what WebGPU rejects for two storage bindings of one dispatch', async ({ device }) => {
  const gpu = new Gpu(device);
  const flat = gpu.tensor([192], 'flat');
  const [first, second, wide] = [flat.view([64], 0, 'first'), flat.view([64], 64, 'second'), flat.view([128], 0, 'wide')];
  const other = gpu.tensor([64], 'other');
  const cases: [string, Access, Tensor, Access, Tensor, boolean][] = [
    ['written and read-only views of one buffer, disjoint', 'read_write', first, 'read', second, true],
    ['written and read-only, separate buffers', 'read_write', first, 'read', other, false],
    ['two written views of one buffer, disjoint', 'read_write', first, 'read_write', second, false],
    ['two written views of one buffer, overlapping', 'read_write', wide, 'read_write', second, true],
    ['two read-only views of one buffer, overlapping', 'read', wide, 'read', second, false],
  ];
  for (const [label, aAccess, a, bAccess, b, rejected] of cases) {
    const named: Named = [
      ['a', a],
      ['b', b],
    ];
    let check = 'accepts';
    try {
      requireDisjoint(
        'aliasing',
        named.filter((_, i) => [aAccess, bAccess][i] === 'read_write'),
        named.filter((_, i) => [aAccess, bAccess][i] === 'read'),
      );
    } catch (err) {
      check = `rejects (${(err as Error).message})`;
    }
    const pipeline = await gpu.pipeline(kernel(aAccess, bAccess));
    const d: Dispatch = { label, pipeline, bindGroup: gpu.bind(pipeline, label, [a, b]), workgroups: [1, 1, 1] };
    let webgpu = 'accepts';
    try {
      await gpu.checked(label, () => gpu.run(d));
    } catch (err) {
      webgpu = `rejects (${(err as Error).message.split('\n')[0]})`;
    }
    const want = rejected ? 'rejects' : 'accepts';
    if (!check.startsWith(want) || !webgpu.startsWith(want)) {
      throw new Error(`${label}: expected both to ${want.slice(0, -1)}; requireDisjoint ${check}, WebGPU ${webgpu}`);
    }
  }
  flat.buffer.destroy();
  other.buffer.destroy();
});
