import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** Service name, added to every line. */
  readonly service: string;
  readonly level?: string;
  /** `json` (default when not a terminal) or `pretty` (default on a terminal). */
  readonly format?: 'json' | 'pretty';
}

/**
 * The one way services create their root logger. Components take a child logger with their own
 * ids: `logger.child({ component: 'ingest', consumer })`. Services write no console output.
 */
export function createLogger(cfg: LoggerConfig): Logger {
  const level = cfg.level ?? process.env.LOG_LEVEL ?? 'info';
  const format =
    cfg.format ??
    (process.env.LOG_FORMAT as 'json' | 'pretty' | undefined) ??
    (process.stdout.isTTY ? 'pretty' : 'json');
  const options: LoggerOptions = {
    level,
    base: { service: cfg.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.password', '*.token', '*.secret', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  if (format === 'pretty') {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' },
      },
    });
  }
  return pino(options);
}

/** A logger that drops everything, for tests that don't look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
