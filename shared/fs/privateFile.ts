import { randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Files that hold keys and tokens: created 0600 from the first byte (never readable by
 * others, not even briefly), written whole to a temporary file in the same folder and
 * flushed, then moved into place in one step, so a crash leaves the old content or the
 * new, never half a file.
 */

/** Replaces `file` atomically (rename). */
export async function writePrivateFile(file: string, data: string): Promise<void> {
  const temporary = await writeTemporary(file, data);
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncFolder(dirname(file));
}

/**
 * Creates `file` only if it does not exist (link fails if it does); returns false, writing
 * nothing, when another process created it first.
 */
export async function createPrivateFileOnce(file: string, data: string): Promise<boolean> {
  const temporary = await writeTemporary(file, data);
  try {
    await link(temporary, file);
    await syncFolder(dirname(file));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function writeTemporary(file: string, data: string): Promise<string> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = join(dir, `.${randomUUID()}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temporary;
}

/** A rename or link is durable only once its folder is flushed. */
async function syncFolder(dir: string): Promise<void> {
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
