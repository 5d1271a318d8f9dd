// @ts-check
/**
 * Builds the console into dist/console with esbuild: the page's script and stylesheet (and the
 * sign-in library as a chunk loaded only for Entra sign-in) under content-hashed names, the two
 * HTML pages pointing at them, and manifest.json listing every file, which is all the function
 * serves. Run by `npm run build`; type-checked by `npm test` (console/tsconfig.json).
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const consoleDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(consoleDir);
const outdir = join(root, 'dist', 'console');
/** Where the function app serves the files (host.json's route prefix is the default "api"). */
const base = '/api/console/';

/** @type {Record<string, string>} */
const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: {
    app: 'console/src/main.ts',
    redirect: 'console/src/redirect.ts',
    console: 'console/console.css',
  },
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: true,
  target: ['es2022', 'chrome120', 'firefox120', 'safari17'],
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  outdir,
  metafile: true,
  // The libraries' licence notices go to one file per output rather than being dropped.
  legalComments: 'linked',
  logLevel: 'warning',
});

/** @param {string} entry */
function outputOf(entry) {
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (output.entryPoint === entry && !file.endsWith('.map')) return basename(file);
  }
  throw new Error(`esbuild produced no output for ${entry}`);
}

const names = {
  app: outputOf('console/src/main.ts'),
  redirect: outputOf('console/src/redirect.ts'),
  css: outputOf('console/console.css'),
};

for (const page of ['index.html', 'redirect.html']) {
  const template = await readFile(join(consoleDir, page), 'utf8');
  const html = template
    .replaceAll('{{app.js}}', base + names.app)
    .replaceAll('{{redirect.js}}', base + names.redirect)
    .replaceAll('{{console.css}}', base + names.css);
  if (/\{\{/.test(html)) throw new Error(`${page}: unknown placeholder left`);
  await writeFile(join(outdir, page), html);
}

/** @type {Record<string, {contentType: string, immutable: boolean}>} */
const files = {};
for (const name of (await readdir(outdir)).sort()) {
  const dot = name.lastIndexOf('.');
  const extension = name.endsWith('.LEGAL.txt') ? '.txt' : name.slice(dot);
  const contentType = contentTypes[extension];
  if (!contentType) throw new Error(`no content type for ${name}`);
  // The pages keep fixed names (the redirect URI is registered in Entra ID): revalidated on
  // every load. Everything else carries its content hash.
  files[name] = { contentType, immutable: !name.endsWith('.html') };
}
await writeFile(join(outdir, 'manifest.json'), `${JSON.stringify({ files }, null, 2)}\n`);
console.log(`console: ${Object.keys(files).length} files in ${relative(root, outdir)}`);
