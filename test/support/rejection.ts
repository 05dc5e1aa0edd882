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

/** What `promise` has come to so far, read at any moment: `v` is 'pending', 'resolved' or the code it rejected with. */
export function outcome(promise: Promise<unknown>): { v: string } {
  const box = { v: 'pending' };
  promise.then(
    () => (box.v = 'resolved'),
    (error: { code: string }) => (box.v = error.code),
  );
  return box;
}
