/* pow.js: the small proof of work the server asks for when many answers arrive at
   once (survey_engine/intake/proof_of_work.py checks it). Finds a counter such that
   SHA-256(challenge + ":" + counter) starts with `bits` zero bits, in slices of a few
   milliseconds so the page stays responsive. SHA-256 is written out here: crypto.subtle
   exists only on https or localhost, and one promise per hash would be slower than
   this (the challenge's whole 64-byte blocks are hashed once, then only the tail).
   Nothing is loaded from elsewhere. Plain ES2017: window.SurveyPow.solve(). */
(function () {
  'use strict';
  const K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const W = new Int32Array(64);

  // One 64-byte block (16 big-endian words of m from offset o) into the state h.
  function block(h, m, o) {
    for (let i = 0; i < 16; i++) W[i] = m[o + i];
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15], b = W[i - 2];
      const s0 = (a >>> 7 | a << 25) ^ (a >>> 18 | a << 14) ^ (a >>> 3);
      const s1 = (b >>> 17 | b << 15) ^ (b >>> 19 | b << 13) ^ (b >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const t1 = (k + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
        ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const t2 = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }

  const bytesOf = s => new TextEncoder().encode(s);  // the challenge is ASCII anyway

  // A hasher of prefix + tail: the prefix's whole blocks once, then per tail only the rest.
  function hasher(prefix) {
    const p = bytesOf(prefix), whole = p.length - p.length % 64, mid = IV.slice();
    const words = new Int32Array(16);
    for (let o = 0; o < whole; o += 64) {
      for (let i = 0; i < 16; i++) words[i] = p[o + 4 * i] << 24 | p[o + 4 * i + 1] << 16 | p[o + 4 * i + 2] << 8 | p[o + 4 * i + 3];
      block(mid, words, 0);
    }
    const rest = p.subarray(whole), buf = new Uint8Array(128), m = new Int32Array(32), h = new Int32Array(8);
    buf.set(rest);
    return tail => {  // the first word of SHA-256(prefix + tail); tail is ASCII
      let n = rest.length;
      for (let i = 0; i < tail.length; i++) buf[n++] = tail.charCodeAt(i);
      const bits = (p.length + tail.length) * 8, end = n + 9 <= 64 ? 64 : 128;
      buf[n] = 0x80;
      buf.fill(0, n + 1, end);
      buf[end - 4] = bits >>> 24; buf[end - 3] = bits >>> 16; buf[end - 2] = bits >>> 8; buf[end - 1] = bits;
      for (let i = 0; i < end / 4; i++) m[i] = buf[4 * i] << 24 | buf[4 * i + 1] << 16 | buf[4 * i + 2] << 8 | buf[4 * i + 3];
      h.set(mid);
      block(h, m, 0);
      if (end === 128) block(h, m, 16);
      return h;
    };
  }

  // The hex digest of any string (UTF-8): for checking this against known values.
  function sha256hex(text) {
    const h = hasher(text)('');
    return Array.from(h, x => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }

  // Resolves with the counter (a decimal string); onProgress(tries) after each slice.
  function solve(challenge, bits, onProgress) {
    const hash = hasher(challenge + ':'), shift = 32 - bits;
    const good = h => (h[0] >>> shift) === 0;  // bits: 1..32 (config.py)
    let counter = 0;
    return new Promise(resolve => {
      function slice() {
        const until = Date.now() + 40;
        do {
          for (let i = 0; i < 2000; i++, counter++) {
            if (good(hash(String(counter)))) return resolve(String(counter));
          }
        } while (Date.now() < until);
        if (onProgress) onProgress(counter);
        setTimeout(slice, 0);
      }
      slice();
    });
  }

  window.SurveyPow = { solve, sha256hex };
})();
