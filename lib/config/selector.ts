// Label selector syntax check, so a typo exits 3 with a clear message instead
// of every cluster answering 400. It follows apimachinery's labels.Parse
// (k8s.io/apimachinery/pkg/labels/selector.go) token for token: key, !key,
// key=v, key==v, key!=v, key>n, key<n, key in (v,…), key notin (v,…), where
// "in" and "notin" are plain words in value position, and empty values are
// allowed where it allows them. Its own test vectors are spec/unit's table.
// Anything this check lets through is still the API server's to refuse; that
// 400 is a usage error too (lib/world/read.ts).

import { isLabelKey, isLabelValue } from '../plan/names.ts';

type Kind = 'id' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin' | 'end' | 'error';
interface Token {
  kind: Kind;
  text: string;
}

const symbols: Record<string, Kind> = {
  '(': '(',
  ')': ')',
  ',': ',',
  '!': '!',
  '=': '=',
  '==': '==',
  '!=': '!=',
  '>': '>',
  '<': '<',
};
const isSpace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSymbol = (ch: string) => '=!(),><'.includes(ch);

function tokens(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isSpace(s[i]!)) i++;
    if (i >= s.length) {
      out.push({ kind: 'end', text: '' });
      return out;
    }
    if (isSymbol(s[i]!)) {
      // The longest run of symbol characters that is still a token ("!=" over "!").
      let best: Token | undefined;
      let j = i;
      while (j < s.length && isSymbol(s[j]!)) {
        const kind = symbols[s.slice(i, j + 1)];
        if (kind) best = { kind, text: s.slice(i, j + 1) };
        else if (best) break;
        j++;
      }
      if (!best) {
        out.push({ kind: 'error', text: s.slice(i, j) });
        out.push({ kind: 'end', text: '' });
        return out;
      }
      out.push(best);
      i += best.text.length;
      continue;
    }
    let j = i;
    while (j < s.length && !isSymbol(s[j]!) && !isSpace(s[j]!)) j++;
    const word = s.slice(i, j);
    out.push({ kind: word === 'in' || word === 'notin' ? word : 'id', text: word });
    i = j;
  }
}

class SelectorSyntaxError extends Error {}

const fail = (message: string): never => {
  throw new SelectorSyntaxError(message);
};

const int64 = (v: string) =>
  /^[+-]?\d+$/.test(v) && BigInt(v) <= 9223372036854775807n && BigInt(v) >= -9223372036854775808n;

function parse(s: string): void {
  const toks = tokens(s);
  let pos = 0;
  // In value position "in" and "notin" are words like any other.
  const asValue = (t: Token): Token => (t.kind === 'in' || t.kind === 'notin' ? { kind: 'id', text: t.text } : t);
  const peek = () => asValue(toks[pos]!);
  const next = () => asValue(toks[pos++]!);
  const nextOperator = () => toks[pos++]!;
  const found = (t: Token) => (t.kind === 'error' ? `'${t.text}'` : `'${t.text}'`);

  const key = (k: string) => {
    if (!isLabelKey(k)) fail(`key ${JSON.stringify(k)} is not a valid label key`);
  };
  const value = (v: string) => {
    if (!isLabelValue(v)) fail(`value ${JSON.stringify(v)} is not a valid label value`);
  };

  const exactValue = (): string => {
    const t = peek();
    if (t.kind === 'end' || t.kind === ',') return '';
    const v = next();
    if (v.kind !== 'id') fail(`found ${found(v)}, expected: a value`);
    return v.text;
  };

  const valueList = (): string[] => {
    const open = next();
    if (open.kind !== '(') fail(`found ${found(open)}, expected: '('`);
    const first = peek();
    if (first.kind === ')') {
      next();
      return [''];
    }
    if (first.kind !== 'id' && first.kind !== ',') fail(`found ${found(first)}, expected: ',', ')' or a value`);
    const values: string[] = [];
    for (;;) {
      const t = next();
      if (t.kind === 'id') {
        values.push(t.text);
        const after = peek();
        if (after.kind === ',') continue;
        if (after.kind === ')') break;
        fail(`found ${found(after)}, expected: ',' or ')'`);
      } else if (t.kind === ',') {
        if (values.length === 0) values.push('');
        const after = peek();
        if (after.kind === ')') {
          values.push('');
          break;
        }
        if (after.kind === ',') {
          next();
          values.push('');
        }
      } else {
        fail(`found ${found(t)}, expected: ',' or a value`);
      }
    }
    const close = next();
    if (close.kind !== ')') fail(`found ${found(close)}, expected: ')'`);
    return values;
  };

  const requirement = () => {
    let t = next();
    const negated = t.kind === '!';
    if (negated) t = next();
    if (t.kind !== 'id') fail(`found ${found(t)}, expected: a label key`);
    key(t.text);
    const after = peek();
    if (after.kind === 'end' || after.kind === ',') return; // key or !key
    if (negated) fail(`found ${found(after)}, expected: ',' or the end after !${t.text}`);
    const op = nextOperator();
    switch (op.kind) {
      case 'in':
      case 'notin':
        for (const v of valueList()) value(v);
        return;
      case '=':
      case '==':
      case '!=':
        value(exactValue());
        return;
      case '>':
      case '<': {
        const v = exactValue();
        if (!int64(v)) fail(`value ${JSON.stringify(v)} after ${op.text} must be an integer`);
        value(v);
        return;
      }
      default:
        fail(`found ${found(op)}, expected: in, notin, =, ==, !=, > or <`);
    }
  };

  for (;;) {
    const t = peek();
    if (t.kind === 'end') return;
    if (t.kind !== 'id' && t.kind !== '!') fail(`found ${found(t)}, expected: !, a label key, or the end`);
    requirement();
    const sep = next();
    if (sep.kind === 'end') return;
    if (sep.kind !== ',') fail(`found ${found(sep)}, expected: ',' or the end`);
    const after = peek();
    if (after.kind !== 'id' && after.kind !== '!') fail(`found ${found(after)}, expected: a label key after ','`);
  }
}

/** Why the selector is invalid, or undefined when it is valid. */
export function selectorError(selector: string): string | undefined {
  // Valid for apimachinery, but for mefi it would select every Endpoints of every cluster.
  if (selector.trim() === '') return 'is empty: it would select every Endpoints of every cluster';
  try {
    parse(selector);
    return undefined;
  } catch (err) {
    if (err instanceof SelectorSyntaxError) return err.message;
    throw err;
  }
}
