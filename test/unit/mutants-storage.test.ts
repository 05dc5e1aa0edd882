// Tests from mutation testing src/storage/file-changes.ts, stored-message.ts and file-format.ts:
// what the existing storage tests ran but never checked (the other fields of a file's identity, the
// weight of bytes and ids, a reused copy whose id, queuedAt or bytes differ, the exact size limit,
// the texts of every problem, odd headers and fields, torn or garbled last lines).
import { expect } from 'chai';
import { liveWeight, ownCopies, planSave, sameFile, SLACK, weight, type OnDisk, type Seen } from '../../src/storage/file-changes';
import { decodeOutboxFile, encodeChange, encodeOutboxFile, fingerprint } from '../../src/storage/file-format';
import { checkMessages, messageProblem } from '../../src/storage/stored-message';
import type { StoredMessage } from '../../src/storage/types';
import { changeLine, range, sha, text } from '../support/outbox-files';

/** What a store knows of a file holding a snapshot of `messages` plus `extra` bytes of changes. */
function onDisk(messages: StoredMessage[], extra = 0): OnDisk {
  const bytes = encodeOutboxFile(messages);
  const seen = { dev: 1n, ino: 2n, size: BigInt(bytes.length + extra), mtimeNs: 3n, ctimeNs: 4n };
  return { messages, length: bytes.length + extra, live: liveWeight(messages), snapshot: extra === 0, seen, tail: fingerprint(bytes, bytes.length), synced: true };
}

describe('mutants: file-changes.ts', () => {
  it('sameFile() is false when any one of dev, ino, size, mtimeNs or ctimeNs differs', () => {
    const seen: Seen = { dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n, ctimeNs: 5n };
    expect(sameFile(seen, { ...seen })).to.equal(true);
    for (const key of ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'] as const) {
      expect(sameFile(seen, { ...seen, [key]: seen[key] + 10n }), key).to.equal(false);
    }
  });

  it('weight() counts text in UTF-8 bytes, bytes as base64, the id by its digits, plus 40', () => {
    expect(weight({ data: 'héllo' })).to.equal(6 + 40);
    expect(weight({ data: new Uint8Array(4) })).to.equal(8 + 40); // ceil(4 / 3) * 4
    expect(weight({ data: new Uint8Array(6), id: 12345 })).to.equal(8 + 5 + 40);
    expect(weight({ data: 'ab', id: 'xyz', queuedAt: 1 })).to.equal(2 + 3 + 40);
  });

  it('ownCopies() reuses a copy only when id, queuedAt and the bytes themselves are the same', () => {
    const own: StoredMessage[] = [
      { data: new Uint8Array([1, 2, 3]), id: 1, queuedAt: 10 },
      { data: new Uint8Array([4, 5, 6]), id: 2, queuedAt: 20 },
      { data: 'text', id: 3, queuedAt: 30 },
    ];
    const same = ownCopies(own, own.map((m) => ({ ...m, data: typeof m.data === 'string' ? m.data : Uint8Array.from(m.data) })));
    expect(same.every((m, i) => m === own[i]), 'all reused').to.equal(true);
    const given: StoredMessage[] = [
      { data: new Uint8Array([1, 2, 3]), id: 1, queuedAt: 10 },
      { data: new Uint8Array([4, 5, 7]), id: 2, queuedAt: 20 }, // same length, other bytes
      { data: 'text', id: 99, queuedAt: 30 }, // other id
    ];
    const copies = ownCopies(own, given);
    expect(copies[0]).to.equal(own[0]);
    expect(copies[1]).not.to.equal(own[1]);
    expect(copies[1].data).to.deep.equal(new Uint8Array([4, 5, 7]));
    expect(copies[2]).to.deep.equal({ data: 'text', id: 99, queuedAt: 30 });
    const later = ownCopies(own, [{ data: 'text', id: 3, queuedAt: 31 }]); // other queuedAt
    expect(later[0]).to.deep.equal({ data: 'text', id: 3, queuedAt: 31 });
  });

  it('planSave() of nothing to a file of no messages but with changes appended is a snapshot, not nothing', () => {
    expect(planSave(onDisk([], 100), [])).to.equal(undefined);
    expect(planSave(onDisk([]), [])).to.equal('nothing');
  });

  it('planSave() appends while the file stays within twice its messages and SLACK, to the byte', () => {
    const old = range(0, 10);
    const next = [...old.slice(3), text(10)];
    const change = encodeChange(3, [text(10)]);
    const limit = 2 * liveWeight(next) + SLACK;
    const base = encodeOutboxFile(old).length;
    const exact = planSave(onDisk(old, limit - change.length - base), next);
    expect(exact, 'exactly at the limit: a change').to.be.an('object');
    expect(planSave(onDisk(old, limit - change.length - base + 1), next), 'one byte over: a snapshot').to.equal(undefined);
  });
});

