// ObjectRef<T>: a handle to an immutable value in the cluster, addressed by id.

export class ObjectRef<T> {
  /** Phantom field: carries T through the type system only. */
  declare readonly __value?: T;
  constructor(readonly id: string) {}
  toString(): string {
    return `ObjectRef(${this.id})`;
  }
}
