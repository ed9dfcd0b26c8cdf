// TRL's training chat templates (trl/chat_template_utils.py, get_training_chat_template, and trl/chat_templates/ at
// huggingface/trl f2cd57710ae345ea6428ae95363267fcf38a3dc8, Apache-2.0; copies in trl-templates/, see its README).
// With assistant_only_loss, TRL's SFTTrainer renders every conversational row with a template that marks assistant
// output with {% generation %}: the model's own when it has the markers, else TRL's patched copy of a template it
// knows (an exact match with TRL's copy of the original), else it refuses the run. Only the templates of the models
// webtune is tested with are carried here (Qwen2.5, Qwen3, Gemma 3); for any other, webtune finds the assistant
// turns by rendering prefixes (tokenize.ts).
import { hasGenerationMarkers } from './chat-template.ts';
import gemma3 from './trl-templates/gemma3.jinja?raw';
import gemma3Training from './trl-templates/gemma3_training.jinja?raw';
import qwen25 from './trl-templates/qwen2_5.jinja?raw';
import qwen25Training from './trl-templates/qwen2_5_training.jinja?raw';
import qwen3 from './trl-templates/qwen3.jinja?raw';
import qwen3Training from './trl-templates/qwen3_training.jinja?raw';

const TRAINING_TEMPLATES: readonly (readonly [original: string, training: string])[] = [
  [qwen25, qwen25Training],
  [qwen3, qwen3Training],
  [gemma3, gemma3Training],
];

/** The template TRL renders assistant_only_loss rows with (it has {% generation %} markers), or null when TRL has none. */
export function assistantMaskTemplate(template: string): string | null {
  if (hasGenerationMarkers(template)) return template;
  return TRAINING_TEMPLATES.find(([original]) => original === template)?.[1] ?? null;
}
