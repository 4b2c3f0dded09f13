/** Activities run outside the workflow sandbox: here, a counter proves the real worker ran it. */
export function createActivities(calls: { count: number; pid?: number }) {
  return {
    async describeResource(kind: string, name: string): Promise<string> {
      calls.count++;
      calls.pid = process.pid;
      return `${kind}/${name}`;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
