// A floor of `cargo xtask bench ingest`: what wrangler dev's local Queue costs on its own. Reads
// the body, sends it to a queue and answers 200 once the queue took it (as Backstop's ingest
// must); the consumer only acknowledges. No parsing, scrubbing, storage or batching: the gap
// between this and the no-op worker is the platform's queue hop, not Backstop's code.
export default {
  async fetch(request, env) {
    const body = await request.text();
    await env.QUEUE.send(body, { contentType: 'text' });
    return new Response('{"id":"00000000000000000000000000000000"}', {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  },
  async queue(batch) {
    batch.ackAll();
  },
};
