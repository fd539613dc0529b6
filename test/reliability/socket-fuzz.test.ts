// The socket fuzzer, bounded for CI (FUZZ_CASES, default 300; a fixed seed unless FUZZ_SEED
// is set, so a failure replays). The long campaign: test/reliability/socket-fuzz.ts.
import t from 'tap';
import { startProxy } from '../harness/proxy.js';
import { fdCount, fdSummary, recordCrashes, settleFds } from './fakes/leaks.js';
import { runFuzzCampaign } from './socket-fuzz.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { flavourFromEnv } from '../harness/flavour.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const { backend, idp } = await startBackendAndIdp(t);
const user = backend.users[0]!.email;
const token = await idp.mintToken(user);

t.test('random and mutated pre-login traffic: the proxy keeps answering and logging in, nothing leaks', async (t) => {
  const fd0 = await settleFds(fdCount(), 500);
  // POP3 and ManageSieve too, where the backend has them (the Debian 13 test root has neither yet).
  const fronts: Record<string, string> = flavourFromEnv() === 'debian13' ? {} : { LISTEN_POP3: '127.0.0.1:0', LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0' };
  const proxy = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { LOG_LEVEL: 'info', MAX_CONNECTIONS_PER_IP: '20', ...fronts } }); // a session that never gives its slot back shows up within 20 cases
  let report;
  try {
    report = await runFuzzCampaign({
      proxy,
      cases: Number(process.env.FUZZ_CASES ?? 300),
      seconds: Number(process.env.FUZZ_SECONDS ?? 50),
      seed: Number(process.env.FUZZ_SEED ?? 20_261_128),
      login: { user, token: async () => token },
    });
  } finally {
    await proxy.stop();
  }
  t.same(report.failures, [], `seed ${report.seed}: ${report.cases} cases ${JSON.stringify(report.byTarget)}`);
  t.ok(report.cases >= Math.min(100, Number(process.env.FUZZ_CASES ?? 300)), `ran ${report.cases} cases`);
  const fd1 = await settleFds(fd0);
  t.ok(fd1 <= fd0, `no descriptor leaked (${fd0} before, ${fd1} after; ${fdSummary()})`);
  t.equal(crashes.describe(), '', 'no unhandled rejection or uncaught exception');
});
