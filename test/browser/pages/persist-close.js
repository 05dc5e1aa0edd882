// Browser side of the close() test in test/browser/persist-reload.test.ts: the script-tag build,
// persist() over the real IndexedDB store, a client that cannot connect (so everything it is sent
// stays queued), and close() followed at once by leaving the page, as an app does when it is done.
// ?ws=<a loopback URL nothing listens on>&db=<IndexedDB name>&n=<messages>&phase=fill|check
//
//   fill   sends n messages, waits until saved() says they are stored, then calls close() (which
//          drops them, CLOSED) and, the moment it resolves, replaces the page with phase=check.
//          The store is watched: each save's size, when it started and when it committed.
//   check  reads the database the store used, without a client, and sets window.persistClose to
//          { events, stored }: the fill page's log (sessionStorage) and how many messages are left.
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var S = SteadySocket;
  var db = params.get('db');
  var logKey = 'persist-close:' + db;

  if (params.get('phase') === 'check') {
    // Always granted: the store uses the database `db` itself, the one the fill page's store had
    // (the first slot), whether or not the browser has let go of that page's lock yet.
    var anyLock = { request: function (name, options, callback) { return Promise.resolve(callback({ name: name })); } };
    S.indexedDbStore(db, { locks: anyLock })
      .load()
      .then(
        function (messages) {
          return messages.length;
        },
        function (error) {
          return 'load failed: ' + error.message;
        },
      )
      .then(function (stored) {
        window.persistClose = { events: JSON.parse(sessionStorage.getItem(logKey) || '[]'), stored: stored };
      });
    return;
  }

  var events = [];
  var log = function (event) {
    events.push(event);
    sessionStorage.setItem(logKey, JSON.stringify(events));
  };
  var store = S.indexedDbStore(db);
  var watched = {
    key: store.key,
    load: function () {
      return store.load();
    },
    clear: function () {
      return store.clear();
    },
    save: function (messages) {
      var size = messages.length;
      log('save ' + size + ' started');
      return store.save(messages).then(function () {
        log('save ' + size + ' committed');
      });
    },
  };
  var outbox = S.persist(watched);
  var client = new S(params.get('ws'), { minDelay: 60000, maxDelay: 60000, use: [outbox] });
  var drops = 0;
  client.on('error', function () {}); // the refused connection
  client.on('drop', function (event) {
    if (event.reason === 'closed') drops++;
  });
  var n = Number(params.get('n'));
  for (var i = 1; i <= n; i++) client.send('message ' + i);
  outbox.saved().then(function () {
    log('stored');
    client.close().then(function () {
      log('close resolved, ' + drops + ' dropped');
      location.replace(location.pathname + '?' + new URLSearchParams({ db: db, phase: 'check' }));
    });
  });
})();
