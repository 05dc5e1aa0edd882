// Chromium flags for a headless run that stays on loopback, shared by the browser tests, the
// diagram renderer and the benchmarks. Without the resolver rule Chromium looks up Google hosts at
// every start; with it every name but loopback fails to resolve (`EXCLUDE ::1` works where
// `EXCLUDE [::1]` does not).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1',
];
