// The client side of the control server (control-server.ts), in plain JS for every runtime:
// browsers, Bun, Deno, Node 22. Only fetch.

/** @param {string} base `http://127.0.0.1:PORT` of the control server. */
export function controlClient(base) {
  async function call(method, path, body) {
    const response = await fetch(base + path, {
      method,
      // text/plain: a simple CORS request from a page, no preflight.
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const value = await response.json();
    if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${value.error ?? ''}`);
    return value;
  }
  return {
    /** A fresh ws endpoint with a behaviour (see Behaviour in control-server.ts) → { id, url, port }. */
    endpoint: (behaviour = {}) => call('POST', '/endpoints', behaviour),
    /** What the endpoint received: { connections: [{ offered, protocol, messages, closed }] }. */
    record: (id) => call('GET', `/endpoints/${id}`),
    stop: (id) => call('POST', `/endpoints/${id}/stop`),
    start: (id) => call('POST', `/endpoints/${id}/start`),
    remove: (id) => call('POST', `/endpoints/${id}/delete`),
    /**
     * Browsers only: shortly after answering, the test process takes the page offline, stops the
     * endpoint (`path: 'down'`), or lets nothing through the relay in front of it (`'dead'`: the
     * server stays up, the connections hear nothing; an endpoint made with `relay: true`), waits
     * `ms`, undoes that (a dead path's connections are reset) and brings the page back online.
     */
    offlineDrill: (endpoint, ms, path = 'down') => call('POST', '/offline', { endpoint, ms, path }),
  };
}
