import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** What `console/build.mjs` writes beside the files: every file it produced, and nothing else. */
const manifestSchema = z.object({
  files: z.record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
    z.object({ contentType: z.string().min(1), immutable: z.boolean() }),
  ),
});

export interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Hashed names never change content, so browsers may keep them for a year. */
  readonly immutable: boolean;
}

/**
 * The built console, held in memory (a few hundred KB). Only names the build's manifest lists
 * are served, looked up in a Map: a path with a slash, `..`, an encoded separator or any
 * name the build did not produce is simply not there.
 */
export class ConsoleFiles {
  private constructor(private readonly files: ReadonlyMap<string, ConsoleFile>) {}

  static async load(dir: string): Promise<ConsoleFiles> {
    const manifest = manifestSchema.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
    const entries = await Promise.all(
      Object.entries(manifest.files).map(async ([name, meta]) => [name, { body: await readFile(join(dir, name)), ...meta }] as const),
    );
    return new ConsoleFiles(new Map(entries));
  }

  get(name: string): ConsoleFile | undefined {
    return this.files.get(name);
  }

  names(): string[] {
    return [...this.files.keys()];
  }
}
