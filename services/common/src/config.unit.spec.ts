import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './errors.js';
import { loadConfig, parseDuration, setting } from './config.js';

const spec = {
  natsUrl: setting.url('NATS server', ['nats:', 'tls:'], {
    env: 'NATS_URL',
    flag: 'nats-url',
    default: 'nats://127.0.0.1:4222',
  }),
  port: setting.port('admin port', { env: 'ADMIN_PORT', flag: 'admin-port', default: 9090 }),
  mode: setting.oneOf('mode', ['sotw', 'delta'], { flag: 'mode', default: 'delta' }),
  token: setting.string('join token', { env: 'JOIN_TOKEN' }),
  bake: setting.duration('bake time', { flag: 'bake', default: 0 }),
};

describe('config', () => {
  it('given flags, env and defaults: a flag wins over env, env over the default', () => {
    const cfg = loadConfig('svc', spec, {
      argv: ['--admin-port', '9100', '--bake=2m'],
      env: { ADMIN_PORT: '9200', JOIN_TOKEN: 't0k', NATS_URL: 'tls://nats.internal:4222' },
    });
    assert.deepEqual(cfg, {
      natsUrl: 'tls://nats.internal:4222',
      port: 9100,
      mode: 'delta',
      token: 't0k',
      bake: 120_000,
    });
  });

  it('reports every bad value at once, naming the flag and variable and what is expected', () => {
    assert.throws(
      () =>
        loadConfig('svc', spec, {
          argv: ['--admin-port', '70000', '--mode', 'push', '--colour', 'red'],
          env: { NATS_URL: 'http://x' },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.message;
        assert.match(text, /--colour: unknown flag/);
        assert.match(text, /--nats-url \/ NATS_URL: "http:\/\/x" must start with nats: or tls:/);
        assert.match(
          text,
          /--admin-port \/ ADMIN_PORT: expected a number from 0 to 65535, got 70000/,
        );
        assert.match(text, /--mode: expected one of sotw, delta, got "push"/);
        assert.match(text, /JOIN_TOKEN: is required: join token/);
        assert.equal(err.issues.length, 5);
        return true;
      },
    );
  });

  it('parses durations and rejects malformed ones', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.throws(() => parseDuration('5 minutes'), /expected a duration such as 500ms/);
  });
});
