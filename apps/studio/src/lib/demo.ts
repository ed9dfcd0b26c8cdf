// What ships with the page under demo/ (relative to the page, so the build works from any path): a small model in
// demo/model/ and example datasets in demo/data/. The datasets are listed by demo/data/index.json when it exists
// ([{ "file": "sft.jsonl", "method": "sft", "title": "...", "description": "..." }, ...]); otherwise the
// conventional names sft.jsonl and dpo.jsonl are looked for.

export interface DemoDataset {
  file: string;
  url: string;
  method: 'sft' | 'dpo';
  title: string;
  description: string;
}

export interface DemoModel {
  url: string;
  /** What PEFT's base_model_name_or_path will say: config.json's "_name_or_path", else "webtune-demo". */
  id: string;
}

const here = (path: string) => new URL(path, document.baseURI).href;

async function exists(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'HEAD', cache: 'no-cache' });
    return res.ok && !/text\/html/.test(res.headers.get('content-type') ?? '');
  } catch {
    return false;
  }
}

export async function findDemoModel(): Promise<DemoModel | null> {
  const url = here('demo/model/');
  try {
    const res = await fetch(new URL('config.json', url), { cache: 'no-cache' });
    if (!res.ok) return null;
    const config = (await res.json()) as { _name_or_path?: unknown };
    const id = typeof config._name_or_path === 'string' && config._name_or_path.trim() ? config._name_or_path.trim() : 'webtune-demo';
    return { url, id };
  } catch {
    return null; // missing, or an SPA host answering every path with index.html
  }
}

export async function findDemoDatasets(): Promise<DemoDataset[]> {
  const base = here('demo/data/');
  try {
    const res = await fetch(new URL('index.json', base), { cache: 'no-cache' });
    if (res.ok) {
      const json = (await res.json()) as unknown;
      const list = (Array.isArray(json) ? json : ((json as { datasets?: unknown }).datasets ?? [])) as Record<string, unknown>[];
      return list
        .filter((d) => typeof d?.file === 'string')
        .map((d) => {
          const file = d.file as string;
          const method = d.method === 'dpo' || d.method === 'sft' ? d.method : /dpo|pref/i.test(file) ? 'dpo' : 'sft';
          return {
            file,
            url: new URL(file, base).href,
            method,
            title: typeof d.title === 'string' ? d.title : file,
            description: typeof d.description === 'string' ? d.description : '',
          };
        });
    }
  } catch {
    // no manifest: probe the conventional names
  }
  const found: DemoDataset[] = [];
  for (const [file, method, title] of [
    ['sft.jsonl', 'sft', 'Demo SFT dataset'],
    ['dpo.jsonl', 'dpo', 'Demo DPO preference pairs'],
  ] as const) {
    const url = new URL(file, base).href;
    if (await exists(url)) found.push({ file, url, method, title, description: '' });
  }
  return found;
}

/** Held-out prompts the demo ships for comparing models (demo/data/eval-prompts.jsonl), or none. */
export async function findDemoPrompts(): Promise<string> {
  try {
    const res = await fetch(here('demo/data/eval-prompts.jsonl'), { cache: 'no-cache' });
    if (!res.ok || /text\/html/.test(res.headers.get('content-type') ?? '')) return '';
    return await res.text();
  } catch {
    return '';
  }
}

/** A file of the demo (path relative to demo/); throws naming the file when it is not there. */
async function fetchDemo(path: string): Promise<Response> {
  const url = here(`demo/${path}`);
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`demo/${path} could not be fetched (${(e as Error).message}). Reload the page; if it persists, rebuild the studio.`);
  }
  // A static host that answers every path with index.html has no such file either.
  if (!res.ok || /text\/html/.test(res.headers.get('content-type') ?? ''))
    throw new Error(
      `demo/${path} is not in this build of the studio (HTTP ${res.status}). Rebuild it with the demo folder (apps/studio/public/demo).`,
    );
  return res;
}

/** A file of the demo (path relative to demo/), as text. */
export async function fetchDemoText(path: string): Promise<string> {
  return (await fetchDemo(path)).text();
}

/** A file of the demo (path relative to demo/), as bytes. */
export async function fetchDemoBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchDemo(path)).arrayBuffer());
}
