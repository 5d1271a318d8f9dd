/**
 * Summarises a V8 CPU profile (node --cpu-prof; `npm run bench -- --host-cpu-prof DIR` makes
 * one of the host): self time by package or project folder, and the busiest functions.
 *
 *   node dist/bench/cpuProfile.js DIR/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from './format.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byOwner: Array<{ owner: string; ms: number }>;
  byFunction: Array<{ name: string; owner: string; ms: number }>;
}

export function summarise(profile: Profile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    // timeDeltas[i] is the time since the previous sample; it is charged to sample i.
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  const owners = new Map<string, number>();
  const functions = new Map<string, { name: string; owner: string; ms: number }>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalMs += ms;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const owner = ownerOf(frame.url, frame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    const key = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const entry = functions.get(key) ?? { name: key, owner, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
  }
  return {
    totalMs,
    idleMs,
    byOwner: [...owners].map(([owner, ms]) => ({ owner, ms })).sort((a, b) => b.ms - a.ms),
    byFunction: [...functions.values()].sort((a, b) => b.ms - a.ms),
  };
}

/** The package (node_modules/<name>), project folder (dist/<folder>) or node internal module. */
export function ownerOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) {
    const name = modules[1] ?? '';
    // Azurite's own dependencies (loki, express…) run as part of Azurite.
    return url.includes('node_modules/azurite/') ? `azurite (${name})` : name;
  }
  const project = /\/dist\/([^/]+)\//.exec(url);
  if (project) return `project: ${project[1]}/`;
  const internal = /^node:internal\/(?:deps\/)?([^/]+)/.exec(url);
  if (internal) return `node: ${internal[1]}`;
  if (url.startsWith('node:')) return `node: ${url.slice('node:'.length)}`;
  return url;
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/').replace(/^file:\/\//, '');
}

function main(argv: string[]): void {
  const file = argv[0];
  if (!file) {
    console.error('usage: node dist/bench/cpuProfile.js FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const top = Number(argv[argv.indexOf('--top') + 1] ?? 25) || 25;
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const busy = summary.totalMs - summary.idleMs;
  console.log(`profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (not idle)\n`);
  console.log(
    table(
      ['owner (self time)', 'ms', 'share of busy'],
      summary.byOwner.slice(0, top).map((entry) => [entry.owner, entry.ms.toFixed(0), `${((entry.ms / busy) * 100).toFixed(1)}%`]),
    ),
  );
  console.log('');
  console.log(
    table(
      ['function (self time)', 'owner', 'ms', 'share of busy'],
      summary.byFunction.slice(0, top).map((entry) => [entry.name, entry.owner, entry.ms.toFixed(0), `${((entry.ms / busy) * 100).toFixed(1)}%`]),
    ),
  );
}

// Run as a script, not when imported.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
