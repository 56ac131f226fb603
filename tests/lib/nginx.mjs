// A real nginx (Debian's /usr/sbin/nginx) on a loopback port, configured per test: a temp dir
// holds nginx.conf, the pid file, error/access logs and the body temp dirs; `daemon off` keeps
// the master process our child, stopped by PID. `reload({...})` rewrites the config (say, with a
// raised client_max_body_size) and sends SIGHUP; `stop()`/`start()` take it down and back up on
// the same port (an origin that is down, then comes back).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness.mjs';

export const NGINX = '/usr/sbin/nginx';

/** Whether nginx is installed (the tests say so instead of failing obscurely). */
export function haveNginx() {
  return existsSync(NGINX) && spawnSync(NGINX, ['-v']).status === 0;
}

function config(dir, port, { upstreamPort, maxBodySize = '1m', locations = {}, readTimeout = '60s' }) {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const extra = Object.entries(locations).map(([path, size]) => `
    location ${path} {
      client_max_body_size ${size};
      proxy_pass http://upstream;
    }`).join('');
  return `${user}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream upstream { server 127.0.0.1:${upstreamPort}; keepalive 8; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_read_timeout ${readTimeout};
  proxy_request_buffering on;
  client_max_body_size ${maxBodySize};
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://upstream; }${extra}
  }
}
`;
}

/**
 * Starts nginx proxying to `upstreamPort`.
 * @param {{upstreamPort: number, maxBodySize?: string, locations?: Record<string,string>, port?: number}} opts
 *   `locations` maps path prefixes to their own client_max_body_size.
 */
export async function startNginx(opts) {
  const dir = mkdtempSync(join(tmpdir(), 'backstop-nginx-'));
  mkdirSync(join(dir, 'client_body'), { recursive: true });
  const port = opts.port ?? await freePort();
  let current = { ...opts };
  let child = null;
  let exited = null;

  const write = () => writeFileSync(join(dir, 'nginx.conf'), config(dir, port, current));
  const waitListening = async () => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        await fetch(`http://127.0.0.1:${port}/__nginx_probe`, { method: 'HEAD' });
        return;
      } catch { await new Promise((r) => setTimeout(r, 50)); }
      if (child?.exitCode !== null) break;
    }
    throw new Error(`nginx did not listen on ${port}: ${errorLog()}`);
  };
  const errorLog = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '');

  const start = async () => {
    write();
    const test = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx -t failed: ${test.stderr}`);
    child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', () => {});
    exited = new Promise((resolve) => child.once('exit', resolve));
    await waitListening();
  };

  const stop = async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    child = null;
  };

  /** Rewrites the config with new options and reloads (SIGHUP); waits for the new workers. */
  const reload = async (changes) => {
    current = { ...current, ...changes };
    write();
    const test = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx -t failed: ${test.stderr}`);
    const before = (errorLog().match(/reconfiguring/g) ?? []).length;
    child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((errorLog().match(/start worker process/g) ?? []).length > 0
        && (errorLog().match(/reconfiguring/g) ?? []).length > before) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Old workers finish their requests; new ones take new connections.
    await new Promise((r) => setTimeout(r, 300));
  };

  await start();
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    dir,
    start,
    stop,
    reload,
    errorLog,
    accessLog: () => (existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8') : ''),
    cleanup: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
