import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Whoever clones the repository sees only what is in it: every relative link in README.md and
 * docs/ must name a file (and, for a Markdown file, a heading) inside the clone.
 */

const root = resolve(__dirname, '..');

function markdownFiles(): string[] {
  const files = [join(root, 'README.md')];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  return files;
}

/** Inline links and images, `[text](target)` and `![alt](target "title")`, outside code. */
function linksIn(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] ?? '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  for (const match of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (match[1] ?? '')
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return anchors;
}

const external = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

describe('links in README.md and docs/', () => {
  const cases = markdownFiles().flatMap((file) =>
    linksIn(readFileSync(file, 'utf8'))
      .filter((target) => !external.test(target))
      .map((target) => [relative(root, file), target] as const),
  );

  it('finds the relative links it is meant to check', () => {
    // Guards the extractor itself: README links to docs/ in several places.
    expect(cases.filter(([file]) => file === 'README.md').length).toBeGreaterThan(5);
  });

  it.each(cases)('%s → %s resolves inside the repository', (file, target) => {
    const [pathPart = '', anchor] = target.split('#', 2);
    const from = join(root, file);
    const path = pathPart === '' ? from : resolve(dirname(from), decodeURIComponent(pathPart));
    expect(relative(root, path).startsWith('..')).toBe(false);
    expect(existsSync(path)).toBe(true);
    if (anchor !== undefined && anchor !== '' && path.endsWith('.md')) {
      expect([...anchorsOf(readFileSync(path, 'utf8'))]).toContain(decodeURIComponent(anchor));
    }
  });
});
