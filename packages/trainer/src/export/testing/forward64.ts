// A plain float64 forward of the decoder (Llama / Qwen2 / Qwen3's q/k norms / SmolLM3's NoPE layers / Gemma 3, as test/fixtures/README.md
// spells the model out), in Node, to check exports without a GPU: merged weights against the PyTorch goldens, and
// llama.cpp's greedy continuations against this model's. Slow (no batching, full recompute per token) and meant for
// the tiny test models only. Gemma 3 (model/arch/gemma3.ts): (1 + w) norms, the four norms per layer, GeGLU, the
// embedding and attention scales, the sliding layers' own RoPE base, the final logit softcap.
import { type ModelConfig, ropeInvFreq } from '../../model/config.ts';
import type { Checkpoint } from '../merge.ts';

export interface Weights {
  config: ModelConfig;
  read(name: string): Float32Array;
}

/** Every tensor of a (tiny) checkpoint read into memory, for the forward's synchronous reads. */
export async function inMemory(m: Checkpoint): Promise<Weights> {
  const tensors = new Map<string, Float32Array>();
  for (const t of m.tensors) tensors.set(t.name, await m.read(t.name));
  return {
    config: m.config,
    read(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`no tensor ${name}`);
      return t.slice();
    },
  };
}

/** RMSNorm times w, or times (1 + w) (Gemma 3's norms, `plusOne`). */
function rms(x: Float64Array, w: Float32Array, eps: number, plusOne = false): Float64Array {
  let s = 0;
  for (const v of x) s += v * v;
  const r = 1 / Math.sqrt(s / x.length + eps);
  return x.map((v, i) => v * r * (plusOne ? 1 + w[i] : w[i]));
}

/** gelu_pytorch_tanh. */
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** y = W x (+ b) for W [out, in] row-major. */
function linear(W: Float32Array, x: Float64Array, b?: Float32Array): Float64Array {
  const inF = x.length;
  const out = new Float64Array(W.length / inF);
  for (let o = 0; o < out.length; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += W[o * inF + i] * x[i];
    out[o] = s;
  }
  return out;
}

/** Qwen3's q_norm / k_norm: RMSNorm over head_dim on each head of `x`, in place. */
function headNorm(x: Float64Array, heads: number, hd: number, w: Float32Array, eps: number, plusOne: boolean): void {
  for (let h = 0; h < heads; h++) x.set(rms(x.subarray(h * hd, (h + 1) * hd), w, eps, plusOne), h * hd);
}

/** HF rotate-half RoPE on each head of `x` in place. */
function rope(x: Float64Array, heads: number, hd: number, pos: number, inv: Float64Array): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = pos * inv[i];
      const c = Math.cos(a);
      const s = Math.sin(a);
      const lo = h * hd + i;
      const x1 = x[lo];
      const x2 = x[lo + half];
      x[lo] = x1 * c - x2 * s;
      x[lo + half] = x2 * c + x1 * s;
    }
  }
}

