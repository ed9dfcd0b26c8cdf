// Load the PyTorch golden fixtures (test/fixtures/<name>/) in the page, over the test server.
import { parseSafetensors, tensorToFloat32 } from '../src/model/safetensors.ts';

export const FIXTURES = [
  'llama-gqa-bf16',
  'llama-tied-f32',
  'qwen2-bias-f16',
  'qwen3-qknorm-bf16',
  'mistral-window-f32',
  'smollm3-nope-f16',
  'gemma3-sandwich-bf16',
] as const;
export type FixtureName = (typeof FIXTURES)[number];
/**
 * The Llama and Qwen2 fixtures: what the GGUF/merged export (and its float64 forward in export/testing) and the
 * KTO/ORPO/SimPO goldens (make_objective_goldens.py) cover today.
 */
export const LLAMA_QWEN2_FIXTURES = ['llama-gqa-bf16', 'llama-tied-f32', 'qwen2-bias-f16'] as const satisfies readonly FixtureName[];

const BASE = '/packages/trainer/test/fixtures';

export async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function fetchText(path: string): Promise<string> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.text();
}

/** All tensors of a safetensors file as float32, with shapes. */
export function readAll(file: string, bytes: Uint8Array): Map<string, { shape: number[]; data: Float32Array }> {
  const parsed = parseSafetensors(file, bytes);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of parsed.tensors)
    out.set(name, { shape: info.shape, data: tensorToFloat32(file, bytes, parsed.dataOffset, info) });
  return out;
}

export interface Golden {
  inputs: { input_ids: number[][]; attention_mask: number[][]; completion_mask: number[][]; pad_token_id: number; eos_token_id: number };
  num_completion_tokens: number;
  sft_loss: number;
  /** Gemma fixtures: the LoRA model again with final_logit_softcapping set (logits and gradients in golden.safetensors). */
  softcap?: { final_logit_softcapping: number; sft_loss: number; token_logps_lora: number[][] };
  seq_logps_base: number[];
  seq_logps_lora: number[];
  lora: { r: number; lora_alpha: number; use_rslora: boolean; target_modules: string[] };
  dpo: Record<
    string,
    {
      loss: number;
      losses: number[];
      chosen_rewards: number[];
      rejected_rewards: number[];
      /** d loss / d (summed policy log-probs) of each sequence. */
      dloss_dseq_logps: number[];
      beta: number;
      label_smoothing: number;
      loss_type: string;
    }
  >;
}

export interface Fixture {
  name: FixtureName;
  config: string;
  model: Uint8Array;
  golden: Golden;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  adapterConfig: Record<string, unknown>;
  adapter: Map<string, { shape: number[]; data: Float32Array }>;
}

export async function loadFixture(name: FixtureName): Promise<Fixture> {
  const dir = `${BASE}/${name}`;
  const [config, model, golden, goldenBytes, adapterConfig, adapterBytes] = await Promise.all([
    fetchText(`${dir}/config.json`),
    fetchBytes(`${dir}/model.safetensors`),
    fetchText(`${dir}/golden.json`),
    fetchBytes(`${dir}/golden.safetensors`),
    fetchText(`${dir}/adapter/adapter_config.json`),
    fetchBytes(`${dir}/adapter/adapter_model.safetensors`),
  ]);
  return {
    name,
    config,
    model,
    golden: JSON.parse(golden),
    tensors: readAll('golden.safetensors', goldenBytes),
    adapterConfig: JSON.parse(adapterConfig),
    adapter: readAll('adapter_model.safetensors', adapterBytes),
  };
}
