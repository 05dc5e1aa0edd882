import { expect } from 'chai';
import { createLiveness, judge, LATE_TIMER_MS, sawActivity, sawPong, startInterval, startProbe } from '../../src/liveness';

const timing = { interval: 1000, timeout: 300 };

describe('liveness rules (given the time)', () => {
  it('re-arms the interval when anything arrived since the last check', () => {
    const state = createLiveness();
    startInterval(state, 0, timing);
    sawActivity(state);
    expect(judge(state, 1000, timing)).to.equal('rearm');
  });

  it('probes after a quiet interval', () => {
    const state = createLiveness();
    startInterval(state, 0, timing);
    expect(judge(state, 1000, timing)).to.equal('probe');
  });

  it('probes when the interval timer ran far later than asked (the machine slept), even after traffic', () => {
    const state = createLiveness();
    startInterval(state, 0, timing);
    sawActivity(state);
    expect(judge(state, 1000 + 1001, timing)).to.equal('probe');
  });

  it('declares the connection dead when a probe on time saw nothing', () => {
    const state = createLiveness();
    startProbe(state, 0, timing);
    expect(judge(state, 300, timing)).to.equal('dead');
  });

  it('gives an overdue probe one more window (a pong may be queued behind the late timer), then judges', () => {
    const state = createLiveness();
    startProbe(state, 0, timing);
    expect(judge(state, 300 + LATE_TIMER_MS + 1, timing)).to.equal('grace');
    expect(state.due).to.equal(300 + LATE_TIMER_MS + 1 + timing.timeout);
    expect(judge(state, 5000, timing), 'only one grace per probe').to.equal('dead');
  });

  it('a pong during the grace keeps the connection', () => {
    const state = createLiveness();
    startProbe(state, 0, timing);
    expect(judge(state, 1300, timing)).to.equal('grace');
    expect(sawPong(state, 1310)).to.equal(true);
    expect(judge(state, 1600, timing)).to.equal('rearm');
  });

  it('measures the round trip from the ping to its pong, and ignores a pong nobody asked for', () => {
    const state = createLiveness();
    startInterval(state, 0, timing);
    expect(sawPong(state, 10)).to.equal(false);
    expect(state.rtt).to.equal(undefined);
    startProbe(state, 100, timing);
    expect(sawPong(state, 142)).to.equal(true);
    expect(state.rtt).to.equal(42);
  });
});
