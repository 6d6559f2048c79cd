/**
 * A small schema language for the YAML config, and a validator that walks
 * the parsed YAML document (not plain JS values) so every error names the
 * file, line and column and says what was expected.
 */
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

export type Spec =
  | { kind: 'object'; fields: Record<string, Field>; doc?: string; open?: Spec }
  | { kind: 'array'; of: Spec; doc?: string; minItems?: number }
  | { kind: 'number'; min?: number; max?: number; integer?: boolean; doc?: string }
  | { kind: 'boolean'; doc?: string }
  | { kind: 'string'; enum?: readonly string[]; check?: (v: string) => string | null; doc?: string }
  | { kind: 'union'; of: Spec[]; doc: string };

export interface Field {
  spec: Spec;
  required?: boolean;
}

export interface ConfigIssue {
  line: number;
  col: number;
  path: string;
  message: string;
}

export function describeSpec(spec: Spec): string {
  if (spec.doc) return spec.doc;
  switch (spec.kind) {
    case 'object':
      return 'a mapping';
    case 'array':
      return `a list of ${describeSpec(spec.of)}`;
    case 'number': {
      const what = spec.integer ? 'an integer' : 'a number';
      if (spec.min !== undefined && spec.max !== undefined) return `${what} from ${spec.min} to ${spec.max}`;
      if (spec.min !== undefined) return `${what} >= ${spec.min}`;
      return what;
    }
    case 'boolean':
      return 'true or false';
    case 'string':
      return spec.enum ? `one of ${spec.enum.join(', ')}` : 'a string';
    case 'union':
      return spec.doc;
  }
}

function shown(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'something else';
}

/** Validates `doc` against `spec`; returns every issue found (empty when valid). */
export function validate(doc: Document, spec: Spec, lines: LineCounter): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (node: Node | null | undefined, fallback: number): { line: number; col: number } => {
    const off = node?.range?.[0] ?? fallback;
    const p = lines.linePos(off);
    return { line: p.line, col: p.col };
  };
  const report = (node: Node | null | undefined, path: string, message: string, fallback = 0): void => {
    issues.push({ ...at(node, fallback), path: path || '(top)', message });
  };

  const check = (node: Node | null | undefined, s: Spec, path: string, parentOff: number): boolean => {
    const expected = (): boolean => {
      report(node, path, `expected ${describeSpec(s)}, got ${shown(node)}`, parentOff);
      return false;
    };
    switch (s.kind) {
      case 'object': {
        if (!isMap(node)) return expected();
        const seen = new Set<string>();
        for (const pair of node.items) {
          const k = isScalar(pair.key) ? String(pair.key.value) : '?';
          seen.add(k);
          const field = s.fields[k];
          const sub = path ? `${path}.${k}` : k;
          const keyOff = (pair.key as Node | null)?.range?.[0] ?? parentOff;
          if (field) check(pair.value as Node, field.spec, sub, keyOff);
          else if (s.open) check(pair.value as Node, s.open, sub, keyOff);
          else {
            const known = Object.keys(s.fields).join(', ');
            report(pair.key as Node, sub, `unknown key "${k}"; expected one of: ${known}`, parentOff);
          }
        }
        for (const [k, f] of Object.entries(s.fields)) {
          if (f.required && !seen.has(k)) {
            report(node, path ? `${path}.${k}` : k, `missing required key "${k}" (${describeSpec(f.spec)})`);
          }
        }
        return true;
      }
      case 'array': {
        if (!isSeq(node)) return expected();
        if (s.minItems !== undefined && node.items.length < s.minItems) {
          report(node, path, `expected at least ${s.minItems} item(s), got ${node.items.length}`);
        }
        node.items.forEach((item, i) =>
          check(item as Node, s.of, `${path}[${i}]`, node.range?.[0] ?? parentOff),
        );
        return true;
      }
      case 'number': {
        if (!isScalar(node) || typeof node.value !== 'number' || !Number.isFinite(node.value))
          return expected();
        const v = node.value;
        if (
          (s.integer && !Number.isInteger(v)) ||
          (s.min !== undefined && v < s.min) ||
          (s.max !== undefined && v > s.max)
        ) {
          return expected();
        }
        return true;
      }
      case 'boolean':
        if (!isScalar(node) || typeof node.value !== 'boolean') return expected();
        return true;
      case 'string': {
        if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number'))
          return expected();
        const v = String(node.value);
        if (s.enum && !s.enum.includes(v)) return expected();
        if (s.check) {
          const why = s.check(v);
          if (why) {
            report(node, path, `expected ${describeSpec(s)}: ${why}`);
            return false;
          }
        }
        return true;
      }
      case 'union': {
        for (const alt of s.of) {
          const probe: ConfigIssue[] = [];
          const saved = issues.length;
          const ok = check(node, alt, path, parentOff);
          probe.push(...issues.splice(saved));
          if (ok && probe.length === 0) return true;
        }
        return expected();
      }
    }
  };
  check(doc.contents as Node, spec, '', 0);
  return issues;
}
