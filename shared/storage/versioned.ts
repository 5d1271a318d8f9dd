/** A stored value with the ETag it was read at, for conditional writes. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

/** Thrown by a conditional write whose ETag no longer matches: re-read and try again. */
export class ConcurrentUpdateError extends Error {
  constructor() {
    super('the record changed since it was read');
    this.name = 'ConcurrentUpdateError';
  }
}

/** Thrown by an insert whose key is taken. */
export class AlreadyExistsError extends Error {
  constructor() {
    super('the record already exists');
    this.name = 'AlreadyExistsError';
  }
}
