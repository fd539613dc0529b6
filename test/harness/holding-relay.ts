// A TCP relay in front of Dovecot (a fault injected) that, once armed, holds Dovecot's answers
// on the first proxy connection that sends a login (AUTHENTICATE or LOGIN) until released: the
// moment between the proxy's decision and Dovecot's answer, made as long as a test needs to
// race something (a revocation, a SCIM deactivation) into it.
import net from 'node:net';
import { HOST } from './ports.js';

/** Forwards to `target`; once armed, the first proxy line with a login in it holds Dovecot's answers until released. */
export async function startHoldingRelay(target: number) {
  let armed = false;
  let seen: () => void = () => undefined;
  let held: Array<() => void> = [];
  /** The one connection whose answers are held (the login the test races). */
  let holding: net.Socket | undefined;
  const open = new Set<net.Socket>();
  const server = net.createServer((proxySide) => {
    const dms = net.connect(target, HOST);
    for (const s of [proxySide, dms]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { open.delete(s); proxySide.destroy(); dms.destroy(); });
    }
    proxySide.on('data', (d: Buffer) => {
      if (armed && /AUTHENTICATE|LOGIN/i.test(d.toString('latin1'))) {
        armed = false;
        holding = proxySide;
        seen();
      }
      dms.write(d);
    });
    dms.on('data', (d: Buffer) => {
      if (holding === proxySide) held.push(() => proxySide.write(d));
      else proxySide.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Resolves when the proxy has sent its master login (so it has decided the client's login). */
    arm(): Promise<void> {
      armed = true;
      return new Promise((resolve) => { seen = resolve; });
    },
    release(): void {
      holding = undefined;
      for (const f of held) f();
      held = [];
    },
    async stop(): Promise<void> {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
