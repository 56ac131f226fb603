// The tiny app behind nginx: records what it received (method, URL, headers, size, SHA-256 and,
// for small bodies, the bytes) and answers as told per path prefix (status, delay before the
// answer). It never buffers large bodies: they are hashed as they stream.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';

const KEEP_BYTES = 256 * 1024;

/**
 * @returns {Promise<{port: number, requests: any[], behave: (prefix: string, b: {status?: number, delayMs?: number, body?: string}) => void,
 *   received: (pred: (r: any) => boolean) => any[], close: () => Promise<void>}>}
 */
export async function startOriginApp(port = 0) {
  const requests = [];
  const behaviours = new Map();
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    const kept = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      hash.update(chunk);
      if (size <= KEEP_BYTES) kept.push(chunk);
    });
    req.on('end', () => {
      const path = req.url.split('?')[0];
      const match = [...behaviours.keys()].filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
      const b = (match && behaviours.get(match)) || {};
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        size,
        sha256: hash.digest('hex'),
        body: size <= KEEP_BYTES ? Buffer.concat(kept) : null,
        at: Date.now(),
      };
      if (!path.startsWith('/__nginx_probe')) requests.push(record);
      const answer = () => {
        const status = b.status ?? 200;
        res.writeHead(status, { 'content-type': 'application/json', 'x-origin-app': 'recorder' });
        res.end(b.body ?? JSON.stringify({ ok: status < 300, size, sha256: record.sha256 }));
      };
      if (b.delayMs) setTimeout(answer, b.delayMs); else answer();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    requests,
    behave: (prefix, b) => behaviours.set(prefix, b),
    received: (pred) => requests.filter(pred),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/** A sink for alerts (Slack-compatible JSON): records them; `mode` 'ok' | 'fail' (500) | 'relay' (forward to `relayTo`). */
export async function startAlertSink() {
  const alerts = [];
  const state = { mode: 'ok', relayTo: null };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try { json = JSON.parse(body); } catch { /* recorded raw */ }
      alerts.push({ headers: req.headers, body: json ?? body, raw: body, mode: state.mode, at: Date.now() });
      if (state.mode === 'fail') {
        res.writeHead(500).end('sink down');
      } else if (state.mode === 'relay' && state.relayTo) {
        // An alert URL that leads back into the guard, headers and all (the recursion story).
        try {
          const headers = { ...req.headers };
          delete headers.host; delete headers['content-length']; delete headers.connection;
          const r = await fetch(state.relayTo, { method: 'POST', headers, body });
          res.writeHead(r.status).end(await r.text());
        } catch (e) {
          res.writeHead(502).end(String(e));
        }
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    url: `http://127.0.0.1:${server.address().port}/slack`,
    alerts,
    set: (changes) => Object.assign(state, changes),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
