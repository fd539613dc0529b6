// Headless Chromium for browser tests: Debian's `chromium` package (scripts/install-backend.sh
// installs it), driven by playwright-core over CDP. playwright-core downloads nothing; no
// `playwright install` is ever run. No background traffic (updates, sync, QUIC probes).
// The profile is fresh per launch: playwright-core passes Chromium a --user-data-dir of its
// own in a new temporary directory, removed at close (it refuses one in `args`, and a
// persistent context would give one cookie jar where the tests need one per user).
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  let closed: Promise<void> | undefined;
  return {
    browser,
    close() {
      closed ??= browser.close().catch(() => undefined);
      return closed;
    },
  };
}
