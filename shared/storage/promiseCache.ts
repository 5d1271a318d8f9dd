/**
 * Returns the promise cached under `key`, creating it on first use. A promise that fails is
 * dropped from the cache, so the next caller tries again instead of inheriting the failure
 * (a table that could not be created while the store was down must not stay unusable).
 */
export function cachedUntilFailure<K, V>(cache: Map<K, Promise<V>>, key: K, create: () => Promise<V>): Promise<V> {
  let value = cache.get(key);
  if (!value) {
    value = create();
    cache.set(key, value);
    value.catch(() => {
      if (cache.get(key) === value) cache.delete(key);
    });
  }
  return value;
}
