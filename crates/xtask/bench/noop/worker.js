// The baseline of `cargo xtask bench ingest`: reads the whole body and answers 200 with a small
// JSON body (as Backstop's ingest does), so the ratio isolates what Backstop itself costs on top
// of wrangler dev, workerd and the load generator.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"id":"00000000000000000000000000000000"}', {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  },
};
