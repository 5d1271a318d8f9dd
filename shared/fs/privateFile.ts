import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, lstat, mkdir, open, readlink, rename, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';

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
 * So must be every folder on the way to it, up to the root, and every symlink followed on
 * the way: whoever can write to a folder on the way can put another folder, or a symlink to
 * one, in place of the next step. Those folders may belong to root as well as to this user,
 * and a root-owned sticky folder (/tmp) may be writable by all: there only an entry's owner
 * can rename or remove it. Returns false when the folder does not exist (after checking the
 * folders on the way to where it would be made). On Windows, where POSIX modes mean nothing,
 * only "is a folder" is checked.
 */
export async function checkPrivateFolder(dir: string): Promise<boolean> {
  const uid = process.platform === 'win32' ? undefined : process.getuid?.();
  if (uid !== undefined) await checkTheWayTo(dir, uid);
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!info.isDirectory()) throw new UnsafeFolderError(dir, 'not-a-folder', `${dir} is not a folder`);
  if (uid === undefined) return true;
  if (info.uid !== uid) {
    throw new UnsafeFolderError(dir, 'other-owner', `${dir} belongs to user ${info.uid}, not to this user (${uid})`);
  }
  const writers = writersOf(info);
  if (writers !== undefined) throw new UnsafeFolderError(dir, 'writable-by-others', `${dir} is writable by ${writers}`);
  return true;
}

/** "group", "others" or both, with the mode; undefined when only the owner can write. */
function writersOf(info: Stats): string | undefined {
  const writers = [info.mode & 0o020 ? 'group' : '', info.mode & 0o002 ? 'others' : ''].filter(Boolean);
  return writers.length === 0 ? undefined : `${writers.join(' and ')} (mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})`;
}

/** Symlinks followed on the way before giving up, as the kernel's own limit (ELOOP). */
const maxLinks = 40;

/**
 * Walks `dir` from the root one name at a time, following symlinks as the kernel does, and
 * checks each folder it passes through before the last one, and each symlink, as above.
 * Stops quietly where the path does not exist (yet) or is not a folder: the caller's own
 * check of the last step reports that.
 */
async function checkTheWayTo(dir: string, uid: number): Promise<void> {
  const target = resolve(dir);
  const pending = target.split(sep).filter((part) => part !== '');
  let current: string = sep;
  let links = 0;
  const refuse = (path: string, reason: 'other-owner' | 'writable-by-others', what: string) => {
    throw new UnsafeFolderError(path, reason, `${path} (on the way to ${dir}) ${what}`);
  };
  const check = (path: string, info: Stats) => {
    if (info.uid !== uid && info.uid !== 0) refuse(path, 'other-owner', `belongs to user ${info.uid}, not to this user (${uid}) or root`);
    const writers = writersOf(info);
    const stickyOfRoot = info.uid === 0 && (info.mode & 0o1000) !== 0;
    if (writers !== undefined && !(info.isDirectory() && stickyOfRoot)) refuse(path, 'writable-by-others', `is writable by ${writers}`);
  };
  check(current, await stat(current));
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    let info: Stats;
    try {
      info = await lstat(next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw error;
    }
    if (info.isSymbolicLink()) {
      if (++links > maxLinks) throw new UnsafeFolderError(dir, 'not-a-folder', `${dir} is reached through more than ${maxLinks} symlinks`);
      if (info.uid !== uid && info.uid !== 0) refuse(`the symlink ${next}`, 'other-owner', `belongs to user ${info.uid}, not to this user (${uid}) or root`);
      const destination = await readlink(next);
      if (isAbsolute(destination)) current = sep;
      pending.unshift(...destination.split(sep).filter((piece) => piece !== ''));
      continue;
    }
    if (!info.isDirectory()) return;
    current = next;
    // The last folder is the state folder itself, which the caller holds to a stricter rule.
    if (pending.length > 0) check(current, info);
  }
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
