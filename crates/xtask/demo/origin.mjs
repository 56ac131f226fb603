// The demo's origin server: a stand-in for an app behind nginx with `client_max_body_size`.
// `cargo xtask demo` starts it on 127.0.0.1 behind the guarded demo route, so the demo page can
// show the webhook half of Backstop: a small webhook passes through, one over this server's
// limit is refused with 413 (as nginx refuses it) and held by the worker, the limit is raised,
// and a replay is delivered once, byte for byte.
//
//   node crates/xtask/demo/origin.mjs <port> [limit bytes]
//
// Routes: POST anything else (a webhook: recorded with its size and SHA-256, or refused with
// 413 over the limit, like nginx, before the body is read when Content-Length says so);
// GET /__origin/state (limit and what was received); POST /__origin/limit?bytes=N. The two
// /__origin/ routes answer any origin (CORS), for the demo page.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';

const port = Number(process.argv[2] || 8788);
let limit = Number(process.argv[3] || 1024 * 1024);
/** What reached the app (newest last, at most 50). */
const received = [];

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

function answer(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://origin');
  if (url.pathname.startsWith('/__origin/')) {
    if (req.method === 'OPTIONS') return answer(res, 204, {}, cors);
    if (req.method === 'GET' && url.pathname === '/__origin/state') return answer(res, 200, { limit, received }, cors);
    if (req.method === 'POST' && url.pathname === '/__origin/limit') {
      const bytes = Number(url.searchParams.get('bytes'));
      if (!Number.isSafeInteger(bytes) || bytes < 1) {
        return answer(res, 400, { error: 'invalid_limit', detail: 'bytes must be a positive whole number' }, cors);
      }
      limit = bytes;
      return answer(res, 200, { limit }, cors);
    }
    return answer(res, 404, { error: 'not_found' }, cors);
  }
  const declared = Number(req.headers['content-length']);
  const refuse = () => {
    // nginx answers 413 with an HTML page at once and closes the connection, but only after a
    // lingering close has read what the client was still sending: closing a socket with unread
    // bytes resets it, and the client then sees a broken connection instead of the 413. So the
    // whole answer is written now and the response ends (closing) once the body is drained.
    const page = `<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center><hr><center>demo origin (limit ${limit} bytes)</center></body></html>`;
    res.writeHead(413, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page), connection: 'close' });
    res.write(page);
    req.on('end', () => res.end());
    req.on('error', () => res.destroy());
    req.resume();
  };
  if (Number.isFinite(declared) && declared > limit) return refuse();
  const hash = createHash('sha256');
  let size = 0;
  let refused = false;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > limit && !refused) {
      refused = true;
      refuse();
    }
    hash.update(chunk);
  });
  req.on('end', () => {
    if (refused) return;
    const record = { at: Date.now(), method: req.method, path: req.url, size, sha256: hash.digest('hex'), content_type: req.headers['content-type'] ?? null };
    received.push(record);
    if (received.length > 50) received.shift();
    answer(res, 200, { ok: true, size, sha256: record.sha256 });
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`demo origin on http://127.0.0.1:${port} (upload limit ${limit} bytes)`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
