// Label selector syntax check, so a typo exits 3 with a clear message instead
// of every cluster answering 400. Grammar as apimachinery's labels.Parse:
// key, !key, key=v, key==v, key!=v, key in (v,…), key notin (v,…).

import { isLabelKey, isLabelValue } from './names.ts';

/** Splits on commas outside parentheses. */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  out.push(selector.slice(start));
  return out.map((r) => r.trim());
}

/** Why the selector is invalid, or undefined when it is valid. */
export function selectorError(selector: string): string | undefined {
  if (selector.trim() === '') return 'is empty: it would select every Endpoints of every cluster';
  for (const req of requirements(selector)) {
    if (req === '') return 'has an empty requirement (a stray comma)';
    const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(req);
    if (set) {
      if (!isLabelKey(set[1]!)) return `key ${JSON.stringify(set[1])} is not a valid label key`;
      const values = set[3]!.split(',').map((v) => v.trim());
      const bad = values.find((v) => !isLabelValue(v));
      if (bad !== undefined) return `value ${JSON.stringify(bad)} is not a valid label value`;
      continue;
    }
    const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
    if (eq) {
      if (!isLabelKey(eq[1]!)) return `key ${JSON.stringify(eq[1])} is not a valid label key`;
      if (!isLabelValue(eq[3]!)) return `value ${JSON.stringify(eq[3])} is not a valid label value`;
      continue;
    }
    const exists = /^!?\s*([^\s=!(),]+)$/.exec(req);
    if (exists && isLabelKey(exists[1]!)) continue;
    return `requirement ${JSON.stringify(req)} is not key, !key, key=value, key!=value, key in (…) or key notin (…)`;
  }
  return undefined;
}
