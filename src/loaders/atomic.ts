/**
 * Atomic file replacement: the bytes go to a temporary file in the same folder, are flushed to
 * disk, and the temporary file is renamed over the target. A rename within one file system is
 * atomic, so a reader (or a run interrupted mid-write) sees the old file or the new one, never a
 * torn one.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export function writeFileAtomic(path: string, contents: Uint8Array | string): void {
  const dir = dirname(path);
  // Unique among this process's writes and across processes; no randomness needed.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  const bytes = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents;
  let fd = openSync(temp, 'w', 0o644);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // The temporary file may already be gone (renamed or never created); the first error is the one to report.
    }
    throw err;
  }
  syncFolder(dir);
}

/** Flushes the folder entry so the rename itself survives a power cut (POSIX; a no-op where folders cannot be opened). */
function syncFolder(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a folder for fsync; the rename is still atomic there.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
