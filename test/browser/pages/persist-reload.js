// Browser side of test/browser/persist-reload.test.ts: the script-tag build with
// persist(indexedDbStore(db)) + acks(), sending { id, data } every 10 ms to the example ack server.
// ?ws=<ack server URL with token>&db=<IndexedDB name>
//
// A message counts as sent (durable) only once `await outbox.saved()` resolved after it was sent.
// What survives a reload lives in localStorage under `persist-reload:<db>`:
//   { next, durable: [ids], loads } — `next` is written before each send, so no id is used twice.
//   window.persistReload.state()        that record
//   window.persistReload.finish(last)   sends up to id `last`, waits (at most 20 s) until every
//                                       message is acknowledged, resolves with the record
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var key = 'persist-reload:' + params.get('db');
  var S = SteadySocket;
  var record = JSON.parse(localStorage.getItem(key) || '{"next":1,"durable":[],"loads":0,"errors":[]}');
  record.loads++;
  var keep = function () {
    localStorage.setItem(key, JSON.stringify(record));
  };
  keep();

  var outbox = S.persist(S.indexedDbStore(params.get('db')));
  var client = new S(params.get('ws'), {
    codec: S.json(),
    minDelay: 20,
    maxDelay: 200,
    use: [S.acks({ id: function (m) { return m.id; }, ack: function (m) { return m.ack; }, timeout: 60000 }), outbox],
  });
  client.on('error', function (error) {
    record.errors.push(error.code + ': ' + error.message);
    keep();
  });

  var last = Infinity;
  var finished;
  var timer = setInterval(function () {
    if (record.next > last) {
      clearInterval(timer);
      finished();
      return;
    }
    var id = record.next++;
    keep();
    client.send({ id: id, data: { n: id, load: record.loads } });
    outbox.saved().then(function () {
      record.durable.push(id);
      keep();
    });
  }, 10);

  window.persistReload = {
    state: function () {
      return record;
    },
    finish: function (lastId) {
      last = lastId;
      return new Promise(function (resolve) {
        finished = resolve;
      })
        .then(function () {
          return outbox.saved();
        })
        .then(function () {
          var late;
          return Promise.race([
            client.flushed(),
            new Promise(function (_, reject) {
              late = setTimeout(function () {
                reject(new Error('not everything was acknowledged within 20 s (state ' + client.state + ')'));
              }, 20000);
            }),
          ]).finally(function () {
            clearTimeout(late);
          });
        })
        .then(function () {
          return client.close();
        })
        .then(function () {
          return record;
        });
    },
  };
})();