/** Logits [T - firstLogits, vocab] of the sequence `ids` (positions firstLogits..T-1, causal; greedy needs the last). */
export function forward64(m: Weights, ids: number[], firstLogits = 0): Float64Array[] {
  const c = m.config;
  const cache = new Map<string, Float32Array>();
  const w = (name: string) => {
    const t = cache.get(name) ?? m.read(name);
    cache.set(name, t);
    return t;
  };
  const maybe = (name: string, on: boolean) => (on ? w(name) : undefined);
  const H = c.hiddenSize;
  const hd = c.headDim;
  const one = c.normPlusOne;
  const norm = (x: Float64Array, name: string) => rms(x, w(name), c.rmsNormEps, one);
  const globalInv = ropeInvFreq(c);
  const localInv = c.ropeLocalTheta === null ? globalInv : ropeInvFreq({ ...c, ropeTheta: c.ropeLocalTheta, ropeScaling: null });
  const act = c.mlpActivation === 'gelu_tanh' ? geluTanh : (g: number) => g / (1 + Math.exp(-g));
  const embed = w('model.embed_tokens.weight');
  let xs: Float64Array[] = ids.map((id) => Float64Array.from(embed.subarray(id * H, (id + 1) * H), (v) => v * c.embedScale));
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    const inv = c.layers[l].localRope ? localInv : globalInv;
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    const next: Float64Array[] = [];
    for (const [t, x] of xs.entries()) {
      const h = norm(x, `${p}.input_layernorm.weight`);
      const q = linear(w(`${p}.self_attn.q_proj.weight`), h, maybe(`${p}.self_attn.q_proj.bias`, c.attentionBias.qkv));
      const k = linear(w(`${p}.self_attn.k_proj.weight`), h, maybe(`${p}.self_attn.k_proj.bias`, c.attentionBias.qkv));
      const v = linear(w(`${p}.self_attn.v_proj.weight`), h, maybe(`${p}.self_attn.v_proj.bias`, c.attentionBias.qkv));
      if (c.qkNorm) {
        headNorm(q, c.numHeads, hd, w(`${p}.self_attn.q_norm.weight`), c.rmsNormEps, one);
        headNorm(k, c.numKvHeads, hd, w(`${p}.self_attn.k_norm.weight`), c.rmsNormEps, one);
      }
      if (c.layers[l].rope) {
        rope(q, c.numHeads, hd, t, inv);
        rope(k, c.numKvHeads, hd, t, inv);
      }
      ks.push(k);
      vs.push(v);
      const att = new Float64Array(c.numHeads * hd);
      const group = c.numHeads / c.numKvHeads;
      for (let head = 0; head < c.numHeads; head++) {
        const kv = Math.floor(head / group);
        const window = c.layers[l].window;
        const scores = ks.map((kj, j) => {
          if (window !== null && t - j >= window) return Number.NEGATIVE_INFINITY; // outside the sliding window
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[head * hd + d] * kj[kv * hd + d];
          return s * c.attentionScale;
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (const [j, vj] of vs.entries()) for (let d = 0; d < hd; d++) att[head * hd + d] += (e[j] / sum) * vj[kv * hd + d];
      }
      let o = linear(w(`${p}.self_attn.o_proj.weight`), att, maybe(`${p}.self_attn.o_proj.bias`, c.attentionBias.o));
      if (c.sandwichNorms) o = norm(o, `${p}.post_attention_layernorm.weight`);
      const x1 = x.map((v, i) => v + o[i]);
      const h2 = norm(x1, c.sandwichNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`);
      const g = linear(w(`${p}.mlp.gate_proj.weight`), h2);
      const u = linear(w(`${p}.mlp.up_proj.weight`), h2);
      let d = linear(
        w(`${p}.mlp.down_proj.weight`),
        g.map((gi, i) => act(gi) * u[i]),
      );
      if (c.sandwichNorms) d = norm(d, `${p}.post_feedforward_layernorm.weight`);
      next.push(x1.map((v, i) => v + d[i]));
    }
    xs = next;
  }
  const head = c.tieWordEmbeddings ? embed : w('lm_head.weight');
  const cap = c.finalLogitSoftcap;
  return xs.slice(firstLogits).map((x) => {
    const logits = linear(head, norm(x, 'model.norm.weight'));
    return cap === null ? logits : logits.map((z) => cap * Math.tanh(z / cap));
  });
}

/** Greedy continuation of `prompt` by `n` tokens, with the gap between the best and second-best logit each step. */
export function greedy64(m: Weights, prompt: number[], n: number): { tokens: number[]; margins: number[] } {
  const ids = [...prompt];
  const tokens: number[] = [];
  const margins: number[] = [];
  for (let s = 0; s < n; s++) {
    const logits = forward64(m, ids, ids.length - 1)[0];
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    let second = -Infinity;
    for (let i = 0; i < logits.length; i++) if (i !== best && logits[i] > second) second = logits[i];
    tokens.push(best);
    margins.push(logits[best] - second);
    ids.push(best);
  }
  return { tokens, margins };
}
