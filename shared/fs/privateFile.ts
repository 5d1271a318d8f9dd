import { randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
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

/** A folder that must not hold keys: someone else can write to it, or it is not a folder. */
export class UnsafeFolderError extends Error {
  constructor(
    readonly dir: string,
    readonly reason: 'not-a-folder' | 'writable-by-others' | 'other-owner',
    message: string,
  ) {
    super(message);
    this.name = 'UnsafeFolderError';
  }
}

/**
 * Checks a folder that holds keys without changing it: it must be a folder, owned by this
 * user, and writable by nobody else (whoever can write there can swap a key or a token).
 * Returns false when it does not exist. On Windows, where POSIX modes mean nothing, only
 * "is a folder" is checked.
 */
export async function checkPrivateFolder(dir: string): Promise<boolean> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!info.isDirectory()) throw new UnsafeFolderError(dir, 'not-a-folder', `${dir} is not a folder`);
  if (process.platform === 'win32') return true;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new UnsafeFolderError(dir, 'other-owner', `${dir} belongs to user ${info.uid}, not to this user (${uid})`);
  }
  const writers = [info.mode & 0o020 ? 'group' : '', info.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (writers.length > 0) {
    throw new UnsafeFolderError(dir, 'writable-by-others', `${dir} is writable by ${writers.join(' and ')} (mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})`);
  }
  return true;
}

/**
 * Creates `dir` 0700 (and any missing parents) when it does not exist; an existing folder is
 * never changed, only checked as `checkPrivateFolder` does. Returns true when it created it.
 */
export async function ensurePrivateFolder(dir: string): Promise<boolean> {
  if (await checkPrivateFolder(dir)) return false;
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // Another process may have made it in between: then it is checked like any existing one.
  await checkPrivateFolder(dir);
  return created !== undefined;
}
