// An OutboxStore double for persist() tests: its saves wait until the test finishes each one.
import type { OutboxStore, StoredMessage } from '../../src/index';

export interface HeldSave {
  /** The messages' data, as strings. */
  data: string[];
  /** Settles the save: resolves, or rejects with `error`. Only the first call counts. */
  finish(error?: unknown): void;
  settled: boolean;
  failed?: boolean;
}

/**
 * A store whose saves wait until the test finishes them. `state.contents` is what the last
 * successful save stored (load() returns a copy); `loadedAt` and `loadedAfter` record, for each
 * load, how many saves had been asked for and how many had settled.
 */
export function heldStore(key?: string, initial: StoredMessage[] = []) {
  const saves: HeldSave[] = [];
  const state = { contents: initial.slice(), loads: 0, loadedAt: [] as number[], loadedAfter: [] as number[] };
  const store: OutboxStore = {
    key,
    load: async () => {
      state.loads++;
      state.loadedAt.push(saves.length);
      state.loadedAfter.push(saves.filter((save) => save.settled).length);
      return state.contents.slice();
    },
    save: (messages: readonly StoredMessage[]) =>
      new Promise<void>((resolve, reject) => {
        const copy = messages.map((m) => ({ ...m }));
        const save: HeldSave = {
          data: messages.map((m) => String(m.data)),
          settled: false,
          finish: (error?: unknown) => {
            if (save.settled) return;
            save.settled = true;
            save.failed = !!error;
            if (error) reject(error);
            else {
              state.contents = copy;
              resolve();
            }
          },
        };
        saves.push(save);
      }),
    clear: async () => {
      state.contents = [];
    },
  };
  /** The saves not settled yet. */
  const running = () => saves.filter((save) => !save.settled);
  return { store, saves, state, running };
}
