import { decodePathSegment } from './routes.js';

/**
 * The request path as Kestrel hands it to the Functions host: percent-decoded (except `%2F`),
 * then with its dot segments removed (RFC 3986 5.2.4). dotnet/aspnetcore
 * src/Servers/Kestrel/Core/src/Internal/Http/PathDecoder.cs (commit 02fbb9c): `DecodePath`
 * runs `UrlDecoder.DecodeInPlace(path, isFormEncoding: false)`, then
 * `PathNormalizer.RemoveDotSegments(path.Slice(0, pathLength))` ("Removing dot segments must be
 * done after unescaping"). So `/api/nothing/../health`, `/api/./health` and
 * `/api/%2E%2E/api/health` all reach the health route.
 *
 * Works on the raw path segment by segment: a segment that decodes to `.` or `..` is removed
 * (with the one before it, for `..`, never above the root); every other segment is kept as
 * sent, so later decoding (routes.ts) sees the same escapes. A final `.` or `..` leaves the
 * path ending in `/`, as RFC 3986's algorithm does.
 */
export function removeDotSegments(rawPath: string): string {
  if (!/(^|\/)(\.|%2[Ee])/.test(rawPath)) return rawPath;
  const segments = rawPath.split('/').slice(1);
  const output: string[] = [];
  segments.forEach((segment, index) => {
    const decoded = decodePathSegment(segment);
    const last = index === segments.length - 1;
    if (decoded === '.' || decoded === '..') {
      if (decoded === '..') output.pop();
      if (last) output.push('');
      return;
    }
    output.push(segment);
  });
  return `/${output.join('/')}`;
}
