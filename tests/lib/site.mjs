// A customer's site for the end-to-end tests: a plain HTTP server whose pages load the SDK from
// the worker, as a real site does. Its origin is `http://localhost:<port>` while the worker is
// `http://127.0.0.1:<port>`, so every request from a page to the worker is cross-origin (host and
// port differ), with the CORS, CORP and CSP rules a browser applies to a real deployment.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { ROOT } from './harness.mjs';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

/**
 * Starts the site. `routes` maps a path to `{ body, type?, headers?, status? }` or to a function
 * `(url, req) => route`; `files` maps a URL prefix to a directory served as static files (the
 * demo page's own files, served by the site rather than the worker).
 * @param {{routes?: Record<string, any>, files?: Record<string, string>, headers?: Record<string, string>}} opts
 * @returns {Promise<{origin: string, port: number, requests: string[], close: () => Promise<void>}>}
 */
export async function startSite({ routes = {}, files = {}, headers = {} } = {}) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    requests.push(`${req.method} ${url.pathname}`);
    try {
      let route = routes[url.pathname];
      if (typeof route === 'function') route = await route(url, req);
      if (!route) {
        for (const [prefix, dir] of Object.entries(files)) {
          if (!url.pathname.startsWith(prefix)) continue;
          // A prefix without a trailing slash names one file.
          if (!prefix.endsWith('/') && url.pathname !== prefix) continue;
          let rel = url.pathname.slice(prefix.length);
          if (prefix.endsWith('/') && (rel === '' || rel.endsWith('/'))) rel += 'index.html';
          const file = normalize(join(ROOT, dir, rel));
          if (!file.startsWith(join(ROOT, dir))) break;
          const ext = file.slice(file.lastIndexOf('.'));
          route = { body: await readFile(file), type: TYPES[ext] ?? 'application/octet-stream' };
          break;
        }
      }
      if (!route) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(route.status ?? 200, { 'content-type': route.type ?? 'text/html; charset=utf-8', ...headers, ...(route.headers ?? {}) });
      res.end(route.body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://localhost:${port}`,
    port,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
