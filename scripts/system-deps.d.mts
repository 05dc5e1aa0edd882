// Types for scripts/system-deps.mjs, as the test harnesses use it.
export interface SystemTool {
  name: string;
  package: string;
  paths: string[];
  command?: string;
  env?: string;
  needed: string;
}
export declare const SYSTEM_TOOLS: readonly SystemTool[];
export declare const SYSTEM_PACKAGES: readonly string[];
export declare function locateTool(name: string, env?: NodeJS.ProcessEnv): { path: string; missing?: undefined } | { path?: undefined; missing: string };
export declare function enableCommand(names: readonly string[]): string;
export declare function ensureSystemPackages(options?: { log?: (line: string) => void }): {
  installed: string[];
  missing: string[];
  skipped?: string;
  failed?: string;
};
