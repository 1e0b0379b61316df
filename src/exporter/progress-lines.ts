import { normalizeTagReference } from '../images/reference.js';

/**
 * BuildKit's last lines under `exporting to image` once the image is stored: `writing image ID`,
 * then `naming to NAME` for each name it got (normalized, each once).
 */
export function storedImageLines(imageId: string, names: readonly string[]): string[] {
  return [`writing image ${imageId}`, ...new Set(names.map((n) => normalizeTagReference(n)))].map((l, i) => (i ? `naming to ${l}` : l));
}
