// InFlight (what acks() and requests() keep until answered) against a plain Map of id → value,
// whose semantics are what InFlight promises: oldest first; a value added again under its id
// becomes the newest; a walk sees what is added during it, not what is taken before its turn
// (and ends when everything is cleared).
import { expect } from 'chai';
import fc from 'fast-check';
import { InFlight } from '../../src/features/in-flight';

type Id = number | string;

/** What InFlight promises, the simple way. */
class MapModel<K, V> {
  private readonly map = new Map<K, { value: V; deadline: number }>();
  get size(): number {
    return this.map.size;
  }
  add(id: K, value: V, deadline: number): V | undefined {
    const earlier = this.take(id);
    this.map.set(id, { value, deadline });
    return earlier;
  }
  take(id: K): V | undefined {
    const held = this.map.get(id);
    this.map.delete(id);
    return held?.value;
  }
  private clears = 0;
  each(fn: (value: V, id: K, deadline: number) => boolean | void): void {
    const clears = this.clears;
    // Unlike a Map's iterator, a walk ends when cleared (what is added after it is not seen).
    for (const [id, { value, deadline }] of this.map) if (fn(value, id, deadline) === false || this.clears !== clears) return;
  }
  clear(): void {
    this.clears++;
    this.map.clear();
  }
}

type Flight = Pick<InFlight<Id, number>, 'size' | 'add' | 'take' | 'each' | 'clear'>;

type Op =
  | { op: 'add'; id: Id }
  | { op: 'take'; id: Id }
  | { op: 'takeOldest' }
  | { op: 'clear' }
  /** Walks; on the `at`-th value runs `inside`, then stops or goes on. */
  | { op: 'each'; at: number; stop: boolean; inside: Op[] };

/** Runs `ops` on `flight`; returns everything observable, in order. */
function replay(flight: Flight, ops: Op[]): unknown[] {
  const log: unknown[] = [];
  let serial = 0;
  const apply = (step: Op): void => {
    if (step.op === 'add') {
      serial++;
      log.push(['add', step.id, flight.add(step.id, serial, serial * 10)]);
    } else if (step.op === 'take') log.push(['take', step.id, flight.take(step.id)]);
    else if (step.op === 'takeOldest') {
      let oldest: Id | undefined;
      flight.each((_value, id) => {
        oldest = id;
        return false;
      });
      if (oldest !== undefined) apply({ op: 'take', id: oldest });
    } else if (step.op === 'clear') flight.clear();
    else {
      let i = 0;
      flight.each((value, id, deadline) => {
        log.push(['visit', id, value, deadline]);
        if (i++ !== step.at) return;
        for (const nested of step.inside) apply(nested);
        if (step.stop) return false;
      });
    }
    log.push(['size', flight.size]);
  };
  for (const step of ops) apply(step);
  const rest: unknown[] = [];
  flight.each((value, id, deadline) => {
    rest.push([id, value, deadline]);
  });
  log.push(['rest', rest]);
  return log;
}

/** Abstract steps, made concrete per kind of id: `fresh` ids count up (or are new strings), `again` reuses one seen before. */
type Step =
  | { op: 'add' | 'take'; fresh: boolean; pick: number }
  | { op: 'takeOldest' | 'clear' }
  | { op: 'burst' | 'drain'; count: number }
  | { op: 'each'; at: number; stop: boolean; inside: Step[] };

function concrete(kind: 'count' | 'random' | 'string' | 'mixed', steps: Step[]): Op[] {
  const seen: Id[] = [];
  let next = 0;
  const fresh = (): Id => {
    next++;
    const id = kind === 'count' ? next : kind === 'random' ? (next * 7919) % 10_007 : kind === 'string' ? `m${next}` : next % 4 === 0 ? `m${next}` : next % 4 === 1 ? -next : next;
    seen.push(id);
    return id;
  };
  const again = (pick: number): Id => (seen.length ? seen[pick % seen.length] : 'never');
  const make = (step: Step): Op[] => {
    if ('fresh' in step) return [{ op: step.op, id: step.fresh || !seen.length ? fresh() : again(step.pick) }];
    if (step.op === 'burst') return Array.from({ length: step.count }, () => ({ op: 'add' as const, id: fresh() }));
    if (step.op === 'drain') return Array.from({ length: step.count }, () => ({ op: 'takeOldest' as const }));
    if (step.op === 'each') return [{ op: 'each', at: step.at, stop: step.stop, inside: step.inside.flatMap(make) }];
    return [{ op: step.op }];
  };
  return steps.flatMap(make);
}

