// `cargo xtask bench webhook`: one run, two questions.
// 1. What does the guard cost a small webhook? Latency of small POSTs straight to nginx vs the
//    same POSTs through the worker (which tees a copy to R2 and records the delivery after
//    answering), as a ratio.
// 2. Does wasm memory stay flat with body size? The worker's wasm linear memory (it only grows,
//    so a reading is also the peak so far) after passing and holding 25 MB and 100 MB bodies,
//    and the delivery object's after replaying them.
// Figures are for comparison within the run, never assertions.
import { randomBytes } from 'node:crypto';
import { startWorker, adminGet } from './harness.mjs';
import { startNginx } from './nginx.mjs';
import { startOriginApp } from './origin-app.mjs';

const MIB = 1024 * 1024;
const SMALL = Number(process.env.BENCH_SMALL_REQUESTS ?? 300);

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;
const mib = (b) => `${(b / MIB).toFixed(1)} MiB`;

async function timed(url, body, headers) {
  const t0 = performance.now();
  const r = await fetch(url, { method: 'POST', body, headers });
  await r.arrayBuffer();
  return { ms: performance.now() - t0, status: r.status, headers: r.headers };
}

async function latency(url, n, method = 'POST') {
  const body = method === 'POST' ? randomBytes(1024) : undefined;
  const headers = { 'content-type': 'application/json' };
  const once = async () => {
    const t0 = performance.now();
    const r = await fetch(url, { method, body, headers });
    await r.arrayBuffer();
    return { ms: performance.now() - t0, status: r.status };
  };
  for (let i = 0; i < 20; i++) await once(); // warm-up
  const xs = [];
  for (let i = 0; i < n; i++) {
    const r = await once();
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
    xs.push(r.ms);
  }
  return { p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), p99: quantile(xs, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

const pad = (s, n) => String(s).padEnd(n);
const padl = (s, n) => String(s).padStart(n);

async function main() {
  const app = await startOriginApp();
  const nginx = await startNginx({ upstreamPort: app.port, maxBodySize: '1m', locations: { '/big/': '200m' } });
  const routes = [
    { name: 'small', prefix: '/small/', origin: nginx.base, body_limit: '1m' },
    { name: 'pass', prefix: '/big/pass/', origin: nginx.base, body_limit: '200m', max_body: '200m', timeout_ms: 120000 },
    { name: 'hold', prefix: '/big/hold/', origin: nginx.base, body_limit: '1m', max_body: '200m' },
    { name: 'refused', prefix: '/refused/', origin: nginx.base, max_body: '200m', timeout_ms: 120000 },
  ];
  const w = await startWorker({ vars: { BACKSTOP_WEBHOOK_ROUTES: JSON.stringify(routes) } });
  const memory = async () => (await adminGet(w, '/api/webhooks/debug/memory')).wasm_memory_bytes;
  try {
    console.log(`==> latency: ${SMALL} sequential 1 KiB POSTs each way (after 20 warm-up requests)`);
    const direct = await latency(`${nginx.base}/small/hook`, SMALL);
    const guarded = await latency(`${w.base}/small/hook`, SMALL);
    const floor = await latency(`${w.base}/healthz`, SMALL, 'GET');
    console.log();
    console.log(`${pad('small POST (1 KiB)', 40)}${padl('p50', 11)}${padl('p90', 11)}${padl('p99', 11)}${padl('mean', 11)}`);
    const latencyRows = [['direct to nginx', direct], ['through the worker (guarded route)', guarded],
      ['worker floor: GET /healthz (no guard)', floor]];
    for (const [name, r] of latencyRows) {
      console.log(`${pad(name, 40)}${padl(ms(r.p50), 11)}${padl(ms(r.p90), 11)}${padl(ms(r.p99), 11)}${padl(ms(r.mean), 11)}`);
    }
    const ratio = (a, b, k) => `${(a[k] / b[k]).toFixed(2)}x`;
    const line = (name, a, b) => console.log(`${pad(name, 40)}${['p50', 'p90', 'p99', 'mean'].map((k) => padl(ratio(a, b, k), 11)).join('')}`);
    line('ratio: through the worker / direct', guarded, direct);
    line('ratio: guarded POST / worker floor', guarded, floor);

    console.log();
    console.log('==> wasm memory while passing and holding large bodies');
    const rows = [];
    const base = await memory();
    rows.push(['baseline (after the latency run)', '', '', base, '']);
    for (const size of [25 * MIB, 100 * MIB]) {
      const body = randomBytes(size);
      const headers = { 'content-type': 'application/octet-stream' };
      let r = await timed(`${w.base}/big/pass/x`, body, headers);
      rows.push([`pass ${mib(size)} (tee: origin + R2)`, r.status, ms(r.ms), await memory(), `${(size / MIB / (r.ms / 1000)).toFixed(0)} MiB/s`]);
      r = await timed(`${w.base}/big/hold/x`, body, headers);
      rows.push([`hold ${mib(size)} (over the limit: R2 only)`, r.status, ms(r.ms), await memory(), `${(size / MIB / (r.ms / 1000)).toFixed(0)} MiB/s`]);
      r = await timed(`${w.base}/refused/x`, body, headers);
      const held = r.headers.get('x-backstop-delivery-id');
      rows.push([`hold ${mib(size)} (nginx 413: tee, then R2)`, r.status, ms(r.ms), await memory(), `${(size / MIB / (r.ms / 1000)).toFixed(0)} MiB/s`]);
      if (held) {
        await nginx.reload({ maxBodySize: '200m' });
        const t0 = performance.now();
        let rp = await fetch(`${w.base}/api/webhooks/deliveries/${held}/replay`, { method: 'POST', headers: { Authorization: `Bearer ${w.adminToken}` } });
        let text = await rp.text();
        if (/restarted mid-request/.test(text)) {
          // wrangler dev reloads when a watched source file changes (someone editing the tree).
          rp = await fetch(`${w.base}/api/webhooks/deliveries/${held}/replay`, { method: 'POST', headers: { Authorization: `Bearer ${w.adminToken}` } });
          text = await rp.text();
        }
        let out;
        try { out = JSON.parse(text); } catch { throw new Error(`replay answered ${rp.status}: ${text.slice(0, 300)}\n${w.logs().slice(-2000)}`); }
        const took = performance.now() - t0;
        rows.push([`replay ${mib(size)} (delivery object)`, `${rp.status} ${out.result}`, ms(took), out.wasm_memory_bytes, `${(size / MIB / (took / 1000)).toFixed(0)} MiB/s`]);
        await nginx.reload({ maxBodySize: '1m' });
      }
    }
    console.log();
    console.log(`${pad('case', 44)}${padl('answer', 16)}${padl('time', 13)}${padl('wasm memory', 14)}${padl('vs baseline', 13)}${padl('rate', 11)}`);
    for (const [name, status, time, mem, rate] of rows) {
      console.log(`${pad(name, 44)}${padl(status, 16)}${padl(time, 13)}${padl(mib(mem), 14)}${padl(`${(mem / base).toFixed(2)}x`, 13)}${padl(rate, 11)}`);
    }
    const peak = Math.max(...rows.map((r) => r[3]));
    console.log();
    console.log(`peak wasm memory ${mib(peak)} = ${(peak / base).toFixed(2)}x the baseline while moving bodies of up to 100 MiB `
      + `(${(100 * MIB / peak).toFixed(0)}x the peak): ${peak <= base * 1.5 ? 'flat' : 'GROWS WITH SIZE'}`);
    const delivered = app.received((q) => q.url.startsWith('/big/pass/') || q.url.startsWith('/refused/')).filter((q) => q.size >= 25 * MIB);
    console.log(`origin received ${delivered.length} large bodies (2 passed + 2 replayed expected)`);
  } finally {
    await w.stop();
    await nginx.cleanup();
    await app.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
