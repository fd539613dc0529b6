// The file store tells its listeners about every revocation, whoever made it: its own
// revoke() (the portal's, a SCIM deletion's) at once, and another process's (the admin CLI)
// within APP_PASSWORD_WATCH_MS polls, found by comparing the ids before and after a reload.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { APP_PASSWORD_WATCH_MS } from '../../src/limits.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-file-revoked-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'app-passwords.json');

t.test('own revoke and another process\'s revoke both reach the listeners', async (t) => {
  const proxy = await AppPasswordFile.open(path);
  const cli = await AppPasswordFile.open(path); // the CLI: its own instance, as in its own process
  t.teardown(() => proxy.close());
  const heard: Array<[string, readonly string[] | 'all']> = [];
  const off = proxy.onRevoked((user, ids) => heard.push([user, ids]));
  const one = (await proxy.create('Alice@Example.test', 'Phone')).record;
  const two = (await cli.create('alice@example.test', 'Laptop')).record;
  const three = (await cli.create('alice@example.test', 'Tablet')).record;
  t.equal(await proxy.revoke('alice@example.test', one.id), 1);
  t.same(heard, [['alice@example.test', [one.id]]], 'its own revoke: told at once');
  t.equal(await cli.revoke('alice@example.test', two.id), 1);
  const until = Date.now() + APP_PASSWORD_WATCH_MS * 8 + 2000;
  while (heard.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.same(heard[1], ['alice@example.test', [two.id]], 'another process\'s revoke: noticed by the poll');
  t.equal(await cli.revoke('alice@example.test', 'all'), 1);
  while (heard.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.same(heard[2], ['alice@example.test', [three.id]], '--all: the ids that were left');
  off();
  await cli.close();
});
