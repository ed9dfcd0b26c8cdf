// Every architecture webtune trains, by its `architectures` name; one module each, beside Llama's.
import { gemma3 } from './gemma3.ts';
import { llama } from './llama.ts';
import { mistral } from './mistral.ts';
import { qwen2, qwen3 } from './qwen.ts';
import { smollm3 } from './smollm3.ts';
import type { ArchitectureSpec } from './spec.ts';

export const ARCHITECTURE_SPECS: readonly ArchitectureSpec[] = [llama, qwen2, qwen3, mistral, smollm3, gemma3];
