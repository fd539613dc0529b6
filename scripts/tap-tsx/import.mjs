// Each test process's --import (tap's importLoader): tsx's loader, and a note of what ended the
// process when it is an error nothing caught. A test file whose top-level `await` rejects (a
// backend that did not start, say) has no plan and no assertion, and its stack goes to stderr,
// which CI's log may not show; .ci/summarize.mjs prints the note beside "crashed or incomplete".
import 'tsx';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const file = process.argv[1];
if (file) {
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    try {
      const note = join(process.cwd(), '.tap', 'crash-notes', `${relative(process.cwd(), file)}.txt`);
      mkdirSync(dirname(note), { recursive: true });
      const text = err instanceof Error ? (err.stack ?? String(err)) : String(err);
      writeFileSync(note, `${origin}: ${text}\n`);
    } catch { /* a note is a courtesy: never a second error */ }
  });
}
