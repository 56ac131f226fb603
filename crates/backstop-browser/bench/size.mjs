// Bytes of the built SDK without a browser (the `sdk-size` step of `cargo xtask test`):
// web-demo/sdk/backstop.js (js_*: all a page without errors downloads) and backstop_bg.js +
// backstop_bg.wasm (loaded together on the first error; total_* counts all three, a page with
// an error), gzip -9 and brotli q11 as bench.mjs measures them, and, when
// <outDir>/sentry.js exists (the esbuild bundle of @sentry/browser), the ratio to it.
// Prints one line `SIZES key=value ...` for xtask's budget check.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const outDir = path.resolve(process.argv[2] || path.join(root, 'target/bench-sdk'));

const gzip = (b) => zlib.gzipSync(b, { level: 9 }).length;
const brotli = (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const js = await readFile(path.join(root, 'web-demo/sdk/backstop.js'));
const wasm = await readFile(path.join(root, 'web-demo/sdk/backstop_bg.wasm'));
const bg = await readFile(path.join(root, 'web-demo/sdk/backstop_bg.js'));
const sentryFile = path.join(outDir, 'sentry.js');
const sentry = existsSync(sentryFile) ? gzip(await readFile(sentryFile)) : 0;
const s = {
  wasm_raw: wasm.length,
  wasm_gzip: gzip(wasm),
  js_raw: js.length,
  js_gzip: gzip(js),
  bg_js_raw: bg.length,
  bg_js_gzip: gzip(bg),
  total_brotli: brotli(js) + brotli(bg) + brotli(wasm),
  sentry_gzip: sentry,
};
s.total_gzip = s.js_gzip + s.bg_js_gzip + s.wasm_gzip;
if (sentry) {
  const r = (n) => (n / sentry).toFixed(2);
  console.log(`page with an error ${s.total_gzip} B gzip = ${r(s.total_gzip)}x @sentry/browser's ${sentry} B; page without errors ${s.js_gzip} B = ${r(s.js_gzip)}x`);
}
console.log('SIZES ' + Object.entries(s).map(([k, v]) => `${k}=${v}`).join(' '));
