/** Chromium flags for a headless run that stays on loopback. */
export declare const CHROMIUM_ARGS: string[];
