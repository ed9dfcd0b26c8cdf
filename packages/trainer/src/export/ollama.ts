// An Ollama bundle: the model's GGUF, a Modelfile and a README with the two commands that run it. Ollama's TEMPLATE
// is a Go template over .Messages (or .System, .Prompt, .Response), not the Jinja chat template the tokenizer carries,
// so the Modelfile gets a translation for the chat formats webtune recognises, as Ollama's own library writes them
// (ollama/ollama template/chatml.gotmpl at 4a8e5e29421d505cb733648ae06e083316e5d663, template/llama3-instruct.gotmpl
// at 19753c18c01183b4c974e36e89b0c7cbdcc3c38a), with each format's turn markers as stop tokens:
//   chatml (Qwen2/Qwen3, SmolLM, most chatml fine-tunes): <|im_start|>{role}\n{content}<|im_end|>\n
//   llama3 (Llama 3.x instruct): <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
// Another template is left to Ollama, which matches the GGUF's tokenizer.chat_template against the templates it
// knows; the Modelfile says so.
import type { ExportFile } from './files.ts';
import { bytesFile } from './files.ts';

export interface ChatFormat {
  name: 'chatml' | 'llama3';
  template: string;
  stop: string[];
}

// Each has a branch for the whole conversation (.Messages, what `ollama run` and the chat API send) and one for a
// single prompt (.Prompt/.Response, the generate API).
const CHATML: ChatFormat = {
  name: 'chatml',
  template: [
    '{{- if .Messages }}',
    '{{- if .System }}<|im_start|>system',
    '{{ .System }}<|im_end|>',
    '{{ end }}',
    '{{- range .Messages }}<|im_start|>{{ .Role }}',
    '{{ .Content }}<|im_end|>',
    '{{ end }}<|im_start|>assistant',
    '{{ else }}',
    '{{ if .System }}<|im_start|>system',
    '{{ .System }}<|im_end|>',
    '{{ end }}{{ if .Prompt }}<|im_start|>user',
    '{{ .Prompt }}<|im_end|>',
    '{{ end }}<|im_start|>assistant',
    '{{ .Response }}<|im_end|>',
    '{{- end }}',
  ].join('\n'),
  stop: ['<|im_start|>', '<|im_end|>'],
};

const LLAMA3: ChatFormat = {
  name: 'llama3',
  template: [
    '{{- if .Messages }}',
    '{{- if .System }}<|start_header_id|>system<|end_header_id|>',
    '',
    '{{ .System }}<|eot_id|>',
    '{{- end }}',
    '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>',
    '',
    '{{ .Content }}<|eot_id|>',
    '{{- end }}<|start_header_id|>assistant<|end_header_id|>',
    '',
    '{{ else -}}',
    '{{ if .System }}<|start_header_id|>system<|end_header_id|>',
    '',
    '{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>',
    '',
    '{{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>',
    '',
    '{{ .Response }}<|eot_id|>',
    '{{- end -}}',
  ].join('\n'),
  stop: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
};

/** The chat format a Jinja chat template writes, by the turn markers it emits; null for any other. */
export function chatFormat(chatTemplate: string | undefined): ChatFormat | null {
  if (!chatTemplate) return null;
  if (chatTemplate.includes('<|start_header_id|>') && chatTemplate.includes('<|eot_id|>')) return LLAMA3;
  if (chatTemplate.includes('<|im_start|>') && chatTemplate.includes('<|im_end|>')) return CHATML;
  return null;
}

/** Default sampling: Ollama's own defaults, written out so they are there to edit; the context the model was built for, up to 4096. */
function parameters(contextLength: number): [string, string][] {
  return [
    ['temperature', '0.8'],
    ['top_p', '0.9'],
    ['num_ctx', String(Math.min(contextLength, 4096))],
  ];
}

export interface OllamaOptions {
  /** The GGUF file's name inside the bundle. */
  gguf: string;
  /** The model's name as the README suggests it to `ollama create` (lower-case, no spaces). */
  name: string;
  chatTemplate: string | undefined;
  contextLength: number;
}

export function modelfile(o: OllamaOptions): string {
  const format = chatFormat(o.chatTemplate);
  const lines = [`# Ollama Modelfile written by webtune: ollama create ${o.name} -f Modelfile`, `FROM ./${o.gguf}`, ''];
  if (format) {
    lines.push(`# The tokenizer's chat template, ${format.name}, in Ollama's template language.`);
    lines.push(`TEMPLATE """${format.template}"""`, '');
  } else {
    lines.push(
      o.chatTemplate
        ? "# The tokenizer's chat template is not one webtune translates (chatml, llama3): Ollama matches the GGUF's"
        : '# The model has no chat template: prompts go to it as written.',
    );
    if (o.chatTemplate) lines.push('# tokenizer.chat_template against the templates it knows, else passes prompts as written.');
    // No stop line: the template Ollama matches brings its own stops (Gemma 3's <end_of_turn>), which a Modelfile
    // PARAMETER stop would replace (server/create.go setParameters), and llama.cpp ends at the model's EOS by itself.
    lines.push('# Generation ends at the tokens the model marks as its end (EOS), and at the stops of the template Ollama matches.');
    lines.push('');
  }
  for (const s of format?.stop ?? []) lines.push(`PARAMETER stop ${JSON.stringify(s)}`);
  for (const [k, v] of parameters(o.contextLength)) lines.push(`PARAMETER ${k} ${v}`);
  return `${lines.join('\n')}\n`;
}

export function ollamaReadme(o: OllamaOptions, what: string): string {
  const format = chatFormat(o.chatTemplate);
  return [
    `# ${what} for Ollama`,
    '',
    `\`${o.gguf}\` is the model as GGUF; \`Modelfile\` tells Ollama how to run it${format ? ` (the ${format.name} chat format, its stop tokens)` : ''}.`,
    'In this folder:',
    '',
    '```sh',
    `ollama create ${o.name} -f Modelfile`,
    `ollama run ${o.name}`,
    '```',
    '',
    'Sampling defaults (temperature, top_p, num_ctx) are written in the Modelfile: edit them there, then run `ollama create` again.',
    `The same \`${o.gguf}\` runs in llama.cpp (\`llama-cli -m ${o.gguf}\`) and LM Studio.`,
    '',
  ].join('\n');
}

/** Modelfile and README.md beside the GGUF file `gguf`. */
export function ollamaFiles(gguf: ExportFile, o: Omit<OllamaOptions, 'gguf'>, what: string): ExportFile[] {
  const options = { ...o, gguf: gguf.name };
  return [gguf, bytesFile('Modelfile', modelfile(options)), bytesFile('README.md', ollamaReadme(options, what))];
}

/** A name `ollama create` takes: lower-case letters, digits, '-', '_' and '.'. */
export function ollamaName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '');
  return name.slice(0, 60) || 'webtune-model';
}
