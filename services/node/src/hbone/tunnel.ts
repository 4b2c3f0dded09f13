import type { Duplex } from 'node:stream';

/**
 * Join two duplex streams both ways. Half-close is forwarded (end → end); an error, a reset or
 * an abort on either side destroys both. Resolves when both are closed.
 */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    const onClose = (self: Duplex, other: Duplex) => () => {
      // Closed without a clean end of its readable side: a reset, not a half-close.
      if (!self.readableEnded) other.destroy();
      if (++closed === 2) resolve();
    };
    a.pipe(b);
    b.pipe(a);
    a.once('error', () => b.destroy());
    b.once('error', () => a.destroy());
    a.once('close', onClose(a, b));
    b.once('close', onClose(b, a));
  });
}