describe('mutants: stored-message.ts', () => {
  it('messageProblem() names what is wrong by the kind of value, never the value', () => {
    class Custom {}
    const cases: Array<[unknown, string]> = [
      [42, 'is number, not an object'],
      [null, 'is null, not an object'],
      [undefined, 'is undefined, not an object'],
      [{ data: null }, 'has data of type null (expected a string or Uint8Array)'],
      [{ data: 42 }, 'has data of type number (expected a string or Uint8Array)'],
      [{ data: [1, 2] }, 'has data of type array (expected a string or Uint8Array)'],
      [{ data: Object.create(null) }, 'has data of type object (expected a string or Uint8Array)'],
      [{ data: new Custom() }, 'has data of type Custom (expected a string or Uint8Array)'],
      [{ data: 'ok', id: Number.NaN }, 'has an id of type NaN (expected a string or a finite number)'],
      [{ data: 'ok', id: true }, 'has an id of type boolean (expected a string or a finite number)'],
      [{ data: 'ok', id: { nested: 'secret' } }, 'has an id of type Object (expected a string or a finite number)'],
      [{ data: 'ok', queuedAt: Number.POSITIVE_INFINITY }, 'has a queuedAt of type Infinity (expected a finite number)'],
      [{ data: 'ok', queuedAt: '2026-11-30' }, 'has a queuedAt of type string (expected a finite number)'],
    ];
    for (const [value, problem] of cases) expect(messageProblem(value), problem).to.equal(problem);
    expect(messageProblem({ data: new Uint8Array(1), id: 'a', queuedAt: 1 })).to.equal(undefined);
  });

  it('checkMessages() says save() takes an array, and names the position of the first bad message', () => {
    expect(() => checkMessages('not-an-array' as unknown as StoredMessage[])).to.throw('save() takes an array of messages, not string.');
    expect(() => checkMessages([{ data: 'ok' }, { data: 'ok' }, { data: 7 }] as unknown as StoredMessage[])).to.throw(
      'Message 2 has data of type number (expected a string or Uint8Array); it cannot be stored.',
    );
  });
});

