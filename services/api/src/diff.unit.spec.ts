import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { yamlDiff } from './diff.js';

describe('yamlDiff', () => {
  it('shows only the changed lines, independent of key order', () => {
    const before = {
      spec: {
        rules: [
          {
            backendRefs: [
              { name: 'v1', weight: 90 },
              { name: 'v2', weight: 10 },
            ],
          },
        ],
      },
      kind: 'HTTPRoute',
    };
    const after = {
      kind: 'HTTPRoute',
      spec: {
        rules: [
          {
            backendRefs: [
              { name: 'v1', weight: 50 },
              { name: 'v2', weight: 50 },
            ],
          },
        ],
      },
    };
    assert.equal(
      yamlDiff(before, after),
      [
        '-           weight: 90',
        '+           weight: 50',
        '-           weight: 10',
        '+           weight: 50',
      ].join('\n'),
    );
  });
  it('is empty for equal objects and all additions for a new one', () => {
    assert.equal(yamlDiff({ a: 1, b: 2 }, { b: 2, a: 1 }), '');
    assert.equal(yamlDiff(undefined, { a: 1 }), '+ a: 1');
  });
});
