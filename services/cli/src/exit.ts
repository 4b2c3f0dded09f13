import * as grpc from '@grpc/grpc-js';

/** Exit codes, documented in `shoal --help`; scripts may rely on them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  validation: 3,
  conflict: 4,
  auth: 5,
  unavailable: 6,
  notFound: 7,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** Map an API status to the CLI's exit code and a message that says what to do. */
export function fromGrpc(err: grpc.ServiceError, server: string): CliError {
  switch (err.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new CliError(err.details, ExitCode.validation);
    case grpc.status.ABORTED:
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
      return new CliError(err.details, ExitCode.conflict);
    case grpc.status.UNAUTHENTICATED:
      return new CliError(`not authenticated: ${err.details}`, ExitCode.auth);
    case grpc.status.PERMISSION_DENIED:
      return new CliError(`permission denied: ${err.details}`, ExitCode.auth);
    case grpc.status.NOT_FOUND:
      return new CliError(err.details, ExitCode.notFound);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new CliError(
        `the Shoal API at ${server} is not reachable (${err.details}): is \`npm start\` running? ` +
          'Set SHOAL_SERVER or --server to point elsewhere.',
        ExitCode.unavailable,
      );
    default:
      return new CliError(`${grpc.status[err.code] ?? err.code}: ${err.details}`, ExitCode.failure);
  }
}
