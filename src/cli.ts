#!/usr/bin/env node
// oauth2-mail-proxy [--config FILE]: load and validate the config (all problems at once),
// start the listeners, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, loadConfig, readConfigFile } from './config/load.js';
import { createLogger } from './observability/logger.js';
import { startServer } from './server.js';

const USAGE = `usage: oauth2-mail-proxy [--config FILE]

Starts the IMAP front proxy. Settings come from environment variables (see README),
optionally from a YAML file of the same KEY: value pairs (the environment wins).`;

async function main(argv: string[]): Promise<number> {
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') configPath = argv[++i];
    else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`unknown argument: ${a}\n${USAGE}\n`);
      return 2;
    }
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
  const log = createLogger(config.logLevel);
  const server = await startServer(config, log);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ event: 'shutdown', signal }, 'shutting down');
      void server.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.flush?.();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: Error) => {
    process.stderr.write(`oauth2-mail-proxy: ${err.message}\n`);
    process.exitCode = 1;
  },
);
