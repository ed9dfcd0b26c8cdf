// Kernels are plain WGSL files with their tunables declared as `const` with defaults, e.g.
//   const BK = 16u;   const TRANS_A = false;
// `specialize` rewrites those declarations to the values a dispatch needs. The files stay valid
// WGSL on their own (tools can check them), and a typo in a name fails loudly.

export type ConstValue = number | boolean;

const DECL = /^(\s*const\s+)([A-Za-z_][A-Za-z0-9_]*)(\s*(?::\s*[A-Za-z0-9_<>]+)?\s*=\s*)([^;]+);/gm;

function literal(name: string, value: ConstValue, original: string): string {
  if (typeof value === 'boolean') return String(value);
  if (!Number.isFinite(value)) throw new Error(`const ${name}: ${value} is not a finite number`);
  const o = original.trim();
  if (/^\d+u$/.test(o) || /:\s*u32/.test(o)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`const ${name} is u32; got ${value}`);
    return `${value}u`;
  }
  if (/^-?\d+i$/.test(o)) {
    if (!Number.isInteger(value)) throw new Error(`const ${name} is i32; got ${value}`);
    return `${value}i`;
  }
  const s = String(value);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export function specialize(kernel: string, source: string, consts: Record<string, ConstValue>): string {
  const seen = new Set<string>();
  const out = source.replace(DECL, (whole, head: string, name: string, mid: string, value: string) => {
    if (!(name in consts)) return whole;
    seen.add(name);
    return `${head}${name}${mid}${literal(name, consts[name], value)};`;
  });
  const missing = Object.keys(consts).filter((k) => !seen.has(k));
  if (missing.length > 0) throw new Error(`kernel ${kernel}: no \`const\` named ${missing.join(', ')} to specialize`);
  return out;
}
