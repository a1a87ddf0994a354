/**
 * Reads an archived segment file (docs/FORMAT.md, "Archive tier"): header and block index at
 * open (checksummed), then any block on its own by index (`readBlock`), its CRC checked before
 * it is decompressed. `blockAt(offset)` finds the block holding a segment offset, so a read can
 * start anywhere without decompressing what comes before. `thawInto(fd)` writes every block at
 * its segment offset into a file (a local scratch copy), a block at a time.
 *
 * Memory: the header and index, plus one compressed and one decompressed block at a time.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32c } from '../../util/crc32c.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { storageError } from '../io-errors.js';
import { decompressBlock } from './block-codec.js';
import { HEADER_LENGTH, archivedIndexLength, decodeArchivedHeader, type ArchivedHeader } from './tier-layout.js';

export class ArchivedFile {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly size: number,
    readonly header: ArchivedHeader,
  ) {}

  /** Opens and checks header and index; SEGMENT_MISSING when the file is not there, CORRUPT_SEGMENT when damaged. */
  static open(path: string): ArchivedFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new VcrError(ErrorCode.SEGMENT_MISSING, `archived copy ${path} is missing`);
      }
      throw storageError(err, `cannot open ${path}`);
    }
    try {
      const size = fstatSync(fd).size;
      const first = Buffer.alloc(Math.min(size, HEADER_LENGTH));
      readFully(fd, first, 0);
      const indexLength = archivedIndexLength(first, path);
      const all = Buffer.alloc(Math.min(size, HEADER_LENGTH + indexLength));
      readFully(fd, all, 0);
      return new ArchivedFile(path, fd, size, decodeArchivedHeader(all, path, size));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get blockCount(): number {
    return this.header.blocks.length;
  }

  /** Index of the block holding segment offset `offset`, -1 past the stored data (zeros). */
  blockAt(offset: number): number {
    const blocks = this.header.blocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = blocks[mid]!;
      if (offset < b.segmentOffset) hi = mid - 1;
      else if (offset >= b.segmentOffset + b.length) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** The decompressed bytes of block `i` (CRC of the stored bytes checked first). */
  readBlock(i: number): Buffer {
    const b = this.header.blocks[i];
    if (!b) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${this.path} has no block ${i}`);
    const packed = Buffer.alloc(b.compressedLength);
    try {
      readFully(this.fd, packed, b.fileOffset);
    } catch (err) {
      throw storageError(err, `cannot read ${this.path}`);
    }
    if (crc32c(packed, 0, packed.length) !== b.crc32c) {
      throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${this.path}, block ${i} (segment offset ${b.segmentOffset}): CRC32C mismatch`);
    }
    return decompressBlock(this.header.compression, packed, b.length, `${this.path}, block ${i}`);
  }

  /** Writes every block at its segment offset into `fd` (the rest stays as it is: zeros in a new file). */
  thawInto(fd: number): void {
    for (let i = 0; i < this.blockCount; i++) {
      const data = this.readBlock(i);
      const at = this.header.blocks[i]!.segmentOffset;
      for (let done = 0; done < data.length; ) {
        const n = writeSync(fd, data, done, data.length - done, at + done);
        if (n <= 0) throw Object.assign(new Error('No space left on device (short write)'), { code: 'ENOSPC' });
        done += n;
      }
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

function readFully(fd: number, buf: Buffer, at: number): void {
  for (let done = 0; done < buf.length; ) {
    const n = readSync(fd, buf, done, buf.length - done, at + done);
    if (n <= 0) throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `file ends before byte ${at + buf.length}`);
    done += n;
  }
}
