/**
 * Entry point of the capture-file readers: `openCapture(path)` sniffs the magic number and returns a
 * streaming pcap or pcapng reader. See CaptureReader for the batch protocol.
 */
import { ChunkSource, DEFAULT_CHUNK } from './capture-source.js';
import { CaptureError, type CaptureReader, type CaptureReaderOptions } from './capture-types.js';
import { hex8, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PcapReader } from './pcap-reader.js';
import { PCAPNG_SHB, PcapngReader } from './pcapng-reader.js';

export { CaptureBatch, recordComment, recordTimeMs } from './capture-batch.js';
export { CaptureError } from './capture-types.js';
export type { CaptureInterface, CaptureReader, CaptureReaderOptions } from './capture-types.js';

/** Link types the device understands (readers only report them). */
export {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
} from '../wire/packet.js';

/**
 * Opens a pcap (magic a1b2c3d4 or a1b23c4d, either byte order) or pcapng (0a0d0d0a) file.
 * Throws CaptureError (with the byte offset) for an unknown format or a bad file/section header;
 * errors in the records themselves are reported through `reader.error` instead.
 */
export function openCapture(path: string, opts: CaptureReaderOptions = {}): CaptureReader {
  const src = new ChunkSource(path, opts.chunkSize ?? DEFAULT_CHUNK);
  try {
    if (!src.fill(4)) {
      throw new CaptureError(`file too short for a capture header (${src.avail} bytes)`, 0, path);
    }
    const magic = src.view.getUint32(src.pos, false);
    if (magic === PCAPNG_SHB) return new PcapngReader(src);
    const swapped = src.view.getUint32(src.pos, true);
    if (
      magic === PCAP_MAGIC_USEC ||
      magic === PCAP_MAGIC_NSEC ||
      swapped === PCAP_MAGIC_USEC ||
      swapped === PCAP_MAGIC_NSEC
    ) {
      return new PcapReader(src);
    }
    throw new CaptureError(`unknown file format: magic 0x${hex8(magic)} is neither pcap nor pcapng`, 0, path);
  } catch (e) {
    src.close();
    throw e;
  }
}
