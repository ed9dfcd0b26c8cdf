// Eval numbers with real tokenizers equal PyTorch's on the golden ids: a tiny random checkpoint with the real
// vocabulary (Qwen3's 151,936 rows under TRL's Qwen3 template, whose assistant masks span several turns; Llama 3.2's
// 128,256 with its BOS; Mistral V1's 32,000 SentencePiece pieces with byte fallback under Mistral 7B Instruct
// v0.2's template) is loaded through the service with the real tokenizer files, the golden rows are read as a user's
// dataset (one file per format), and the SFT evaluation (loss, tokens) must equal the float64 PyTorch forward on the
// ids recorded by test/tokenizers/make_goldens.py (test/tokenizers/make_real_vocab.py). One test per vocabulary, on
// the shared service, with the fixture model put back: a device of its own would compile every pipeline again.
import { assertAllClose, gpuTest } from '@webtune/harness/page';
import { check, FIXTURE, FIXTURE_URL, service } from '../../test/engine.ts';
import { fetchBytes, fetchText } from '../../test/fixtures.ts';

const HERE = '/packages/trainer/test/tokenizers';
const MAX_LENGTH = 4096;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Golden {
  tokenizer: string;
  rows: { name: string; format: string; sum_logps: number; tokens: number }[];
  /** By format (a dataset file holds one): the SFT eval loss and token count of its rows. */
  eval: Record<string, { loss: number; num_tokens: number }>;
}
interface Goldens {
  now: string;
  tokenizers: {
    name: string;
    package: string;
    template: string | null;
    cases: { row: { name: string; prompt?: unknown; chat_template_kwargs?: Record<string, unknown> }; ids?: number[] }[];
  }[];
}

for (const folder of ['qwen3-vocab', 'llama3_2-vocab', 'mistral-v1-vocab'])
  gpuTest(`real vocabulary ${folder}: eval losses equal PyTorch's on the golden ids`, async () => {
    const goldens = JSON.parse(await fetchText(`${HERE}/goldens.json`)) as Goldens;
    const svc = await service();
    try {
      const golden = JSON.parse(await fetchText(`${HERE}/real-vocab/${folder}/golden.json`)) as Golden;
      const entry = goldens.tokenizers.find((t) => t.name === golden.tokenizer);
      check(entry, `goldens.json has no tokenizer named ${golden.tokenizer}`);
      const models = `/packages/trainer/node_modules/${entry.package}/models`;
      const tokenizerConfig = JSON.parse(await fetchText(`${models}/tokenizer_config.json`));
      if (entry.template) tokenizerConfig.chat_template = await fetchText(`${HERE}/${entry.template}`);
      const files = new Map<string, Blob>([
        ['config.json', new Blob([await fetchText(`${HERE}/real-vocab/${folder}/config.json`)])],
        ['model.safetensors', new Blob([(await fetchBytes(`${HERE}/real-vocab/${folder}/model.safetensors`)).slice()])],
        ['tokenizer.json', new Blob([await fetchText(`${models}/tokenizer.json`)])],
        ['tokenizer_config.json', new Blob([JSON.stringify(tokenizerConfig)])],
      ]);
      // The page's clock is today's; Llama 3.2's template takes date_string before strftime_now, so each row carries
      // the date the goldens were rendered on (strftime_now pinned, "%d %b %Y").
      const now = new Date(goldens.now);
      const date = `${String(now.getDate()).padStart(2, '0')} ${MONTHS[now.getMonth()]} ${now.getFullYear()}`;
      const rows = entry.cases
        .filter((c) => c.ids !== undefined)
        .map(({ row: { name: _, ...row } }) =>
          JSON.stringify(
            typeof row.prompt === 'string' ? row : { ...row, chat_template_kwargs: { ...row.chat_template_kwargs, date_string: date } },
          ),
        );
      check(
        rows.length === golden.rows.length,
        `${rows.length} golden rows have ids, ${golden.rows.length} PyTorch rows: run make_real_vocab.py again`,
      );

      await svc.loadModel({ kind: 'files', files, id: folder });
      for (const [format, want] of Object.entries(golden.eval)) {
        const picked = golden.rows.flatMap((r, i) => (r.format === format ? [rows[i]] : []));
        const summary = await svc.loadDataset('sft', `${picked.join('\n')}\n`, `${format}.jsonl`, MAX_LENGTH);
        check(summary.kept === picked.length && summary.format === format, `${format} dataset: ${JSON.stringify(summary)}`);
        const result = (await svc.evaluate({ datasetId: summary.id })) as { loss: number; num_tokens: number };
        check(result.num_tokens === want.num_tokens, `${folder} ${format}: num_tokens ${result.num_tokens}, PyTorch ${want.num_tokens}`);
        // float32 log-softmax over ~150k logits (|logit| < 10): each token's log-prob within ~1e-5 of float64.
        assertAllClose([result.loss], [want.loss], { atol: 2e-5, rtol: 1e-6 }, `${folder} ${format} eval loss`);
      }
    } finally {
      await svc.loadModel({ kind: 'url', baseUrl: FIXTURE_URL, id: FIXTURE });
    }
  });
