// The READMEs a user follows: every relative link lands on a file that exists
// and, with an #anchor, on a heading that exists there (GitHub's slugs); the
// README stays short enough to read, keeps the test command CI runs, and
// speaks of mefi as it is (no issue numbers).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repo } from '../support/world.ts';

const readmes = ['README.md', 'manifests/README.md', 'examples/README.md', 'spec/README.md'];
const maxWords = 3200;

/** The lines outside fenced code blocks. */
function prose(markdown: string): string[] {
  let fence = '';
  return markdown.split('\n').filter((line) => {
    const open = /^\s*(```|~~~)/.exec(line)?.[1];
    if (open && (!fence || fence === open)) {
      fence = fence ? '' : open;
      return false;
    }
    return !fence;
  });
}

/** GitHub's anchor for a heading's text: its rendered text lower-cased, punctuation dropped, spaces as hyphens; repeats get -1, -2… */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link target in the prose: inline links and reference definitions, code spans left out. */
function links(markdown: string): string[] {
  const out: string[] = [];
  for (const line of prose(markdown)) {
    const text = line.replace(/`[^`]*`/g, '');
    for (const [, target] of text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      if (target) out.push(target);
    const definition = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(text)?.[1];
    if (definition) out.push(definition);
  }
  return out;
}

/** What is wrong with the relative links of `file` (a path inside `root`): one line per broken link. */
function brokenLinks(root: string, file: string, markdown: string): string[] {
  const broken: string[] = [];
  for (const link of links(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:: not ours to check
    const hash = link.indexOf('#');
    const target = decodeURIComponent(hash < 0 ? link : link.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(link.slice(hash + 1));
    if (!target) {
      if (anchor !== undefined && !anchors(markdown).has(anchor))
        broken.push(`${file}: ${link}: no heading #${anchor} in ${file}`);
      continue;
    }
    const resolved = path.join(path.dirname(path.join(root, file)), target);
    if (path.relative(root, resolved).startsWith('..')) {
      broken.push(`${file}: ${link}: outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      broken.push(`${file}: ${link}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!statSync(resolved).isFile() || !resolved.endsWith('.md')) {
      broken.push(`${file}: ${link}: an anchor into what is not a Markdown file`);
      continue;
    }
    if (!anchors(readFileSync(resolved, 'utf8')).has(anchor))
      broken.push(`${file}: ${link}: no heading #${anchor} in ${path.relative(root, resolved)}`);
  }
  return broken;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length; // as wc -w counts

describe('the READMEs', () => {
  for (const file of readmes) {
    it(`${file}: every relative link resolves, anchors included`, () => {
      const markdown = readFileSync(path.join(repo, file), 'utf8');
      assert.ok(links(markdown).length > 0, `${file} links nowhere`);
      assert.deepEqual(brokenLinks(repo, file, markdown), []);
    });

    it(`${file}: speaks of mefi as it is, with no issue numbers`, () => {
      const markdown = readFileSync(path.join(repo, file), 'utf8');
      assert.deepEqual(markdown.match(/\bissues? #?\d+|#\d{2,}\b/gi) ?? [], []);
    });
  }

  it(`README.md is at most ${maxWords} words, and keeps the test command CI runs`, () => {
    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    assert.ok(words(readme) <= maxWords, `README.md has ${words(readme)} words`);
    assert.match(readFileSync(path.join(repo, '.ci/run'), 'utf8'), /^make test$/m);
    assert.match(readme, /^make test\b/m);
  });

  it('finds what is broken: a missing file, a missing heading here or there, a link outside the repository', () => {
    const markdown = [
      '# A title',
      '## `--probe`: reachability (the flag)',
      '## A title',
      '[ok](#a-title) [ok](#a-title-1) [ok](#--probe-reachability-the-flag) [ok](README.md#contents) [ok](https://example.com/x)',
      '[gone](no-such-file.md) [gone](#nowhere) [gone](README.md#nowhere) [out](../../etc/passwd)',
      '`[in code](not-checked.md)`',
      '```',
      '[in a fence](not-checked.md)',
      '```',
    ].join('\n');
    assert.deepEqual(brokenLinks(repo, 'x.md', markdown), [
      'x.md: no-such-file.md: no such file',
      'x.md: #nowhere: no heading #nowhere in x.md',
      'x.md: README.md#nowhere: no heading #nowhere in README.md',
      'x.md: ../../etc/passwd: outside the repository',
    ]);
  });

  it('counts words as wc -w does', () => {
    assert.equal(words('  one two\n\tthree  `four`\n'), 4);
  });
});
