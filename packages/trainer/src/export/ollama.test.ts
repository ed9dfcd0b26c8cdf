// The Modelfile and README of an Ollama bundle: the chat template translated for the formats webtune knows, their
// stop tokens, Ollama's sampling defaults, and the two commands.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesFile, fileBytes } from './files.ts';
import { chatFormat, modelfile, ollamaFiles, ollamaName, ollamaReadme } from './ollama.ts';
import { FIXTURE_ROOT } from './testing/node-fixtures.ts';

const templateOf = (fixture: string) =>
  JSON.parse(readFileSync(`${FIXTURE_ROOT}/${fixture}/tokenizer_config.json`, 'utf8')).chat_template as string;
const LLAMA3_TEMPLATE =
  "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}";
const base = { name: 'my-model', contextLength: 32768 };

describe('Ollama Modelfile', () => {
  it('chatml (the Qwen2 fixture): the chatml template, <|im_start|>/<|im_end|> as stops, FROM the GGUF', () => {
    const text = modelfile({ ...base, gguf: 'model.gguf', chatTemplate: templateOf('qwen2-bias-f16') });
    expect(chatFormat(templateOf('qwen2-bias-f16'))?.name).toBe('chatml');
    expect(text).toContain('FROM ./model.gguf\n');
    expect(text).toContain('TEMPLATE """{{- if .Messages }}');
    expect(text).toContain('{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n');
    expect(text).toContain('PARAMETER stop "<|im_start|>"\nPARAMETER stop "<|im_end|>"\n');
    expect(text).toContain('PARAMETER num_ctx 4096\n'); // the model's 32768, capped
    expect(text).toContain('PARAMETER temperature 0.8\n');
  });

  it('llama3 headers: the llama3 template and its three stops', () => {
    const text = modelfile({ ...base, gguf: 'model.gguf', chatTemplate: LLAMA3_TEMPLATE, contextLength: 512 });
    expect(text).toContain('{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>');
    for (const stop of ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']) expect(text).toContain(`PARAMETER stop "${stop}"\n`);
    expect(text).toContain('PARAMETER num_ctx 512\n');
    expect(text).not.toContain('im_start');
  });

  it("another template (the demo model's Question/Answer one) is left to Ollama, said so, with no stop that would replace its own", () => {
    const demo = JSON.parse(readFileSync(`${FIXTURE_ROOT}/../../../../apps/studio/public/demo/model/tokenizer_config.json`, 'utf8'));
    const text = modelfile({ ...base, gguf: 'model.gguf', chatTemplate: demo.chat_template });
    expect(chatFormat(demo.chat_template)).toBeNull();
    expect(text).not.toContain('TEMPLATE');
    expect(text).toMatch(/not one webtune translates \(chatml, llama3\)/);
    // A Modelfile stop replaces the stops of the template Ollama matches (Gemma 3's <end_of_turn>); EOS ends it anyway.
    expect(text).not.toContain('PARAMETER stop');
    expect(text).toContain('# Generation ends at the tokens the model marks as its end (EOS)');
    const none = modelfile({ ...base, gguf: 'model.gguf', chatTemplate: undefined });
    expect(none).toContain('# The model has no chat template: prompts go to it as written.');
  });

  it('the bundle: the GGUF, the Modelfile naming it, a README with the two commands; names Ollama takes', async () => {
    const gguf = bytesFile('model.gguf', new Uint8Array([71, 71, 85, 70]));
    const files = ollamaFiles(gguf, { ...base, chatTemplate: undefined }, 'demo');
    expect(files.map((f) => f.name)).toEqual(['model.gguf', 'Modelfile', 'README.md']);
    const readme = new TextDecoder().decode(await fileBytes(files[2]));
    expect(readme).toContain('ollama create my-model -f Modelfile\nollama run my-model\n');
    expect(ollamaReadme({ ...base, gguf: 'x.gguf', chatTemplate: templateOf('qwen2-bias-f16') }, 'm')).toContain('(the chatml chat format');
    expect(ollamaName('SFT adapter: My Run #2')).toBe('sft-adapter-my-run-2');
    expect(ollamaName('///')).toBe('webtune-model');
  });
});
