// Asks glibc in another process to give its free memory back to the kernel (malloc_trim(0),
// called through gdb). RSS after that counts memory still allocated, not the free memory the
// allocator keeps after a burst: measured in the soak, 1,000 IDLE sessions left 61-64 MiB of
// RSS behind each round, and malloc_trim(0) brought it back to within 1 MiB of the start.
// gdb is a test dependency (scripts/install-backend.sh); the process is paused for about a second.
import { execFileSync } from 'node:child_process';

export function mallocTrim(pid: number): void {
  try {
    execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore', timeout: 30_000 });
  } catch (e) {
    throw new Error(`malloc_trim through gdb failed (is gdb installed? scripts/install-backend.sh): ${(e as Error).message}`);
  }
}
