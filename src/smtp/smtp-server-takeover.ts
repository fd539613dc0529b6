// The hand-over's use of smtp-server's parser (its private members, as smtp-server-adapter.ts
// uses the connection's): getting back every line a client pipelined behind AUTH.
//
// RFC 4954 §4 allows commands pipelined behind an AUTH whose initial response completes it in
// one round trip (PLAIN, a good bearer token), and we advertise PIPELINING (RFC 2920): MAIL,
// RCPT, DATA may already sit in smtp-server's parser, in the rest of the read that held AUTH
// and in reads queued behind it while the login ran. Releasing AUTH makes the parser hand them
// on, to us instead of to smtp-server. It does not always do so at once: after 100 commands in
// one read it goes on in a later turn of the event loop (smtp-stream's MAX_SYNC_COMMANDS), and
// the lines past them were lost when the parser was closed right away
// (test/adversary/smtp-pipelined-auth-many.test.ts). So the splice gets the lines once the
// parser has taken all it was given: at once in the usual case, else a turn or more later.
import type net from 'node:net';
import type { Writable } from 'node:stream';

/** The private shape of smtp-server's SMTPStream that the hand-over relies on. */
export type SmtpParser = Writable & { isClosed: boolean; _remainder: string; oncommand(line: Buffer, next: () => void): void };

const CRLF = Buffer.from('\r\n');
const NOTHING = Buffer.alloc(0);

/**
 * Stops `parser` reading `socket`, calls `release` (the AUTH command's callback: the parser goes
 * on), and calls `then` once with every line the parser still held, in order, the partial last
 * line included; nothing reaches smtp-server after that.
 */
export function takeParsedLines(socket: net.Socket, parser: SmtpParser | false, release: () => void, then: (early: Buffer) => void): void {
  if (!parser) {
    release();
    return then(NOTHING);
  }
  socket.unpipe(parser); // bytes that arrive from now on go to the splice
  const early: Buffer[] = [];
  parser.oncommand = (line, next) => {
    early.push(line, CRLF);
    next();
  };
  parser.removeAllListeners('error'); // an over-long line must not become a 421 inside the splice
  parser.on('error', () => undefined);
  let taken = false;
  const finish = (): void => {
    if (taken) return;
    taken = true;
    if (parser._remainder) early.push(Buffer.from(parser._remainder, 'latin1'));
    parser._remainder = '';
    parser.isClosed = true;
    then(Buffer.concat(early));
  };
  release();
  // Nothing left unparsed: the usual case, the splice starts in this turn.
  if (parser.writableLength === 0) return finish();
  // A write queued behind what the parser holds calls back once all of it is parsed; an
  // ended parser says so with 'finish'; a destroyed one (an over-long line) with 'close'.
  parser.once('close', finish);
  if (parser.writableEnded) parser.once('finish', finish);
  else parser.write(NOTHING, finish);
}
