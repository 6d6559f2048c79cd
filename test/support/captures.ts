/** Where the third-party captures are (../shared/captures beside the repo), or null when absent. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = resolve(REPO, '../shared/captures');
export const CAPTURES: string | null = existsSync(resolve(dir, 'MANIFEST.txt')) ? dir : null;

export function capture(rel: string): string {
  return resolve(dir, rel);
}

/** Rows of a Zeek conn.log (tab-separated, '#fields' header). */
export function zeekConnLog(rel: string): Record<string, string>[] {
  const text = require_text(capture(rel));
  const lines = text.split('\n');
  // conn.log has a '#fields' line; btest's .cut baselines have a plain header line instead.
  const fields = lines.find((l) => l.startsWith('#fields'));
  const plain = fields ? undefined : lines.find((l) => l && !l.startsWith('#'));
  const header = fields ? fields.split('\t').slice(1) : plain!.split('\t');
  return lines
    .filter((l) => l && !l.startsWith('#') && l !== plain)
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i]!, v])));
}

import { readFileSync } from 'node:fs';
function require_text(p: string): string {
  return readFileSync(p, 'utf8');
}
