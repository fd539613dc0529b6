// The ID command a backend login sends (src/backend/imap-id.ts): imapIdLine, built in one
// pass, says exactly what idCommand(idFieldsFor(client)) says, with and without PROXY protocol.
import t from 'tap';
import { idCommand, imapIdLine } from '../../src/backend/imap-id.js';
import { idFieldsFor } from '../../src/backend/targets.js';
import type { BackendClient } from '../../src/backend/login-result.js';

const clients: BackendClient[] = [
  { address: '192.0.2.7', port: 51234, localAddress: '127.0.0.1', localPort: 143, tls: false },
  { address: '2001:db8::1', port: 0, localAddress: '::1', localPort: 0, tls: true, sessionId: 'k3J9x' },
  { address: '192.0.2.7', port: 1, localAddress: '127.0.0.1', localPort: 993, tls: true, sessionId: 's"1\\', idFields: [['name', 'Thunder "bird" \\ 1'], ['x-originating-ip', '203.0.113.9'], ['version', '']] },
];

t.test('the same line as idCommand(idFieldsFor(client)) for every client, PROXY protocol or not', async (t) => {
  for (const c of clients) {
    for (const pp of [false, true]) t.equal(imapIdLine(c, pp), idCommand(idFieldsFor(c), pp), `${c.address} pp=${pp}`);
  }
  t.equal(imapIdLine(clients[0]!, false), 'P2 ID ("x-originating-ip" "192.0.2.7" "x-originating-port" "51234" "x-connected-ip" "127.0.0.1" "x-connected-port" "143")');
  t.equal(imapIdLine(clients[2]!, true), 'P2 ID ("x-connected-ip" "127.0.0.1" "x-connected-port" "993" "x-session-ext-id" "s\\"1\\\\" "name" "Thunder \\"bird\\" \\\\ 1" "version" "")');
});
