import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateFileOnce, writePrivateFile } from '../shared/fs/privateFile.js';

describe('private files (keys, tokens)', () => {
  it('are written 0600, replaced whole, and leave no temporary file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmg-private-'));
    const file = join(dir, 'token.json');
    await writePrivateFile(file, 'first');
    await writePrivateFile(file, 'second');
    expect(readFileSync(file, 'utf8')).toBe('second');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['token.json']);
  });

  it('created once: of many racing creators exactly one wins and the content is whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmg-private-'));
    const file = join(dir, 'signing-key.pem');
    const contents = Array.from({ length: 20 }, (_, i) => `key-${i}-${'x'.repeat(10_000)}`);
    const won = await Promise.all(contents.map((content) => createPrivateFileOnce(file, content)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe(contents[won.indexOf(true)]);
    expect(readdirSync(dir)).toEqual(['signing-key.pem']);
  });
});
