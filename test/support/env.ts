/** An environment variable that `npm test` sets for integration tests. */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `${name} is not set: run integration tests through "npm test" (it starts the stack), ` +
        `or set ${name} yourself`,
    );
  }
  return v;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
