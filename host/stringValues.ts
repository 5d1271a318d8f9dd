/**
 * A repeated query key's or header's values as the Functions host passes them to the worker:
 * `StringValues.ToString()` (GrpcMessageConversionExtensions.ToRpcHttp, `pair.Value.ToString()`
 * for query and headers), which joins with "," and skips null and empty values
 * (dotnet/runtime src/libraries/Microsoft.Extensions.Primitives/src/StringValues.cs,
 * GetJoinedStringValueFromArray: "// Skip null and empty values"). So `?status=&status=active`
 * arrives as "active", and `?status=&status=` as "".
 */
export function joinStringValues(values: readonly string[]): string {
  return values.filter((value) => value !== '').join(',');
}
