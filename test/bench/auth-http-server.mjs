// nginx's auth_http server for the bench (see nginx.ts), plain JavaScript so that it starts in
// milliseconds without the TypeScript loader (on 2 loaded cores that loader takes 20 s and more).
//
// http://nginx.org/en/docs/mail/ngx_mail_auth_http_module.html: nginx sends Auth-Method,
// Auth-User, Auth-Pass (URL-escaped), Auth-Protocol, Client-IP; a 200 with Auth-Status: OK,
// Auth-Server (an address) and Auth-Port sends the session there, with Auth-User/Auth-Pass
// replacing the client's credentials for the backend login.
//
// node auth-http-server.mjs PORT_FILE BACKEND_PORT MASTER_USER (tokens in BENCH_AUTH_TOKENS:
// JSON {token: email}; the master password in BENCH_MASTER_PASSWORD).
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

const [portFile, backendPort, masterUser] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const tokens = new Map(Object.entries(JSON.parse(process.env.BENCH_AUTH_TOKENS ?? '{}')));
const masterPassword = process.env.BENCH_MASTER_PASSWORD ?? '';
const now = () => performance.timeOrigin + performance.now();
const timings = [];
let port = backendPort;
const server = http.createServer((req, res) => {
  const at = now();
  if (req.url === '/timings') {
    res.end(JSON.stringify(timings.splice(0)));
    return;
  }
  if (req.url?.startsWith('/backend?port=')) {
    port = Number(req.url.slice(14)) || backendPort;
    res.end('ok');
    return;
  }
  const user = decodeURIComponent(String(req.headers['auth-user'] ?? ''));
  const pass = decodeURIComponent(String(req.headers['auth-pass'] ?? ''));
  const email = tokens.get(pass);
  if (email !== undefined && email === user) {
    res.writeHead(200, {
      'Auth-Status': 'OK', 'Auth-Server': '127.0.0.1', 'Auth-Port': String(port),
      'Auth-User': `${user}*${masterUser}`, 'Auth-Pass': masterPassword,
    });
  } else {
    res.writeHead(200, { 'Auth-Status': 'Invalid login or password', 'Auth-Wait': '0' });
  }
  res.end();
  timings.push({ at, done: now() });
  if (timings.length > 100_000) timings.splice(0, 50_000); // bounded when nobody reads them
});
server.listen(0, '127.0.0.1', () => { void writeFile(portFile, String(server.address().port)); });
