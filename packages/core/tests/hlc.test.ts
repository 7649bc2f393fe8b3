import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HybridLogicalClock, compareHlc } from '@nexus-store/core';

describe('HybridLogicalClock', () => {
  it('ticks strictly increase even when the wall clock stands still or goes back', () => {
    let now = 1000;
    const clock = new HybridLogicalClock('n1', () => now);
    const a = clock.tick();
    const b = clock.tick();
    now = 500;
    const c = clock.tick();
    expect(compareHlc(a, b)).toBe(-1);
    expect(compareHlc(b, c)).toBe(-1);
  });

  it('receive moves the clock past a remote timestamp from a faster device', () => {
    const slow = new HybridLogicalClock('slow', () => 1000);
    const fast = new HybridLogicalClock('fast', () => 9_000_000);
    const remote = fast.tick();
    slow.receive(remote);
    expect(compareHlc(slow.tick(), remote)).toBe(1);
  });

  it('property: for any interleaving of ticks and receives, every tick exceeds everything seen before', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 60 }), (steps) => {
        let nowA = 0;
        let nowB = 0;
        const a = new HybridLogicalClock('a', () => nowA);
        const b = new HybridLogicalClock('b', () => nowB);
        let maxSeen = '';
        for (const [toA, wallA, wallB] of steps) {
          nowA = wallA;
          nowB = wallB;
          const sender = toA ? b : a;
          const receiver = toA ? a : b;
          const sent = sender.tick();
          if (compareHlc(sent, maxSeen) > 0) maxSeen = sent;
          receiver.receive(sent);
          const next = receiver.tick();
          expect(compareHlc(next, sent)).toBe(1);
        }
      }),
    );
  });
});
