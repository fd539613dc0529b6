// Runs async tasks one at a time, in call order: every read-modify-write of the DMS files
// happens under it, so two SCIM requests never interleave their edits.
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => task());
    this.tail = result.catch(() => undefined);
    return result;
  }
}
