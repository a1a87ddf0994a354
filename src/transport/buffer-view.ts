/**
 * A Buffer view of bytes inside an ArrayBuffer, made the cheap way. `buf.subarray()` and
 * `Buffer.from(arrayBuffer, offset, length)` go through argument checks and the species
 * lookup; on the streamed-replay hot path (one view per event payload) they cost 2-3 times
 * more than constructing a Uint8Array subclass directly. ViewBuffer is such a subclass with
 * Buffer.prototype in its chain, which is what Node's own FastBuffer is: `Buffer.isBuffer`
 * and `instanceof Buffer` hold and every Buffer method works (only `constructor` differs).
 */
class ViewBuffer extends Uint8Array {}
Object.setPrototypeOf(ViewBuffer.prototype, Buffer.prototype);

/** `length` bytes of `buffer`'s memory from `offset` (relative to `buffer`), as a Buffer; no copy. */
export function bufferView(buffer: Buffer, offset: number, length: number): Buffer {
  return new ViewBuffer(buffer.buffer as ArrayBuffer, buffer.byteOffset + offset, length) as unknown as Buffer;
}