describe('mutants: file-format.ts', () => {
  /** A file of `header` (fields over a good version 2 header of `body`), `body`, then `after`. */
  function file(body: string, header: Record<string, unknown> = {}, after = ''): Buffer {
    const good = { format: 'steadysocket-outbox', version: 2, count: 1, bytes: Buffer.byteLength(body), sha256: sha(body) };
    return Buffer.from(`${JSON.stringify({ ...good, ...header })}\n${body}\n${after}`);
  }
  const change = (json: string): string => changeLine(json).toString();
  const problem = (bytes: Buffer): string | undefined => {
    const decoded = decodeOutboxFile(bytes);
    return decoded.ok ? undefined : decoded.problem;
  };
  const one = '[{"text":"a"}]';

  it('decodeOutboxFile() names what is wrong with a header', () => {
    expect(problem(Buffer.from('no newline'))).to.equal('it has no header line');
    expect(problem(Buffer.from('nope\n[]\n'))).to.equal('its first line is not a JSON object');
    expect(problem(file(one, { format: 'other' }))).to.equal('its first line is not a steadysocket-outbox header');
    expect(problem(file(one, { version: 0 }))).to.equal('it is version 0; this steadysocket reads versions 1 and 2');
    expect(problem(file(one, { count: -1 }))).to.equal('its header has no valid count');
    expect(problem(file(one, { count: 1.5 }))).to.equal('its header has no valid count');
    expect(problem(file(one, { bytes: -1 }))).to.equal('its header has no valid byte length');
    expect(problem(file(one, { bytes: 'x' }))).to.equal('its header has no valid byte length');
    expect(problem(file(one, { sha256: 'A'.repeat(64) }))).to.equal('its header has no valid sha256');
    expect(problem(file(one, { sha256: 5 }))).to.equal('its header has no valid sha256');
  });

  it('decodeOutboxFile() tells a newer version (left alone) from other bad headers', () => {
    expect(decodeOutboxFile(file(one, { version: 3 }))).to.deep.equal({ ok: false, problem: 'it is version 3; this steadysocket reads versions 1 and 2', newer: true });
    expect(decodeOutboxFile(file(one, { version: 0 }))).to.deep.equal({ ok: false, problem: 'it is version 0; this steadysocket reads versions 1 and 2' });
    expect(decodeOutboxFile(file(one, { format: 'other', version: 3 }))).to.not.have.property('newer');
    expect(decodeOutboxFile(file(one, { version: '3' }))).to.not.have.property('newer');
  });

  it('decodeOutboxFile() names what is wrong with a snapshot body', () => {
    expect(problem(file(one, { bytes: 99 }))).to.equal('its body has 15 bytes where the header says 100');
    expect(problem(file(one, { version: 1 }, 'more\n'))).to.equal('its body has 20 bytes where the header says 15');
    expect(problem(file(one, { sha256: sha('other') }))).to.equal('its body does not match the SHA-256 in its header');
    expect(problem(file('{"text":"a"}'))).to.equal('its body is not a JSON array');
    expect(problem(file(one, { count: 2 }))).to.equal('its body holds 1 messages where the header says 2');
    expect(problem(file('[5]'))).to.equal('message 0 is not an object');
    expect(problem(file('[null]'))).to.equal('message 0 is not an object');
    expect(problem(file('[[1]]'))).to.equal('message 0 is not an object');
    expect(problem(file('[{"text":"a","base64":"AA=="}]'))).to.equal('message 0 has neither a text nor a valid base64 field');
    expect(problem(file('[{"base64":"AAA"}]'))).to.equal('message 0 has neither a text nor a valid base64 field');
    expect(problem(file('[{"text":"a","queuedAt":"x"}]'))).to.equal('message 0 has a queuedAt of type string (expected a finite number)');
    const good = file('[{"base64":"AAE=","id":"k","queuedAt":5}]');
    expect(decodeOutboxFile(good)).to.deep.equal({ ok: true, messages: [{ data: new Uint8Array([0, 1]), id: 'k', queuedAt: 5 }], committed: good.length });
  });

  it('decodeOutboxFile() names what is wrong with a change whose SHA-256 matches', () => {
    expect(problem(file(one, {}, change('5')))).to.equal('its change 1 is not a JSON object');
    expect(problem(file(one, {}, change('null')))).to.equal('its change 1 is not a JSON object');
    expect(problem(file(one, {}, change('{"drop":-1,"add":[]}')))).to.equal('its change 1 has no valid drop count');
    expect(problem(file(one, {}, change('{"drop":0.5,"add":[]}')))).to.equal('its change 1 has no valid drop count');
    expect(problem(file(one, {}, change('{"drop":0}')))).to.equal('its change 1 has no add list');
    expect(problem(file(one, {}, change('{"drop":0,"add":[]}') + change('{"drop":0,"add":[7]}')))).to.equal('its change 2 message 0 is not an object');
    const decoded = decodeOutboxFile(file(one, {}, change('{"drop":1,"add":[{"text":"b"}]}') + change('{"drop":0,"add":[{"text":"c"}]}') + 'torn'));
    expect(decoded.ok && decoded.messages).to.deep.equal([{ data: 'b' }, { data: 'c' }]);
  });
  it('decodeOutboxFile() checks headers exactly: null, version 2 with a bad field (not newer), long versions cut, byte length 0, sha256 anchored and a string', () => {
    expect(problem(Buffer.from('\n[]\n'))).to.equal('its first line is not a JSON object');
    expect(problem(Buffer.from('null\n[]\n'))).to.equal('its first line is not a JSON object'); // destructuring null threw
    expect(decodeOutboxFile(file(one, { count: -1 }))).to.not.have.property('newer'); // version >= VERSION
    expect(problem(file(one, { version: 'x'.repeat(30) }))).to.equal(`it is version ${'x'.repeat(20)}; this steadysocket reads versions 1 and 2`);
    expect(problem(file('', { bytes: 0, count: 0 }))).to.equal('its body is not a JSON array');
    expect(problem(file(one, { sha256: 'x' + sha(one) }))).to.equal('its header has no valid sha256');
    expect(problem(file(one, { sha256: sha(one) + 'x' }))).to.equal('its header has no valid sha256');
    expect(problem(file(one, { sha256: [sha(one)] }))).to.equal('its header has no valid sha256');
    expect(problem(file(one, { bytes: 13 }))).to.equal('its body has 15 bytes where the header says 14');
  });

  it('decodeOutboxFile() entries: a text that is not a string, a base64 that is not a string', () => {
    expect(problem(file('[{"text":5}]'))).to.equal('message 0 has neither a text nor a valid base64 field');
    expect(problem(file('[{"base64":["AA=="]}]'))).to.equal('message 0 has neither a text nor a valid base64 field');
  });

  it('decodeOutboxFile() changes: drops counted from what is left, a torn last line without newline, no space after the SHA-256, several garbled lines at the end', () => {
    expect(problem(file(one, {}, change('{"drop":1,"add":[]}') + change('{"drop":1,"add":[]}')))).to.equal('its change 2 drops 1 messages of 0');
    const good = change('{"drop":0,"add":[{"text":"b"}]}');
    const body = file(one).length;
    expect(decodeOutboxFile(file(one, {}, good.slice(0, -1) + 'X'))).to.deep.equal({ ok: true, messages: [{ data: 'a' }], committed: body });
    expect(decodeOutboxFile(file(one, {}, good.replace(' ', 'X')))).to.deep.equal({ ok: true, messages: [{ data: 'a' }], committed: body });
    expect(decodeOutboxFile(file(one, {}, 'garbled\ngarbled too\ntorn'))).to.deep.equal({ ok: true, messages: [{ data: 'a' }], committed: body });
  });
});