const leaf: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), fresh: fc.boolean(), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('take' as const), fresh: fc.boolean(), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.constant({ op: 'takeOldest' as const }) },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: leaf },
  // Long runs of new ids, then of oldest-first takes: the array is compacted on the way.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('burst' as const), count: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const), count: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('each' as const),
      at: fc.nat(30),
      stop: fc.boolean(),
      // Adding many while walking would compact the array under the walk, but for the guard.
      inside: fc.array(fc.oneof(leaf, fc.record({ op: fc.constant('burst' as const), count: fc.integer({ min: 1, max: 400 }) }), fc.constant({ op: 'clear' as const })), { maxLength: 4 }),
    }),
  },
);

describe('InFlight', () => {
  it('behaves as a Map of id → value through any adds, takes, walks (changed while walking) and clears', () => {
    fc.assert(
      fc.property(fc.constantFrom('count' as const, 'random' as const, 'string' as const, 'mixed' as const), fc.array(step, { maxLength: 300 }), (kind, steps) => {
        const ops = concrete(kind, steps);
        expect(replay(new InFlight<Id, number>(), ops)).to.deep.equal(replay(new MapModel<Id, number>(), ops));
      }),
      { numRuns: 400 },
    );
  });

  it('walks on over what is added while walking, however much (the slots do not move meanwhile)', () => {
    const flight = new InFlight<number, number>();
    for (let id = 1; id <= 300; id++) flight.add(id, id, id);
    for (let id = 1; id <= 290; id++) flight.take(id);
    const seen: number[] = [];
    flight.each((value) => {
      seen.push(value);
      // Mostly empty slots behind: an add outside a walk would compact here.
      if (value === 291) for (let id = 301; id <= 400; id++) flight.add(id, id, id);
      if (value === 300) flight.take(295);
    });
    const expected = [...Array.from({ length: 10 }, (_, i) => 291 + i), ...Array.from({ length: 100 }, (_, i) => 301 + i)];
    expect(seen).to.deep.equal(expected);
    flight.add(401, 401, 401);
    const after: number[] = [];
    flight.each((value) => {
      after.push(value);
    });
    expect(after, 'compacted on the next add').to.deep.equal([...expected.filter((id) => id !== 295), 401]);
    expect((flight as unknown as { _slots: unknown[] })._slots.length).to.equal(3 * 110);
  });

  it('keeps its array within a small multiple of what is in flight, also behind an entry never taken', () => {
    const length = (flight: InFlight<number, number>) => (flight as unknown as { _slots: unknown[] })._slots.length;
    const inOrder = new InFlight<number, number>();
    for (let id = 1; id <= 1000; id++) inOrder.add(id, id, 0);
    let most = 0;
    for (let id = 1001; id <= 50_000; id++) {
      inOrder.add(id, id, 0);
      expect(inOrder.take(id - 1000)).to.equal(id - 1000);
      most = Math.max(most, length(inOrder));
    }
    expect(most, 'a thousand in flight, taken in order').to.be.at.most(3 * (2 * 1001 + 33));

    const stuck = new InFlight<number, number>();
    stuck.add(0, 0, 0);
    most = 0;
    for (let id = 1; id <= 50_000; id++) {
      stuck.add(id, id, 0);
      if (id > 10) expect(stuck.take(id - 10)).to.equal(id - 10);
      most = Math.max(most, length(stuck));
    }
    expect(most, 'the oldest never taken').to.be.at.most(3 * (2 * 12 + 33));
    expect(stuck.take(0)).to.equal(0);
  });
});
