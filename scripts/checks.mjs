#!/usr/bin/env node
// The checks `npm test` runs before jest, in two lanes at once, since each step is
// single-threaded and one lane alone leaves the second core idle. Lane A emits dist/ (which
// jest's child processes run) without type-checking it, then type-checks everything — the
// sources with the tests, under the same strict options, and the console — with tsgo
// (docs/decisions/0018), then lints the console; lane B lints the rest and checks the format.
// `npm run build` still type-checks as it emits, with tsc; `npm run lint` is the same gate as
// both lanes' lint steps together. Every step's output is printed, a lane stops at its first
// failure, and the exit code is the first failure's.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';

const lanes = [
  [
    ['tsc', ['-p', 'tsconfig.json', '--noCheck']],
    ['npm', ['run', 'build:assets', '--silent']],
    ['tsgo', ['-p', 'tsconfig.test.json']],
    ['tsgo', ['-p', 'console/tsconfig.json']],
    // The console is a program of its own (console/tsconfig.json): linting it apart costs
    // nothing twice, and evens the lanes.
    ['eslint', ['console']],
  ],
  [
    ['eslint', ['--ignore-pattern', 'console/**', '.']],
    ['npm', ['run', 'lint:format', '--silent']],
  ],
];

function run([command, args]) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('error', (error) => resolve({ code: 1, output: Buffer.from(`${command}: ${error.message}\n`) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output: Buffer.concat(output) }));
  });
}

async function lane(steps) {
  for (const step of steps) {
    const { code, output } = await run(step);
    // Printed whole after the step, so the two lanes' lines never interleave.
    process.stdout.write(output);
    if (code !== 0) {
      process.stderr.write(`npm test: \`${step[0]} ${step[1].join(' ')}\` failed (exit ${code})\n`);
      return code;
    }
  }
  return 0;
}

const codes = await Promise.all(lanes.map(lane));
process.exitCode = codes.find((code) => code !== 0) ?? 0;
