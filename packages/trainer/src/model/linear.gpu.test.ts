// linearForward and linearBackward (linear.ts) on the GPU against their float64 reference (linear.ref.ts, proved by
// finite differences in linear.test.ts): a frozen adapter stacked under a trainable one whose input goes through LoRA
// dropout, as DPO on top of an SFT adapter trains. The model-level goldens cover neither (their adapters have no
// dropout and none is stacked). The reference's mask is read from the forward's dropped input, so the backward is held
// to the forward's own draw; the dropout kernel's masks are checked against theirs in the kernels' tests.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { Gpu, type Tensor } from '@webtune/kernels';
import { uniform } from '@webtune/kernels/testing';
import { parseModelConfig } from './config.ts';
import { type LoraRef, linearBackwardRef, linearRef } from './linear.ref.ts';
import { type LoraUse, linearBackward, linearForward, loraDropout } from './linear.ts';
import { LoraAdapter, type LoraSlot } from './lora.ts';
import type { LoraConfig } from './lora-config.ts';

/** A one-layer Llama: only its shapes matter here (down_proj: 88 in, 64 out). */
const CONFIG = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 88,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  num_hidden_layers: 1,
  vocab_size: 32,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
});

gpuTest(
  'a LoRA projection forward and backward, a frozen adapter under a trainable one with dropout, against float64',
  async ({ device }) => {
    const gpu = new Gpu(device);
    const N = 6;
    const p = 0.3;
    const lora = (r: number, alpha: number, dropout: number): LoraConfig => ({
      r,
      alpha,
      dropout,
      targetModules: ['down_proj'],
      useRslora: false,
    });
    const adapters = [LoraAdapter.create(gpu, CONFIG, lora(2, 4, 0), 1), LoraAdapter.create(gpu, CONFIG, lora(3, 5, p), 2)];
    // PEFT starts B at zero: give both adapters values everywhere, so every term of the forward and backward counts.
    const params = adapters.map((a, k) => uniform(a.params.size, 10 + k, 0.5));
    for (const [k, a] of adapters.entries()) a.load(params[k]);
    const slots = adapters.map((a) => a.slot(0, 'down_proj') as LoraSlot);
    const { inF, outF } = slots[0];
    const host = { x: uniform(N * inF, 20), W: uniform(outF * inF, 21, 0.2), dy: uniform(N * outF, 22) };
    const x = gpu.upload(host.x, [N, inF], 'x');
    const W = gpu.upload(host.W, [outF, inF], 'W');
    const dy = gpu.upload(host.dy, [N, outF], 'dy');
    const y = gpu.tensor([N, outF], 'y');
    const dx = gpu.tensor([N, inF], 'dx');
    const grads = adapters[1].like('grads');
    const xd = gpu.tensor([N, inF], 'xd');
    const dropout = await loraDropout(gpu, p, x, xd, { dxd: gpu.tensor([N, inF], 'dxd'), dxdDropped: gpu.tensor([N, inF], 'dxd dropped') });
    dropout.forward.setSeed(7);
    dropout.backward?.dispatch.setSeed(7);
    const uses: LoraUse[] = [
      { adapter: adapters[0], slot: slots[0], z: gpu.tensor([N, 2], 'z frozen') },
      { adapter: adapters[1], slot: slots[1], z: gpu.tensor([N, 3], 'z trainable'), grads, dropout },
    ];
    const scratch = new Map<number, Tensor>();
    const u = (r: number) => scratch.get(r) ?? (scratch.set(r, gpu.tensor([N, r], `u ${r}`)).get(r) as Tensor);
    const commands = [
      ...(await linearForward(gpu, 'L0.down_proj', y, x, W, undefined, uses)),
      ...(await linearBackward(gpu, 'L0.down_proj', dx, dy, x, W, uses, u, false)),
    ];
    const [gotY, gotDx, gotGrads, gotXd] = await gpu.runAndRead(commands, [y, dx, grads, xd]);

    // The forward's draw: each input kept (scaled by 1/(1-p)) or dropped, some of each.
    const mask = Float64Array.from(gotXd, (v) => (v === 0 ? 0 : 1 / (1 - p)));
    assertAllClose(
      gotXd,
      Float64Array.from(host.x, (v, i) => v * mask[i]),
      { atol: 0, rtol: 2 ** -23 },
      'dropped input',
    );
    const kept = mask.filter((m) => m > 0).length;
    if (kept === 0 || kept === mask.length) throw new Error(`the mask kept ${kept} of ${mask.length} inputs: nothing to test`);

    const view = (k: number, flat: ArrayLike<number>, which: 'A' | 'B') => {
      const { r } = adapters[k].config;
      const at = which === 'A' ? slots[k].aOffset : slots[k].bOffset;
      return Float64Array.from({ length: which === 'A' ? r * inF : outF * r }, (_, i) => flat[at + i]);
    };
    const refs = (abs: boolean): LoraRef[] =>
      adapters.map((a, k) => {
        const f = (v: ArrayLike<number>) => (abs ? Float64Array.from(v, Math.abs) : Float64Array.from(v));
        return { A: f(view(k, params[k], 'A')), B: f(view(k, params[k], 'B')), r: a.config.r, scale: a.scale, mask: k === 1 ? mask : null };
      });
    const shape = { N, inF, outF };
    const abs = (v: ArrayLike<number>) => Float64Array.from(v, Math.abs);
    const want = { y: linearRef(host.x, host.W, refs(false), shape), ...linearBackwardRef(host.dy, host.x, host.W, refs(false), shape) };
    // Each element's sum of |terms|, for its float32 rounding bound; the longest sum is over inF (+ the ranks).
    const mag = {
      y: linearRef(abs(host.x), abs(host.W), refs(true), shape),
      ...linearBackwardRef(abs(host.dy), abs(host.x), abs(host.W), refs(true), shape),
    };
    const tol = (m: ArrayLike<number>) => reductionTolerance(inF + 5, m);
    assertAllClose(gotY, want.y, tol(mag.y), 'y');
    assertAllClose(gotDx, want.dx, tol(mag.dx), 'dx (W, the frozen adapter, the trainable one through the mask)');
    assertAllClose(view(1, gotGrads, 'A'), want.grads[1].dA, tol(mag.grads[1].dA), 'trainable dA (from the dropped input)');
    assertAllClose(view(1, gotGrads, 'B'), want.grads[1].dB, tol(mag.grads[1].dB), 'trainable dB');
  },
);
