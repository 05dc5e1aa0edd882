import type { SteadySocketError } from '../../src/index';

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<SteadySocketError> {
  try {
    await promise;
  } catch (error) {
    return error as SteadySocketError;
  }
  throw new Error('expected the promise to reject');
}
