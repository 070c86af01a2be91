/**
 * Files of this package found at run time (worker scripts), relative to the compiled `src/`
 * folder (dist/src/). This module sits at that folder's top, and so does the bundle that
 * `npm run build` writes (dist/src/rmad.js), so the same paths hold in both.
 */
export function packageFile(pathFromSrc: string): URL {
  return new URL(pathFromSrc, import.meta.url);
}
