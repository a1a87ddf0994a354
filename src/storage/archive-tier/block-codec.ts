/**
 * Compression of one block of an archived segment with node:zlib (docs/FORMAT.md, "Archive
 * tier"). The archive default is brotli quality 1: bench/archive.bench.ts measured it the
 * fastest to compress and among the fastest to decompress, at a ratio near deflate 6's
 * (docs/ARCHIVER.md, "Choice of compression"). Every block is
 * compressed on its own, so any block decompresses without the others; decompression is
 * capped at the block's recorded length (a damaged or hostile block cannot make it allocate
 * more).
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { Compression } from './tier-layout.js';

/** zlib level for deflate and gzip (1..9), brotli quality (0..11); undefined = the codec's default for archives. */
export function compressBlock(c: Compression, src: Buffer, level?: number): Buffer {
  switch (c) {
    case Compression.NONE:
      return src;
    case Compression.DEFLATE:
      return deflateRawSync(src, { level: level ?? 6 });
    case Compression.GZIP:
      return gzipSync(src, { level: level ?? 6 });
    case Compression.BROTLI:
      return brotliCompressSync(src, {
        params: { [constants.BROTLI_PARAM_QUALITY]: level ?? 1, [constants.BROTLI_PARAM_SIZE_HINT]: src.length },
      });
    default:
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `unknown compression ${String(c)}`);
  }
}

export function decompressBlock(c: Compression, src: Buffer, length: number, where: string): Buffer {
  let out: Buffer;
  try {
    switch (c) {
      case Compression.NONE:
        out = src;
        break;
      case Compression.DEFLATE:
        out = inflateRawSync(src, { maxOutputLength: length });
        break;
      case Compression.GZIP:
        out = gunzipSync(src, { maxOutputLength: length });
        break;
      case Compression.BROTLI:
        out = brotliDecompressSync(src, { maxOutputLength: length });
        break;
      default:
        throw new Error(`unknown compression ${String(c)}`);
    }
  } catch (err) {
    throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${where}: block does not decompress: ${(err as Error).message}`);
  }
  if (out.length !== length) throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${where}: block holds ${out.length} bytes, index says ${length}`);
  return out;
}
