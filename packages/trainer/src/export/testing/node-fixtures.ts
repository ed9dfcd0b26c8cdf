// The PyTorch golden fixtures (test/fixtures/<name>/) and the demo model read from disk, for Node tests of exports.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readAll } from '../../../test/fixtures.ts';
import type { AdapterRecord } from '../../store/db.ts';
import { importAdapterFiles } from '../../store/export.ts';
import { type Checkpoint, openCheckpointBytes } from '../merge.ts';

export const FIXTURE_ROOT = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
export const DEMO_MODEL = fileURLToPath(new URL('../../../../../apps/studio/public/demo/model/', import.meta.url));

/** Every file of a model folder (not sub-folders), by name. */
export function readFolder(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isFile()) out.set(e.name, new Uint8Array(readFileSync(`${dir}/${e.name}`)));
  return out;
}

export async function loadBase(dir: string): Promise<{ base: Checkpoint; files: Map<string, Uint8Array> }> {
  const files = readFolder(dir);
  const weights = new Map([...files].filter(([n]) => n.endsWith('.safetensors') && !n.startsWith('golden')));
  return { base: await openCheckpointBytes(new TextDecoder().decode(files.get('config.json')), weights), files };
}

/** A fixture's PEFT adapter folder as an adapter record. */
export function loadAdapter(dir: string, method: AdapterRecord['method'] = 'sft'): AdapterRecord {
  const { lora, baseModel, tensors } = importAdapterFiles(readFolder(dir));
  return {
    id: `fixture-${method}`,
    name: `fixture ${method} adapter`,
    createdAt: 0,
    updatedAt: 0,
    baseModel,
    method,
    parentId: null,
    lora,
    trainingConfig: { learning_rate: 0.0002, num_train_epochs: 1, seed: 42 },
    metrics: [{ step: 10, loss: 1.5 }],
    tensors: [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
  };
}

export interface Golden {
  inputs: { input_ids: number[][]; attention_mask: number[][] };
}

export function loadGolden(name: string): { golden: Golden; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  const golden = JSON.parse(readFileSync(`${FIXTURE_ROOT}/${name}/golden.json`, 'utf8')) as Golden;
  return { golden, tensors: readAll('golden.safetensors', new Uint8Array(readFileSync(`${FIXTURE_ROOT}/${name}/golden.safetensors`))) };
}
