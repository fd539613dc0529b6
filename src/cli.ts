#!/usr/bin/env node
// oauth2-mail-proxy [--config FILE]: load and validate the config (all problems at once),
// start the listeners, stop cleanly on SIGTERM/SIGINT.
//
// Everything but the version is imported when a command needs it: --version and --help answer
// without loading (or, under a TypeScript loader, compiling) the whole proxy.
import { PACKAGE_NAME, readPackageInfo } from './package-info.js';
import { CLI_EXIT_DELAY_MS } from './limits.js';

const USAGE = `usage: oauth2-mail-proxy [--config FILE]
       oauth2-mail-proxy --version
       oauth2-mail-proxy check-token [--json] [--config FILE] [--] TOKEN|-
       oauth2-mail-proxy doctor [--config FILE] [--user USER]
       oauth2-mail-proxy app-password [--config FILE] [--file FILE] list|create|revoke USER ...
       oauth2-mail-proxy healthcheck

Starts the IMAP and SMTP submission front proxy. Settings come from environment variables
(see docs/configuration.md), optionally from a YAML file of the same KEY: value pairs (the environment wins).
doctor checks the configuration, certificates, IdP and DMS and prints a checklist; with
--user it also logs in to DMS as USER with the master account. healthcheck asks the running
proxy's /healthz where LISTEN_HTTP puts it (the image's HEALTHCHECK).`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'check-token') {
    const { checkTokenCommand } = await import('./commands/check-token.js');
    return checkTokenCommand(argv.slice(1), { env: process.env, stdin: readStdin, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
  }
  if (argv[0] === 'healthcheck') {
    const { healthcheckCommand } = await import('./commands/healthcheck.js');
    return healthcheckCommand({ env: process.env, err: (s) => process.stderr.write(s) });
  }
  if (argv[0] === 'app-password') {
    const { appPasswordCommand } = await import('./commands/app-password.js');
    return appPasswordCommand(argv.slice(1), { env: process.env, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
  }
  let configPath: string | undefined;
  let doctor = false;
  let user: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (i === 0 && a === 'doctor') doctor = true;
    else if (doctor && (a === '--user' || a === '-u')) user = argv[++i] ?? '';
    else if (doctor && a.startsWith('--user=')) user = a.slice('--user='.length);
    else if (a === '--config' || a === '-c') configPath = argv[++i] ?? '';
    else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a === '--version' || a === '-V') return printVersion();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`unknown argument: ${a}\n${USAGE}\n`);
      return 2;
    }
  }
  // An empty name (an unset variable in a compose file or unit) must not read as "no file":
  // the proxy would start from the environment alone, without the file's issuers and limits.
  for (const [option, value] of [['--config', configPath], ['--user', user]] as const) {
    if (value !== undefined && !value.trim()) {
      process.stderr.write(`${option} needs a value\n${USAGE}\n`);
      return 2;
    }
  }
  const { ConfigError, loadConfig, readConfigFile } = await import('./config/load.js');
  if (doctor) {
    const { runDoctor } = await import('./doctor/run.js');
    let file = {};
    try {
      if (configPath) file = readConfigFile(configPath);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stdout.write(`[FAIL] configuration: ${err.message}\n`);
      return 78;
    }
    const code = await runDoctor({ env: process.env, file, user }, (line) => process.stdout.write(`${line}\n`));
    setTimeout(() => process.exit(code), CLI_EXIT_DELAY_MS).unref(); // idle keep-alive sockets must not delay the answer
    return code;
  }
  let config;
  try {
    config = loadConfig(process.env, configPath ? readConfigFile(configPath) : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`oauth2-mail-proxy: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const [{ createLogger }, { startServer }, { shutdownOnSignal, reloadOnHangup }, { guardProcess }] = await Promise.all([
    import('./observability/logger.js'), import('./server.js'), import('./shutdown.js'), import('./observability/faults.js'),
  ]);
  const log = createLogger(config.logLevel);
  // Each listener ends the one connection whose code threw; this catches what escapes them
  // all (logged, counted as internal_errors_total{listener="process"}), so one bug in one
  // session never ends every IMAP, SMTP, SCIM and ops connection at once.
  guardProcess(log);
  let started: Awaited<ReturnType<typeof startServer>> | undefined;
  reloadOnHangup(() => started?.certificates ?? null, log); // before the start: a HUP never ends the process
  const server = await startServer(config, log);
  started = server;
  const { code, graceEndMs } = await shutdownOnSignal(server, config.ops.shutdownGraceMs, log);
  log.flush?.();
  // Everything is closed and the process ends by itself; a handle someone forgot (or a
  // connection still closing when the grace ran out) must not keep it past its grace.
  setTimeout(() => process.exit(code), Math.max(0, graceEndMs - Date.now())).unref();
  return code;
}

function printVersion(): number {
  const info = readPackageInfo();
  if (!info) {
    process.stderr.write(`oauth2-mail-proxy: version unknown (no package.json of ${PACKAGE_NAME} above ${import.meta.url})\n`);
    return 1;
  }
  process.stdout.write(`${PACKAGE_NAME} ${info.version}\n`);
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: Error) => {
    process.stderr.write(`oauth2-mail-proxy: ${err.message}\n`);
    process.exitCode = 1;
  },
);
