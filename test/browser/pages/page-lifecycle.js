// Issue 14 §6: one client of the script-tag build, and a log of what the page and the client saw,
// for test/browser/page-lifecycle.test.ts. ?ws=<endpoint URL>
//   window.lifecycle.log          [{ type, t, ... }] — page events and client events, in order
//   window.lifecycle.hide()       dispatches a synthetic pagehide with persisted: true
//   window.lifecycle.show()       dispatches a synthetic pageshow with persisted: true
(function () {
  var params = new URLSearchParams(location.search);
  var log = [];
  var push = function (entry) {
    entry.t = Math.round(performance.now());
    log.push(entry);
  };
  // Page listeners first: each page event is logged before the client reacts to it.
  addEventListener('pagehide', function (event) {
    push({ type: 'pagehide', persisted: event.persisted });
  });
  addEventListener('pageshow', function (event) {
    push({ type: 'pageshow', persisted: event.persisted });
  });
  // Page signals (bfcache, online/offline, visibility) are opt-in since 0.2: pageSignals().
  var client = new SteadySocket(params.get('ws'), { minDelay: 50, maxDelay: 300, jitter: 0, use: [SteadySocket.pageSignals()] });
  client.on('open', function () {
    push({ type: 'open' });
  });
  client.on('close', function (info) {
    push({ type: 'close', code: info.code, reason: info.reason, wasClean: info.wasClean });
  });
  client.on('state', function (state, previous) {
    push({ type: 'state', state: state, previous: previous });
  });
  client.on('error', function (error) {
    push({ type: 'error', code: error.code });
  });
  window.lifecycle = {
    log: log,
    client: client,
    hide: function () {
      dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
    },
    show: function () {
      dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    },
  };
})();
