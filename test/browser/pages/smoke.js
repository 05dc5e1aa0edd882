// Browser side of test/browser/smoke.test.ts. Plain JS on purpose: served as is, never compiled.
'use strict';

window.smoke = {
  // online/offline events in the order they fired, with navigator.onLine at that moment.
  connectivity: [],

  /** Opens a native WebSocket, sends `text`, resolves with the first message or rejects. */
  echo(url, text) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const fail = (what) => {
        clearTimeout(timer);
        reject(new Error(what));
      };
      const timer = setTimeout(() => {
        socket.close();
        fail('no echo within 5000 ms');
      }, 5000);
      socket.onopen = () => socket.send(text);
      socket.onerror = () => fail('WebSocket error event before an echo');
      socket.onmessage = (event) => {
        clearTimeout(timer);
        socket.close(1000);
        resolve(String(event.data));
      };
    });
  },

  /** Posts `value` as JSON to the page server's /report/<key>. */
  report(key, value) {
    return fetch('/report/' + encodeURIComponent(key), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    }).then((response) => response.status);
  },
};

for (const type of ['online', 'offline']) {
  window.addEventListener(type, () => window.smoke.connectivity.push({ type, onLine: navigator.onLine }));
}
