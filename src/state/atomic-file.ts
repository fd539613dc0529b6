// Whole-file replacement that never leaves a half-written DMS config file behind: write a
// temp file in the same directory, fsync it, rename it over the target, fsync the
// directory. DMS's change detector (check-for-changes.sh) and Postfix/Dovecot only ever see
// the old or the new file. The old file's mode and owner are kept.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The file's bytes, or null when it does not exist. */
export async function readBytes(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function writeAtomic(path: string, data: Buffer, newFileMode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const old = await stat(path).catch(() => null);
  const fh = await open(tmp, 'wx', old ? old.mode & 0o7777 : newFileMode);
  try {
    await fh.writeFile(data);
    if (old) {
      await fh.chmod(old.mode & 0o7777);
      // Only root may give a file away; a non-root proxy keeps its own ownership.
      await fh.chown(old.uid, old.gid).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPERM') throw err;
      });
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename itself is durable only once the directory entry is on disk.
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
