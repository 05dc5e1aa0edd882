// Shared by the model-based property tests (test/unit/*-model.test.ts): a seeded PRNG for
// Math.random (backoff jitter), and fast-check's run options with the MODEL_SEED / MODEL_RUNS
// overrides for a longer search.
import type { Parameters } from 'fast-check';

/** A small deterministic PRNG (mulberry32): the same scenario seed gives the same jitter. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 300 runs from `seed` (MODEL_SEED and MODEL_RUNS override both), stopped without failing after `timeLimit` ms. */
export function modelRuns(seed: number, timeLimit: number): Parameters<unknown> {
  return {
    seed: Number(process.env.MODEL_SEED ?? seed),
    numRuns: Number(process.env.MODEL_RUNS ?? 300),
    interruptAfterTimeLimit: timeLimit,
    markInterruptAsFailure: false,
  };
}
