import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, logLevel, redact } from '../../src/lib/logger.ts';

describe('structured logs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes one JSON object per line with the bound fields', () => {
    const sink = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    createLogger({ requestId: 'req-12345678' }).child({ tenant: 'acme' }).info('hello', { status: 200 });
    expect(sink).toHaveBeenCalledTimes(1);
    const entry = JSON.parse(String(sink.mock.calls[0]?.[0])) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      message: 'hello',
      requestId: 'req-12345678',
      tenant: 'acme',
      status: 200,
    });
  });

  it('replaces values under secret-looking keys, at any depth', () => {
    expect(
      redact({
        password: 'hunter22',
        nested: { refreshToken: 'abc', authorization: 'Bearer x', DATABASE_URL: 'postgres://u:p@h/d' },
        list: [{ apiKey: 'k' }],
        email: 'a@example.com',
      }),
    ).toEqual({
      password: '[redacted]',
      nested: { refreshToken: '[redacted]', authorization: '[redacted]', DATABASE_URL: '[redacted]' },
      list: [{ apiKey: '[redacted]' }],
      email: 'a@example.com',
    });
  });

  it('cuts query parameters out of database error messages and stacks', () => {
    const cause = new Error('duplicate key value');
    const error = new Error('Failed query: insert into users values ($1)\nparams: s3cret-hash', { cause });
    const described = redact(error) as { message: string; stack: string; cause: { message: string } };
    expect(described.message).toBe('Failed query: insert into users values ($1)\nparams: [redacted]');
    expect(described.stack).not.toContain('s3cret-hash');
    expect(described.cause.message).toBe('duplicate key value');
  });
});

describe('log levels', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('drops entries below the configured level, in children too', () => {
    const info = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const logger = createLogger({}, logLevel('warn')).child({ area: 'x' });
    logger.info('hidden');
    logger.warn('shown');
    expect(info).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('falls back to info for an unknown or missing level', () => {
    expect(logLevel(undefined)).toBe('info');
    expect(logLevel('verbose')).toBe('info');
    expect(logLevel('error')).toBe('error');
  });
});
