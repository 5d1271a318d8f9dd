import { createInterface } from 'node:readline/promises';

/** Asks on the terminal: the question on stderr (stdout stays the command's output), the answer from stdin. */
export async function askOnTerminal(question: string): Promise<string> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}
