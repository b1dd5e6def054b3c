'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const MAX = 256 * 1024 * 1024; // domains in tests stay small

/** a fresh temporary directory, removed at exit */
function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eve-node-'));
  if (t && t.after) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** a deterministic PRNG (mulberry32) */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { MAX, tmpdir, rng };
