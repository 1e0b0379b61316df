import { randomBytes } from 'node:crypto';

/**
 * The file inside benchmark layer `i`: `bytes` long, half random (incompressible) and half
 * repetitive text (compressible), so gzip has real work on one half and little on the other.
 */
export function layerBody(i: number, bytes: number): Buffer {
  const half = Math.floor(bytes / 2);
  const line = `layer ${i} line of fairly compressible text for the benchmark\n`;
  const text = Buffer.from(line.repeat(Math.ceil((bytes - half) / line.length))).subarray(0, bytes - half);
  return Buffer.concat([randomBytes(half), text]);
}
