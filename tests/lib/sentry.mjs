// The official @sentry/browser SDK (pinned in package.json) bundled with esbuild, and a tiny
// static server for a test page that uses it. The page is served from its own origin, as a real
// app would be, and reports to the Backstop worker on another origin.
import { createServer } from 'node:http';
import { build } from 'esbuild';

export const SENTRY_VERSION = '11.12.0';

/** Bundles `@sentry/browser` into one minified IIFE exposing `window.Sentry`. */
export async function sentryBundle() {
  const result = await build({
    stdin: { contents: "import * as Sentry from '@sentry/browser'; window.Sentry = Sentry;", resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'iife',
    write: false,
    target: 'es2020',
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * Serves `/` (the given HTML) and `/sentry.js` on a free loopback port.
 * @returns {Promise<{origin: string, close: () => Promise<void>}>}
 */
export async function servePage(html, bundle) {
  const server = createServer((req, res) => {
    if (req.url === '/sentry.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
    } else if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
