// A TCP "DMS" (no TLS: the proxy is run with DMS_TLS=none / DMS_SUBMISSION_TLS=none against
// it) that fails on purpose: never greets, greets then drops, drops or resets during the
// login, or logs in and then lets the test cut the spliced session. Only as much IMAP and
// SMTP as the proxy's backend login speaks.
import net from 'node:net';

export type BackendBehaviour =
  /** Accepts the TCP connection and says nothing. */
  | 'never-greet'
  /** Sends the greeting, then closes (FIN). */
  | 'greet-then-drop'
  /** Greets and answers until the login command (AUTHENTICATE / AUTH), then closes (FIN). */
  | 'drop-at-login'
  /** Same, but resets the connection (RST). */
  | 'rst-at-login'
  /** Accepts the login, but only after SLOW_LOGIN_MS (a client can leave meanwhile); then as 'serve'. */
  | 'slow-login'
  /** Accepts the login; after it answers every command with OK / 250 until dropAll(). */
  | 'serve';

export interface FakeBackend {
  readonly port: number;
  behaviour: BackendBehaviour;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections currently open. */
  readonly open: number;
  /** Logged-in sessions currently open. */
  readonly loggedIn: number;
  /** Cuts every open connection: `rst` resets, otherwise FIN. */
  dropAll(how?: 'fin' | 'rst'): void;
  stop(): Promise<void>;
}

export const SLOW_LOGIN_MS = 800;

export async function startFakeBackend(protocol: 'imap' | 'smtp', behaviour: BackendBehaviour): Promise<FakeBackend> {
  const state = { behaviour };
  const sockets = new Set<net.Socket>();
  const sessions = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => { sockets.delete(socket); sessions.delete(socket); });
    const b = state.behaviour;
    socket.resume(); // read (and drop) whatever comes, so the proxy's FIN is seen and the socket closes
    if (b === 'never-greet') return;
    socket.write(protocol === 'imap' ? '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN] Fake ready.\r\n' : '220 fake.example.test ESMTP\r\n');
    if (b === 'greet-then-drop') return void socket.end();
    let buffer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buffer += d;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        if (socket.destroyed) return;
        if (sessions.has(socket)) {
          answerLoggedIn(protocol, socket, line);
          continue;
        }
        const login = protocol === 'imap' ? /^\S+ AUTHENTICATE /i.test(line) : /^AUTH /i.test(line);
        if (login && b === 'drop-at-login') return void socket.end();
        if (login && b === 'rst-at-login') return void socket.resetAndDestroy();
        const answer = (): void => {
          if (socket.destroyed) return;
          if (protocol === 'imap') answerImap(socket, line, sessions);
          else answerSmtp(socket, line, sessions);
        };
        if (login && b === 'slow-login') setTimeout(answer, SLOW_LOGIN_MS);
        else answer();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    port,
    get behaviour() { return state.behaviour; },
    set behaviour(b: BackendBehaviour) { state.behaviour = b; },
    get accepted() { return accepted; },
    get open() { return sockets.size; },
    get loggedIn() { return sessions.size; },
    dropAll(how = 'fin') {
      for (const s of sockets) {
        if (how === 'rst') s.resetAndDestroy();
        else s.end();
      }
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopping;
    },
  };
}

function answerImap(socket: net.Socket, line: string, sessions: Set<net.Socket>): void {
  const [tag = '*', verb = ''] = line.split(' ');
  switch (verb.toUpperCase()) {
    case 'ID':
      socket.write(`* ID NIL\r\n${tag} OK ID completed.\r\n`);
      return;
    case 'AUTHENTICATE':
      sessions.add(socket);
      socket.write(`${tag} OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE MOVE] Logged in\r\n`);
      return;
    case 'CAPABILITY':
      socket.write(`* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\n${tag} OK done\r\n`);
      return;
    default:
      socket.write(`${tag} BAD unexpected before login\r\n`);
  }
}

function answerSmtp(socket: net.Socket, line: string, sessions: Set<net.Socket>): void {
  const verb = line.split(' ')[0]!.toUpperCase();
  if (verb === 'EHLO') return void socket.write('250-fake.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n');
  if (verb === 'AUTH') {
    sessions.add(socket);
    return void socket.write('235 2.7.0 Authentication successful\r\n');
  }
  if (verb === 'QUIT') return void socket.end('221 2.0.0 Bye\r\n');
  socket.write('503 5.5.1 unexpected before login\r\n');
}

function answerLoggedIn(protocol: 'imap' | 'smtp', socket: net.Socket, line: string): void {
  if (protocol === 'imap') {
    const [tag = '*', verb = ''] = line.split(' ');
    if (verb.toUpperCase() === 'LOGOUT') return void socket.end(`* BYE Logging out\r\n${tag} OK Logout completed.\r\n`);
    socket.write(`${tag} OK ${verb} completed (fake).\r\n`);
    return;
  }
  if (/^QUIT/i.test(line)) return void socket.end('221 2.0.0 Bye\r\n');
  socket.write('250 2.0.0 Ok (fake)\r\n');
}
