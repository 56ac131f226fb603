// Senders for the hostile-input battery (tests/hostile.test.mjs): one over node:http (any
// headers, bodies from a Buffer or streamed from a generator, never held whole in memory) and
// one over a raw node:net socket for what an HTTP client refuses to send (lying lengths, bad
// chunk sizes, raw bytes in the request line). Both stop after `timeoutMs` and report a hang
// instead of waiting forever, and both resolve as soon as a whole response has arrived even if
// the server stopped reading the request body (an early 413).
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';

const MAX_KEEP = 256 * 1024;

function finish(status, headers, bodyBuf) {
  const text = bodyBuf.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status, headers, text, json, hang: false, error: null };
}

/**
 * Sends `req` ({method, path, headers, body}) with node:http. `body` is a Buffer/string, or a
 * function returning an (async) iterable of Buffers (sent chunked unless the headers declare a
 * Content-Length).
 */
export function sendHttp(base, req, timeoutMs = 20_000) {
  const url = new URL(base);
  return new Promise((resolve) => {
    let done = false;
    const settle = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
      // Whatever the server did not read is not ours to finish sending.
      setImmediate(() => { try { r.destroy(); } catch { /* closed */ } });
    };
    const headers = { ...(req.headers ?? {}) };
    const body = req.body;
    const isStream = typeof body === 'function';
    if (!isStream && body !== undefined && body !== null) {
      const has = Object.keys(headers).some((k) => k.toLowerCase() === 'content-length');
      if (!has) headers['content-length'] = String(Buffer.byteLength(body));
    }
    const r = httpRequest({
      host: url.hostname, port: url.port, method: req.method ?? 'GET', path: req.path, headers,
      agent: false, insecureHTTPParser: true, maxHeaderSize: 1024 * 1024,
    });
    const timer = setTimeout(() => settle({ hang: true, status: null, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    r.on('response', (res) => {
      const chunks = [];
      let kept = 0;
      res.on('data', (c) => { if (kept < MAX_KEEP) { chunks.push(c); kept += c.length; } });
      res.on('end', () => settle(finish(res.statusCode, res.headers, Buffer.concat(chunks))));
      res.on('error', (e) => settle({ hang: false, status: res.statusCode, headers: res.headers, error: `response broke off: ${e.code ?? e.message}` }));
      res.on('aborted', () => settle({ hang: false, status: res.statusCode, headers: res.headers, error: 'response aborted' }));
    });
    r.on('error', (e) => settle({ hang: false, status: null, error: `${e.code ?? ''} ${e.message}`.trim() }));
    if (isStream) {
      const src = Readable.from(body());
      src.on('error', () => r.destroy());
      src.pipe(r);
    } else {
      r.end(body ?? undefined);
    }
  });
}

/** Parses as much of an HTTP/1.1 response as `buf` holds; returns null until it is complete. */
export function parseResponse(buf, closed) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!m) return { status: null, headers: {}, text: buf.toString('latin1').slice(0, 500), json: undefined, hang: false, error: 'not an HTTP response' };
  const status = Number(m[1]);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return finish(status, headers, Buffer.alloc(0));
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length >= n) return finish(status, headers, rest.subarray(0, n));
    return closed ? { ...finish(status, headers, rest), error: 'response body cut short' } : null;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) return finish(status, headers, Buffer.concat(parts));
      if (rest.length < eol + 2 + size + 2) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    return closed ? { ...finish(status, headers, Buffer.concat(parts)), error: 'chunked response cut short' } : null;
  }
  return closed ? finish(status, headers, rest) : null;
}

/**
 * Writes `chunks` (Buffers/strings, written one by one with `gapMs` between them) to a raw
 * socket on 127.0.0.1:`port`. `halfClose` ends the write side afterwards (EOF) while still
 * reading the answer.
 */
export function sendRaw(port, chunks, { halfClose = false, gapMs = 0, timeoutMs = 20_000 } = {}) {
  return new Promise((resolve) => {
    let done = false;
    const got = [];
    const sock = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const settle = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => settle({ hang: true, status: null, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const check = (closed) => {
      const buf = Buffer.concat(got);
      const parsed = parseResponse(buf, closed);
      if (parsed) settle(parsed);
      else if (closed) settle({ hang: false, status: null, error: buf.length ? `incomplete response: ${buf.toString('latin1').slice(0, 200)}` : 'connection closed without a response' });
    };
    sock.on('data', (d) => { got.push(d); check(false); });
    sock.on('end', () => check(true));
    sock.on('close', () => check(true));
    sock.on('error', (e) => {
      if (got.length) check(true);
      else settle({ hang: false, status: null, error: `${e.code ?? ''} ${e.message}`.trim() });
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (done) return;
        sock.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (halfClose && !done) sock.end();
    });
  });
}

/** A generator of `total` bytes in `chunk`-sized pieces (the same buffer each time: nothing is kept). */
export function bytes(total, chunk = 1024 * 1024, fill = 0x61) {
  return function* gen() {
    const piece = Buffer.alloc(chunk, fill);
    let left = total;
    while (left > 0) {
      const n = Math.min(left, chunk);
      yield n === chunk ? piece : piece.subarray(0, n);
      left -= n;
    }
  };
}

/** A generator of `total` bytes in irregular pieces (sizes cycle through `sizes`). */
export function irregular(total, sizes) {
  return function* gen() {
    let left = total;
    let i = 0;
    while (left > 0) {
      const n = Math.min(left, sizes[i++ % sizes.length]);
      yield Buffer.alloc(n, 0x30 + (i % 10));
      left -= n;
    }
  };
}
