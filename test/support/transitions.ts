// The documented state transitions (docs/guide.md, "States"): anything else is a bug.
export const ALLOWED_TRANSITIONS: ReadonlySet<string> = new Set([
  'connecting->open',
  'connecting->closing',
  'connecting->waiting',
  'connecting->closed',
  'open->closing',
  'open->waiting',
  'open->closed',
  'closing->connecting',
  'closing->closed',
  'waiting->connecting',
  'waiting->closed',
]);
